"""Organisations (the operator → resellers → customers tree), projects, regions and zones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, false, or_, select
from sqlalchemy.exc import IntegrityError

from hexagone.authz.policy import Target, may_have_child, visible_scopes
from hexagone.db.models import Organisation, Project, Region, RoleGrant, User, Zone
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, InvalidInput, NotFound
from hexagone.identity.rules import gaps_sentence, issuing_gaps, legal_problems
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

ORG_FIELDS = ("name", "legal_name", "country", "vat_id", "siren", "siret", "address", "mfa_required", "residency")


def org_target(org: Organisation) -> Target:
    return Target(org_path=org.path)


def load_org(uc: UseCase, org_id: str) -> Organisation:
    org = uc.session.get(Organisation, org_id) if is_id(org_id) else None
    if org is None or org.status == "deleted":
        raise NotFound("The organisation does not exist, or you cannot see it.")
    return org


def root_org(uc: UseCase) -> Organisation:
    org = uc.session.execute(select(Organisation).where(Organisation.parent_id.is_(None))).scalar_one_or_none()
    if org is None:
        raise NotFound("No operator organisation exists yet: run `hexagone up` or `hexagone init`.")
    return org


def _check_legal(data: dict[str, Any]) -> None:
    problems = legal_problems(
        data.get("country", "FR"), data.get("vat_id", ""), data.get("siren", ""), data.get("siret", "")
    )
    if problems:
        raise InvalidInput("The legal details are not valid: " + "; ".join(problems) + ".")


def _check_can_invoice(reseller: Organisation) -> None:
    """A reseller invoices the organisations under it: it takes them on only once its legal
    identity is complete, so that no invoice it issues is refused by the buyer's platform."""
    gaps = issuing_gaps(
        {k: getattr(reseller, k) for k in ("legal_name", "country", "vat_id", "siren", "siret", "address")}
    )
    if gaps:
        raise Conflict(gaps_sentence(f"The reseller {reseller.name!r}", gaps))


def _check_residency(residency: dict[str, Any]) -> None:
    for key in residency:
        if key not in ("allowed_countries", "allowed_regions"):
            raise InvalidInput("residency accepts only allowed_countries and allowed_regions.")
        if not isinstance(residency[key], list) or not all(isinstance(v, str) for v in residency[key]):
            raise InvalidInput(f"residency.{key} must be a list of strings.")


def create_org(uc: UseCase, parent_id: str, kind: str, data: dict[str, Any]) -> Organisation:
    parent = load_org(uc, parent_id)
    uc.authorize(org_target(parent), "org.create", what="organisation")
    if not may_have_child(parent.kind, kind):
        raise InvalidInput(
            f"A {parent.kind} cannot hold a {kind}: resellers and customers go under the operator or a reseller."
        )
    _check_legal(data)
    _check_residency(data.get("residency") or {})
    if parent.kind == "reseller":
        _check_can_invoice(parent)
    oid = new_id()
    org = Organisation(
        id=oid,
        parent_id=parent.id,
        kind=kind,
        path=f"{parent.path}{oid}/",
        depth=parent.depth + 1,
        created_at=uc.now,
        updated_at=uc.now,
        status="active",
        **{k: v for k, v in data.items() if k in ORG_FIELDS and v is not None},
    )
    if not org.legal_name:
        org.legal_name = org.name
    uc.session.add(org)
    uc.session.flush()
    uc.audit("org.create", "organisation", org.id, org.id, org.path, details={"kind": kind, "name": org.name})
    return org


def get_org(uc: UseCase, org_id: str) -> Organisation:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "org.read", what="organisation")
    return org


def _path_filter(column: Any, paths: list[str]) -> ColumnElement[bool]:
    if not paths:
        return false()
    return or_(*[column.startswith(p, autoescape=True) for p in paths])


def list_orgs(
    uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]
) -> tuple[list[Organisation], str | None]:
    principal = uc.require_principal()
    paths, _ = visible_scopes(principal, "org.read")
    stmt = select(Organisation).where(_path_filter(Organisation.path, paths), Organisation.status != "deleted")
    if filters.get("kind"):
        stmt = stmt.where(Organisation.kind == filters["kind"])
    if filters.get("parent_id"):
        stmt = stmt.where(Organisation.parent_id == filters["parent_id"])
    if filters.get("name"):
        stmt = stmt.where(Organisation.name == filters["name"])
    return paginate(uc.session, stmt, Organisation.id, limit, cursor)


def update_org(uc: UseCase, org_id: str, changes: dict[str, Any]) -> Organisation:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "org.update", what="organisation")
    merged = {k: getattr(org, k) for k in ("country", "vat_id", "siren", "siret")}
    merged.update({k: v for k, v in changes.items() if k in merged and v is not None})
    _check_legal(merged)
    if changes.get("residency") is not None:
        _check_residency(changes["residency"])
    for key, value in changes.items():
        if key in ORG_FIELDS and value is not None:
            setattr(org, key, value)
    org.updated_at = uc.now
    uc.audit("org.update", "organisation", org.id, org.id, org.path, details={"fields": sorted(changes)})
    return org


def delete_org(uc: UseCase, org_id: str) -> None:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "org.delete", what="organisation")
    if org.parent_id is None:
        raise Conflict("The operator organisation cannot be deleted.")
    busy = (
        uc.session.execute(
            select(Organisation.id).where(Organisation.parent_id == org.id, Organisation.status != "deleted").limit(1)
        ).first()
        or uc.session.execute(select(Project.id).where(Project.org_id == org.id).limit(1)).first()
    )
    if busy:
        raise Conflict("The organisation still holds organisations or projects: delete them first.")
    org.status = "deleted"
    org.updated_at = uc.now
    for user in uc.session.execute(select(User).where(User.org_id == org.id)).scalars():
        user.enabled = False
    uc.audit("org.delete", "organisation", org.id, org.id, org.path)


# --- projects ------------------------------------------------------------------------------------


def project_target(project: Project) -> Target:
    return Target(org_path=project.org_path, project_id=project.id)


def load_project(uc: UseCase, project_id: str) -> Project:
    project = uc.session.get(Project, project_id) if is_id(project_id) else None
    if project is None:
        raise NotFound("The project does not exist, or you cannot see it.")
    return project


def create_project(uc: UseCase, org_id: str, name: str, description: str) -> Project:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "project.create", what="organisation")
    if org.kind != "customer":
        raise InvalidInput("Projects belong to customer organisations; create a customer first.")
    project = Project(
        id=new_id(),
        org_id=org.id,
        org_path=org.path,
        name=name,
        description=description,
        created_at=uc.now,
        updated_at=uc.now,
    )
    uc.session.add(project)
    try:
        with uc.session.begin_nested():
            uc.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A project named '{name}' already exists in this organisation.") from exc
    uc.audit("project.create", "project", project.id, org.id, org.path, details={"name": name})
    return project


def get_project(uc: UseCase, project_id: str) -> Project:
    project = load_project(uc, project_id)
    uc.authorize(project_target(project), "project.read", what="project")
    return project


def list_projects(
    uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]
) -> tuple[list[Project], str | None]:
    principal = uc.require_principal()
    paths, project_ids = visible_scopes(principal, "project.read")
    conds = [_path_filter(Project.org_path, paths)]
    if project_ids:
        conds.append(Project.id.in_(project_ids))
    stmt = select(Project).where(or_(*conds))
    if filters.get("org_id"):
        stmt = stmt.where(Project.org_id == filters["org_id"])
    if filters.get("name"):
        stmt = stmt.where(Project.name == filters["name"])
    return paginate(uc.session, stmt, Project.id, limit, cursor)


def update_project(uc: UseCase, project_id: str, changes: dict[str, Any]) -> Project:
    project = load_project(uc, project_id)
    uc.authorize(project_target(project), "project.update", what="project")
    for key in ("name", "description"):
        if changes.get(key) is not None:
            setattr(project, key, changes[key])
    project.updated_at = uc.now
    try:
        with uc.session.begin_nested():
            uc.session.flush()
    except IntegrityError as exc:
        raise Conflict("Another project of this organisation already has that name.") from exc
    uc.audit(
        "project.update", "project", project.id, project.org_id, project.org_path, details={"fields": sorted(changes)}
    )
    return project


def delete_project(uc: UseCase, project_id: str) -> None:
    project = load_project(uc, project_id)
    uc.authorize(project_target(project), "project.delete", what="project")
    for hook in uc.extras.get("project_delete_checks", []):
        hook(uc, project)
    uc.session.execute(delete(RoleGrant).where(RoleGrant.scope_type == "project", RoleGrant.scope_id == project.id))
    uc.session.delete(project)
    uc.audit("project.delete", "project", project.id, project.org_id, project.org_path)


# --- regions and zones ------------------------------------------------------------------------------


def create_region(uc: UseCase, name: str, country: str, legal_entity: str, description: str) -> Region:
    root = root_org(uc)
    uc.authorize(org_target(root), "region.create", what="region")
    if uc.session.execute(select(Region).where(Region.name == name)).first():
        raise Conflict(f"A region named '{name}' already exists.")
    region = Region(
        id=new_id(), name=name, country=country, legal_entity=legal_entity, description=description, created_at=uc.now
    )
    uc.session.add(region)
    uc.session.flush()
    uc.audit("region.create", "region", region.id, root.id, root.path, details={"name": name, "country": country})
    return region


def load_region(uc: UseCase, region_id: str) -> Region:
    region = uc.session.get(Region, region_id) if is_id(region_id) else None
    if region is None:
        region = uc.session.execute(select(Region).where(Region.name == region_id)).scalar_one_or_none()
    if region is None:
        raise NotFound("The region does not exist.")
    return region


def update_region(uc: UseCase, region_id: str, changes: dict[str, Any]) -> Region:
    region = load_region(uc, region_id)
    root = root_org(uc)
    uc.authorize(org_target(root), "region.update", what="region")
    for key in ("legal_entity", "description", "country"):
        if changes.get(key) is not None:
            setattr(region, key, changes[key])
    uc.audit("region.update", "region", region.id, root.id, root.path, details={"fields": sorted(changes)})
    return region


def create_zone(uc: UseCase, region_id: str, name: str) -> Zone:
    region = load_region(uc, region_id)
    root = root_org(uc)
    uc.authorize(org_target(root), "region.update", what="region")
    if uc.session.execute(select(Zone).where(Zone.region_id == region.id, Zone.name == name)).first():
        raise Conflict(f"Region {region.name} already has a zone named '{name}'.")
    zone = Zone(id=new_id(), region_id=region.id, name=name, created_at=uc.now)
    uc.session.add(zone)
    uc.session.flush()
    uc.audit("zone.create", "zone", zone.id, root.id, root.path, details={"region": region.name, "name": name})
    return zone


def zones_of(uc: UseCase, region_id: str) -> list[Zone]:
    return list(uc.session.execute(select(Zone).where(Zone.region_id == region_id).order_by(Zone.name)).scalars())
