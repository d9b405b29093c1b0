"""``hexagone apikey``: long-lived keys for scripts, scoped to an organisation or a project."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient
from hexagone.cli.options import All, Cursor, Limit, Output, Role, show_list
from hexagone.cli.output import NOT_FOUND, USAGE, CliError, note, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="API keys: credentials for scripts and tools.")

COLUMNS = ("id", "name", "prefix", "role", "scope_type", "scope_id", "expires_at", "revoked")


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[Role, typer.Option("--role", help="At most your own role on the scope.")] = Role.member,
    org: Annotated[str | None, typer.Option("--org", help="Scope: this organisation.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Scope: this project.")] = None,
    expires_at: Annotated[
        str | None,
        typer.Option("--expires-at", help="ISO 8601 date-time with a timezone, e.g. 2027-01-01T00:00:00Z."),
    ] = None,
    output: Output = None,
) -> None:
    """Create an API key; its secret is printed once and cannot be shown again."""
    api = client()
    scope_type, scope_id = resolve.scope(api, org, project)
    body = {
        "name": name,
        "role": role.value,
        "scope_type": scope_type,
        "scope_id": scope_id,
        "expires_at": expires_at,
    }
    key = api.post("/v1/api-keys", body)
    fmt = output_format(output)
    if fmt == "json":
        print_record(key, fmt)
        return
    print_record({k: v for k, v in key.items() if k != "secret"}, fmt)
    print(f"Secret: {key['secret']}")
    note("The secret is shown only this once: store it now (send it as 'Authorization: Bearer <secret>').")


@app.command("list")
def list_(limit: Limit = 100, cursor: Cursor = None, all_: All = False, output: Output = None) -> None:
    """Your API keys (administrators also see their organisations' keys)."""
    show_list(
        client(),
        "/v1/api-keys",
        {},
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No API key.",
    )


def _key_id(api: ApiClient, ref: str) -> str:
    if resolve.is_uuid(ref):
        return ref
    matching = [
        k
        for body in api.pages("/v1/api-keys", {}, 1000, None, True)
        for k in body["items"]
        if k["name"] == ref and not k["revoked"]
    ]
    if not matching:
        raise CliError(f"No active API key named '{ref}': check it with `hexagone apikey list`.", NOT_FOUND)
    if len(matching) > 1:
        raise CliError(
            f"Several API keys are named '{ref}': give the id (see `hexagone apikey list`).", USAGE
        )
    return str(matching[0]["id"])


@app.command()
def revoke(key: Annotated[str, typer.Argument(help="Key name or id.")], output: Output = None) -> None:
    """Revoke an API key at once."""
    api = client()
    api.delete(f"/v1/api-keys/{_key_id(api, key)}")
    say(f"Revoked API key {key}.", output_format(output))
