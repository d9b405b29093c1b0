"""``hexagone user``: users of organisations, and your own password."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from hexagone.cli import config, resolve
from hexagone.cli.commands import totp
from hexagone.cli.options import (
    All,
    Cursor,
    Limit,
    Output,
    PasswordStdin,
    Role,
    new_password,
    prompt_secret,
    read_secret_line,
    show_list,
)
from hexagone.cli.output import USAGE, CliError, note, print_record, say
from hexagone.cli.session import client, output_format, profile_name

app = typer.Typer(no_args_is_help=True, help="Users, their second factor and passwords.")
app.add_typer(totp.app, name="totp")

COLUMNS = ("id", "name", "org_id", "email", "enabled", "totp_enabled", "locked")
UserRef = Annotated[str, typer.Argument(help="Login name or user id.")]


@app.command("list")
def list_(
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's users.")] = None,
    name: Annotated[str | None, typer.Option(help="Only the user with this login name.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Users you can see."""
    api = client()
    params = {"org_id": resolve.org_id(api, org) if org else None, "name": name}
    show_list(
        api,
        "/v1/users",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No user matches.",
    )


@app.command()
def show(user: UserRef, output: Output = None) -> None:
    """One user."""
    api = client()
    print_record(api.get(f"/v1/users/{resolve.user_id(api, user)}"), output_format(output))


@app.command()
def create(
    org: Annotated[str, typer.Option("--org", help="The user's organisation (name or id).")],
    name: Annotated[str, typer.Option("--name", help="Login name (letters, digits, . _ @ + -).")],
    email: Annotated[str, typer.Option("--email", help="E-mail address.")] = "",
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="Role on the organisation (repeat).")
    ] = None,
    password_stdin: PasswordStdin = False,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate a password and print it once.")
    ] = False,
    output: Output = None,
) -> None:
    """Create a user, optionally with roles on its organisation; the password is prompted for."""
    if generate_password and password_stdin:
        raise CliError("Give --password-stdin or --generate-password, not both.", USAGE)
    password = secrets.token_urlsafe(18) if generate_password else new_password(password_stdin, "Password")
    api = client()
    user = api.post(
        "/v1/users",
        {
            "org_id": resolve.org_id(api, org),
            "name": name,
            "password": password,
            "email": email,
            "roles": [r.value for r in role or []],
        },
    )
    fmt = output_format(output)
    say(f"Created user '{user['name']}' ({user['id']}).", fmt)
    print_record(user, fmt)
    if generate_password:
        note(f"Password (shown once; pass it on safely): {password}")


@app.command()
def update(
    user: UserRef,
    email: Annotated[str | None, typer.Option("--email", help="New e-mail address.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Allow or forbid logging in.")
    ] = None,
    reset_password: Annotated[
        bool,
        typer.Option(
            "--reset-password", help="Set a new password (prompted, or --password-stdin); revokes its tokens."
        ),
    ] = False,
    password_stdin: PasswordStdin = False,
    output: Output = None,
) -> None:
    """Change a user's e-mail, enable or disable it, or reset its password."""
    body: dict[str, object] = {}
    if email is not None:
        body["email"] = email
    if enabled is not None:
        body["enabled"] = enabled
    if reset_password or password_stdin:
        body["password"] = new_password(password_stdin)
    if not body:
        raise typer.BadParameter("Give at least one of --email, --enable/--disable, --reset-password.")
    api = client()
    updated = api.patch(f"/v1/users/{resolve.user_id(api, user)}", body)
    fmt = output_format(output)
    say(f"Updated user '{updated['name']}'.", fmt)
    print_record(updated, fmt)


@app.command()
def unlock(user: UserRef, output: Output = None) -> None:
    """Unlock a user locked out by repeated failed logins."""
    api = client()
    updated = api.patch(f"/v1/users/{resolve.user_id(api, user)}", {"unlock": True})
    fmt = output_format(output)
    say(f"Unlocked user '{updated['name']}'.", fmt)
    if fmt == "json":
        print_record(updated, fmt)


@app.command()
def delete(
    user: UserRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Delete a user; its tokens and API keys stop working."""
    api = client()
    uid = resolve.user_id(api, user)
    if not yes:
        typer.confirm(f"Delete user {user}?", abort=True)
    api.delete(f"/v1/users/{uid}")
    say(f"Deleted user {user}.", output_format(output))


@app.command()
def password(
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the current then the new password, one per line, from standard input.",
        ),
    ] = False,
    output: Output = None,
) -> None:
    """Change your own password; every token of yours is revoked, so log in again afterwards."""
    if password_stdin:
        current, new = read_secret_line("current password"), read_secret_line("new password")
    else:
        current = prompt_secret("Current password")
        new = new_password(False)
    client().post("/v1/auth/password", {"current_password": current, "new_password": new})
    name = profile_name()
    config.delete_token(name)
    say(
        "Password changed; your tokens are revoked. Log in again: run `hexagone login`.",
        output_format(output),
    )
