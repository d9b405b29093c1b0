"""The project an OpenStack request acts in: the scope of its token (Keystone semantics)."""

from __future__ import annotations

from hexagone.db.models import Project
from hexagone.errors import Unauthenticated
from hexagone.usecase import UseCase


def project_id(uc: UseCase) -> str:
    """The id of the project the request's token is scoped to. An API key scoped to one project
    counts as scoped to it; an unscoped token cannot use the project-scoped services (401)."""
    token = uc.extras.get("token")
    pid = token.project_id if token is not None else None
    principal = uc.require_principal()
    if token is None and principal.api_key_id and len(principal.grants) == 1:
        grant = principal.grants[0]
        pid = grant.scope_id if grant.scope_type == "project" else None
    if not pid or uc.session.get(Project, pid) is None:
        raise Unauthenticated(
            "This token is not scoped to a project: authenticate with a project scope "
            "(OS_PROJECT_NAME / OS_PROJECT_ID)."
        )
    return str(pid)
