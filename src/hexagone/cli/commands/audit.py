"""``hexagone audit``: read, export and verify the hash-chained audit trail."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient
from hexagone.cli.options import All, Cursor, Limit, Output, show_list
from hexagone.cli.output import INTEGRITY, CliError, note, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="The audit trail of every login and every change.")

COLUMNS = ("seq", "at", "actor_name", "action", "resource_type", "resource_id", "result")
OrgOpt = Annotated[str | None, typer.Option("--org", help="Only records about this organisation's subtree.")]
ActionOpt = Annotated[str | None, typer.Option("--action", help="Only this action, e.g. org.create.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Only what this user (name or id) did.")]
ResourceOpt = Annotated[str | None, typer.Option("--resource", help="Only records about this resource id.")]
ResultOpt = Annotated[str | None, typer.Option("--result", help="success, failure or mfa_required.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From this instant, e.g. 2026-03-01T00:00:00Z.")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Before this instant.")]


def _filters(
    api: ApiClient,
    org: str | None,
    action: str | None,
    actor: str | None,
    resource: str | None,
    result: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    return {
        "org_id": resolve.org_id(api, org) if org else None,
        "actor_user_id": resolve.user_id(api, actor) if actor else None,
        "action": action,
        "resource_id": resource,
        "result": result,
        "since": since,
        "until": until,
    }


@app.command("list")
def list_(
    org: OrgOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    resource: ResourceOpt = None,
    result: ResultOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Records touching your organisation's subtree, oldest first."""
    api = client()
    show_list(
        api,
        "/v1/audit/events",
        _filters(api, org, action, actor, resource, result, since, until),
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No audit record matches.",
    )


@app.command()
def export(
    format_: Annotated[Literal["jsonl", "csv"], typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output_file: Annotated[
        Path | None, typer.Option("--output-file", help="Write here (mode 0600) instead of standard output.")
    ] = None,
    org: OrgOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    resource: ResourceOpt = None,
    result: ResultOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Your whole visible trail as JSON lines or CSV; each record carries its hash links."""
    api = client()
    params = {"format": format_, **_filters(api, org, action, actor, resource, result, since, until)}
    text = api.send("GET", "/v1/audit/export", params=params).text
    if output_file is None:
        sys.stdout.write(text)
        return
    fd = os.open(output_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    size = f"{text.count(chr(10))} records" if format_ == "jsonl" else f"{len(text)} bytes"
    note(f"Wrote the audit export ({size}) to {output_file}.")


@app.command()
def verify(output: Output = None) -> None:
    """Check the whole hash chain (operator only); exits 11 and names the first bad record if it is broken."""
    body = client().get("/v1/audit/verify")
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
    if body.get("ok"):
        say(f"The audit trail is intact: {body.get('checked')} records checked.", fmt)
        return
    raise CliError(
        f"The audit trail is broken at record {body.get('first_bad_seq')}: {body.get('reason')} "
        f"({body.get('checked')} records before it are intact). Keep a copy of the database and of "
        "`hexagone audit export`, and find out who could write to the database.",
        INTEGRITY,
    )
