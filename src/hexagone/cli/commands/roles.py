"""``hexagone role``: grant and revoke roles on organisations and projects."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli import resolve
from hexagone.cli.options import All, Cursor, Limit, Output, Role, show_list
from hexagone.cli.output import NOT_FOUND, USAGE, CliError, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Role grants: who may do what, where.")

COLUMNS = ("id", "user_id", "role", "scope_type", "scope_id", "created_at")
OrgOpt = Annotated[str | None, typer.Option("--org", help="On this organisation and everything below it.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="On this project only.")]


@app.command()
def grant(
    user: Annotated[str, typer.Argument(help="Login name or user id.")],
    role: Annotated[Role, typer.Argument(help="owner, admin, member, reader or billing.")],
    org: OrgOpt = None,
    project: ProjectOpt = None,
    output: Output = None,
) -> None:
    """Give USER the ROLE on --org or --project."""
    api = client()
    scope_type, scope_id = resolve.scope(api, org, project)
    body = {
        "user_id": resolve.user_id(api, user),
        "role": role.value,
        "scope_type": scope_type,
        "scope_id": scope_id,
    }
    granted = api.post("/v1/role-grants", body)
    fmt = output_format(output)
    say(f"Granted {role.value} on {scope_type} {org or project} to {user} (grant {granted['id']}).", fmt)
    if fmt == "json":
        print_record(granted, fmt)


@app.command()
def revoke(
    user: Annotated[str | None, typer.Argument(help="Login name or user id.")] = None,
    role: Annotated[Role | None, typer.Argument(help="The role to take back.")] = None,
    org: OrgOpt = None,
    project: ProjectOpt = None,
    grant_id: Annotated[
        str | None, typer.Option("--id", help="The grant's id (instead of USER ROLE --org).")
    ] = None,
    output: Output = None,
) -> None:
    """Take back a role: `role revoke USER ROLE --org ORG` or `role revoke --id GRANT_ID`."""
    api = client()
    if grant_id is None:
        if user is None or role is None:
            raise CliError("Give USER ROLE and --org or --project, or --id GRANT_ID.", USAGE)
        scope_type, scope_id = resolve.scope(api, org, project)
        grants = api.get("/v1/role-grants", user_id=resolve.user_id(api, user), scope_id=scope_id, limit=1000)
        matching = [g for g in grants["items"] if g["role"] == role.value and g["scope_type"] == scope_type]
        if not matching:
            raise CliError(
                f"{user} holds no {role.value} role on that {scope_type}: see `hexagone role list`.",
                NOT_FOUND,
            )
        grant_id = str(matching[0]["id"])
    api.delete(f"/v1/role-grants/{grant_id}")
    say(f"Revoked grant {grant_id}.", output_format(output))


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's grants.")] = None,
    org: OrgOpt = None,
    project: ProjectOpt = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Role grants you can see."""
    api = client()
    scope_id = resolve.scope(api, org, project)[1] if (org or project) else None
    params = {"user_id": resolve.user_id(api, user) if user else None, "scope_id": scope_id}
    show_list(
        api,
        "/v1/role-grants",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No role grant matches.",
    )
