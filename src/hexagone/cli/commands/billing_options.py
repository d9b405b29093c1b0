"""Options and look-ups shared by the ``hexagone billing`` commands (``billing.py``, ``billing_accounts.py``)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(value: str | None) -> str | None:
    if value is not None and not MONTH_RE.match(value):
        raise typer.BadParameter(f"'{value}' is not a month: give YYYY-MM, e.g. 2026-11.")
    return value


def org_or_own(api: ApiClient, org: str | None) -> str:
    """``--org`` (name or id) as an id; the caller's own organisation when not given."""
    return resolve.org_id(api, org) if org else resolve.own_org_id(api)


def region_names(api: ApiClient) -> dict[str, str]:
    """Region id -> name, for tables (billing answers carry region ids)."""
    body = api.get("/v1/regions", limit=1000)
    return {str(r["id"]): str(r["name"]) for r in body.get("items") or []}


def org_names(api: ApiClient) -> dict[str, str]:
    """Organisation id -> name for the organisations the caller sees (the others stay ids)."""
    body = api.get("/v1/organisations", limit=1000)
    return {str(o["id"]): str(o["name"]) for o in body.get("items") or []}


Month = Annotated[str | None, typer.Option("--month", callback=check_month, help="YYYY-MM (UTC; default: this month).")]
OrgOpt = Annotated[str | None, typer.Option("--org", help="Organisation (name or id; default: yours).")]
