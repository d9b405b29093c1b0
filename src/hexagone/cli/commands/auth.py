"""``hexagone login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from hexagone.cli import config
from hexagone.cli.client import ApiClient
from hexagone.cli.options import Output, PasswordStdin, prompt_secret, read_secret_line
from hexagone.cli.output import AUTH, USAGE, CliError, note, print_record, problem_code, say
from hexagone.cli.session import client, output_format, profile_name


def _password(stdin: bool) -> str:
    if stdin:
        return read_secret_line("password")
    from_env = os.environ.get("HEXAGONE_PASSWORD")
    if from_env:
        return from_env
    return prompt_secret("Password", env="HEXAGONE_PASSWORD")


def _login(api: ApiClient, body: dict[str, Any], totp_code: str | None) -> dict[str, Any]:
    """POST /v1/auth/login; on ``mfa-required`` ask for the code (or use ``--totp-code``) and retry once."""
    try:
        result: dict[str, Any] = api.post("/v1/auth/login", body)
        return result
    except CliError as err:
        if (
            problem_code(err.problem or {}) != "mfa-required"
            or "totp_code" in body
            or "recovery_code" in body
        ):
            raise
    code = totp_code or typer.prompt("Second factor (code from your authenticator app)")
    retried: dict[str, Any] = api.post("/v1/auth/login", {**body, "totp_code": code.strip()})
    return retried


def login(
    url: Annotated[str | None, typer.Argument(help="API address, e.g. https://api.cloud.example.")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u", help="Login name.")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: Annotated[
        str | None, typer.Option("--totp-code", help="Second-factor code, if asked.")
    ] = None,
    recovery_code: Annotated[
        str | None, typer.Option("--recovery-code", help="A recovery code instead of a TOTP code.")
    ] = None,
    output: Output = None,
) -> None:
    """Log in and keep the token in the profile (HEXAGONE_PASSWORD or --password-stdin avoid the prompt)."""
    cfg = config.load()
    name = profile_name()
    profile = cfg.profiles.get(name) or config.Profile(name)
    url = (url or profile.url).rstrip("/")
    username = username or profile.username
    if not url:
        raise CliError("Give the API address: `hexagone login URL --username NAME`.", USAGE)
    if not url.startswith(("http://", "https://")):
        raise CliError(
            f"The API address '{url}' must start with https:// (or http:// for a local test).", USAGE
        )
    if not username:
        raise CliError("Give your login name with --username.", USAGE)
    body: dict[str, Any] = {"username": username, "password": _password(password_stdin)}
    if recovery_code:
        body["recovery_code"] = recovery_code
    api = ApiClient(url)
    try:
        result = _login(api, body, totp_code)
    finally:
        api.close()
    config.write_token(
        name, result["token"], token_id=result.get("token_id"), expires_at=result.get("expires_at"), url=url
    )
    profile.url, profile.username = url, username
    cfg.profiles[name] = profile
    cfg.current = cfg.current or name
    config.save(cfg)
    fmt = output_format(output)
    for warning in result.get("warnings") or []:
        note(f"Warning: {warning}")
    public = {k: v for k, v in result.items() if k != "token"}
    if fmt == "json":
        print_record({**public, "profile": name, "url": url}, fmt)
        return
    say(
        f"Logged in to {url} as {result['user']['name']} (profile '{name}'; the token expires at "
        f"{result.get('expires_at')}).",
        fmt,
    )


def logout(output: Output = None) -> None:
    """Revoke the profile's token on the server and delete it from this machine."""
    name = profile_name()
    if config.read_token(name) is None:
        say(f"Not logged in on profile '{name}'; nothing to do.", output_format(output))
        return
    api = client()
    try:
        api.post("/v1/auth/logout")
    except CliError as err:
        if err.exit_code != AUTH:  # an expired token needs no revocation; anything else is worth saying
            config.delete_token(name)
            note("The local token was deleted, but the server could not revoke it: " + err.message)
            raise
    finally:
        api.close()
    config.delete_token(name)
    say(f"Logged out of profile '{name}'; the token is revoked and deleted.", output_format(output))


def whoami(output: Output = None) -> None:
    """Who the profile's token belongs to: user, organisation and roles."""
    fmt = output_format(output)
    me = client().get("/v1/auth/whoami")
    if fmt == "json":
        print_record(me, fmt)
        return
    org = me.get("organisation") or {}
    grants = [
        f"{g['role']} on {g['scope_type']} {g.get('scope_name') or g['scope_id']}" for g in me.get("grants") or []
    ]
    print_record(
        {
            "profile": profile_name(),
            "user": me["user"]["name"],
            "user_id": me["user"]["id"],
            "organisation": f"{org.get('name')} ({org.get('kind')})",
            "org_id": org.get("id"),
            "second_factor": me["user"].get("totp_enabled"),
            "roles": grants,
            "restricted": me.get("restricted"),
            "api_key_id": me.get("api_key_id"),
        },
        fmt,
    )
