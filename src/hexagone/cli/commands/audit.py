"""``hexagone audit``: read, export and verify the hash-chained audit trail."""

from __future__ import annotations

import json
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
def anchor(
    output_file: Annotated[
        Path | None, typer.Option("--output-file", help="Write the anchor here (mode 0600) instead of standard output.")
    ] = None,
) -> None:
    """Record an audit.anchor event and export the new head (seq, hash, MAC), operator only. Keep the
    file outside this region (another machine, a ticket, a safe): `audit verify --anchor FILE` then
    detects a trail rewritten or cut back up to that point, even with recomputed hashes."""
    body = client().post("/v1/audit/anchor")
    text = json.dumps(body, indent=2, sort_keys=True) + "\n"
    if output_file is None:
        sys.stdout.write(text)
        return
    fd = os.open(output_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    note(f"Wrote the anchor of record {body.get('seq')} to {output_file}.")


def _read_anchor(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(
            f"Cannot read the anchor {path}: {exc}. Give a file written by `hexagone audit anchor`."
        ) from exc
    if not isinstance(doc, dict):
        raise CliError(f"{path} is not an audit anchor: give a file written by `hexagone audit anchor`.")
    return doc


@app.command()
def verify(
    anchor_file: Annotated[
        Path | None, typer.Option("--anchor", help="Also check the trail against this anchor (`audit anchor`).")
    ] = None,
    output: Output = None,
) -> None:
    """Check the whole hash chain (operator only); exits 11 and names the first bad record if it is broken."""
    api = client()
    body = api.post("/v1/audit/verify", _read_anchor(anchor_file)) if anchor_file else api.get("/v1/audit/verify")
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
    if body.get("ok"):
        against = f", consistent with the anchor of record {body['anchor']['seq']}" if body.get("anchor") else ""
        say(f"The audit trail is intact: {body.get('checked')} records checked{against}.", fmt)
        return
    raise CliError(
        f"The audit trail is broken at record {body.get('first_bad_seq')}: {body.get('reason')} "
        f"({body.get('checked')} records checked). Keep a copy of the database and of "
        "`hexagone audit export`, and find out who could write to the database.",
        INTEGRITY,
    )
