"""/v1/organisations and /v1/projects."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request

from hexagone.api.deps import UC, IdemKey, PageQ, page_body
from hexagone.api.idempotency import run_create
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import OrgIn, OrgPatch, ProjectIn, ProjectPatch, org_out, project_out
from hexagone.api.schemas.identity import OrgOut, OrgPage, ProjectOut, ProjectPage
from hexagone.identity import orgs

router = new_router("/v1", "organisations")


@endpoint(router, "POST", "/organisations", permission="org.create", status_code=201, response_model=OrgOut)
def create_org(body: OrgIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Create a reseller or customer organisation under ``parent_id``."""
    data = body.model_dump(exclude={"parent_id", "kind"})
    if body.residency is not None:
        data["residency"] = body.residency.model_dump()
    return run_create(uc, idem, "POST", request.url.path, body,
                      lambda: org_out(orgs.create_org(uc, body.parent_id, body.kind, data)))


@endpoint(router, "GET", "/organisations", permission="org.read", response_model=OrgPage)
def list_orgs(
    uc: UC, page: PageQ,
    kind: Annotated[Literal["operator", "reseller", "customer"] | None, Query()] = None,
    parent_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    items, cursor = orgs.list_orgs(uc, page.limit, page.cursor, {"kind": kind, "parent_id": parent_id, "name": name})
    return page_body([org_out(o) for o in items], cursor)


@endpoint(router, "GET", "/organisations/{org_id}", permission="org.read", response_model=OrgOut)
def get_org(org_id: str, uc: UC) -> dict[str, Any]:
    return org_out(orgs.get_org(uc, org_id))


@endpoint(router, "PATCH", "/organisations/{org_id}", permission="org.update", response_model=OrgOut)
def update_org(org_id: str, body: OrgPatch, uc: UC) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return org_out(orgs.update_org(uc, org_id, changes))


@endpoint(router, "DELETE", "/organisations/{org_id}", permission="org.delete", status_code=204)
def delete_org(org_id: str, uc: UC) -> None:
    orgs.delete_org(uc, org_id)


@endpoint(router, "POST", "/projects", permission="project.create", status_code=201,
          response_model=ProjectOut)
def create_project(body: ProjectIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    return run_create(uc, idem, "POST", request.url.path, body,
                      lambda: project_out(orgs.create_project(uc, body.org_id, body.name, body.description)))


@endpoint(router, "GET", "/projects", permission="project.read", response_model=ProjectPage)
def list_projects(
    uc: UC, page: PageQ,
    org_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    items, cursor = orgs.list_projects(uc, page.limit, page.cursor, {"org_id": org_id, "name": name})
    return page_body([project_out(p) for p in items], cursor)


@endpoint(router, "GET", "/projects/{project_id}", permission="project.read", response_model=ProjectOut)
def get_project(project_id: str, uc: UC) -> dict[str, Any]:
    return project_out(orgs.get_project(uc, project_id))


@endpoint(router, "PATCH", "/projects/{project_id}", permission="project.update", response_model=ProjectOut)
def update_project(project_id: str, body: ProjectPatch, uc: UC) -> dict[str, Any]:
    return project_out(orgs.update_project(uc, project_id, body.model_dump(exclude_unset=True)))


@endpoint(router, "DELETE", "/projects/{project_id}", permission="project.delete", status_code=204)
def delete_project(project_id: str, uc: UC) -> None:
    orgs.delete_project(uc, project_id)
