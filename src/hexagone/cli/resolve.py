"""Names to ids: a UUID is used as given; anything else is looked up with the list's ``?name=`` filter.

A name nobody visible carries answers exactly like an unknown id (exit code 5), so the CLI never
tells one tenant more than the API does.
"""

from __future__ import annotations

import uuid
from typing import Any

from hexagone.cli.client import ApiClient
from hexagone.cli.output import NOT_FOUND, USAGE, CliError


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _by_name(api: ApiClient, path: str, what: str, name: str, list_cmd: str, **filters: Any) -> str:
    body = api.get(path, name=name, limit=2, **filters)
    items = body.get("items") or []
    if not items:
        raise CliError(
            f"No {what} named '{name}' is visible to you: check it with `hexagone {list_cmd}`.", NOT_FOUND
        )
    if len(items) > 1:
        raise CliError(
            f"Several {what}s are named '{name}': give the id instead (see `hexagone {list_cmd}`).", USAGE
        )
    return str(items[0]["id"])


def org_id(api: ApiClient, ref: str) -> str:
    return ref if is_uuid(ref) else _by_name(api, "/v1/organisations", "organisation", ref, "org list")


def project_id(api: ApiClient, ref: str, org: str | None = None) -> str:
    if is_uuid(ref):
        return ref
    filters = {"org_id": org_id(api, org)} if org else {}
    return _by_name(api, "/v1/projects", "project", ref, "project list", **filters)


def user_id(api: ApiClient, ref: str) -> str:
    return ref if is_uuid(ref) else _by_name(api, "/v1/users", "user", ref, "user list")


def own_org_id(api: ApiClient) -> str:
    me = api.get("/v1/auth/whoami")
    return str(me["organisation"]["id"])


def scope(api: ApiClient, org: str | None, project: str | None) -> tuple[str, str]:
    """``--org`` or ``--project`` (exactly one) as the API's (scope_type, scope_id)."""
    if bool(org) == bool(project):
        raise CliError("Give exactly one of --org and --project.", USAGE)
    if org:
        return "org", org_id(api, org)
    assert project is not None
    return "project", project_id(api, project)
