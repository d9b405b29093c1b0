"""``hexagone user totp``: enrol, confirm and disable your own second factor (TOTP, RFC 6238)."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli.options import Output
from hexagone.cli.output import print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Your second factor: a TOTP authenticator app.")

Code = Annotated[str, typer.Argument(help="The current 6-digit code (or, for disable, a recovery code).")]


@app.command()
def enrol(output: Output = None) -> None:
    """Start enrolment: prints the secret and the otpauth:// URI to add to an authenticator app."""
    body = client().post("/v1/auth/totp")
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
        return
    print(f"Secret:      {body['secret']}")
    print(f"otpauth URI: {body['otpauth_uri']}")
    print(
        "Add it to your authenticator app, then run `hexagone user totp confirm CODE` with the code it shows."
    )


@app.command()
def confirm(code: Code, output: Output = None) -> None:
    """Finish enrolment with a current code; prints ten single-use recovery codes, once."""
    body = client().post("/v1/auth/totp/confirm", {"code": code})
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
        return
    print("Second factor enabled. Recovery codes (single-use; store them safely, they are not shown again):")
    for recovery in body.get("recovery_codes") or []:
        print(f"  {recovery}")
    print("Log in again so your session carries the second factor: run `hexagone login`.")


@app.command()
def disable(code: Code, output: Output = None) -> None:
    """Remove your second factor (refused where your organisation or role requires one)."""
    client().post("/v1/auth/totp/disable", {"code": code})
    say("Second factor disabled.", output_format(output))
