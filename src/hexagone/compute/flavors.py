"""Flavors: the operator's catalogue of instance sizes, public or restricted to some organisations.

A restricted flavor (``is_public=False``) is visible and usable by the organisations it is shared
with *and their whole subtree*: sharing it with a reseller shares it with the reseller's customers.
Only the operator's administrators create, change, share or delete flavors; every authenticated
principal lists the flavors it may use.

Sizes (vcpus, ram_mb, disk_gb) never change after creation: instances copy them, and billing must
not see an instance change size behind its back. Create a new flavor instead.

Deleting a flavor that instances still reference (even deleted ones, whose rows keep the foreign
key for billing history) does not remove the row: the flavor is *disabled* instead — hidden from
everyone but the operator and refused for new instances — and the answer is still 204.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, false, or_, select

from hexagone.authz.policy import Decision, Principal, Target, decide
from hexagone.db.compute_models import Flavor, FlavorAccess, Instance
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, InvalidInput, NotFound
from hexagone.identity.orgs import load_org
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

MUTABLE = ("name", "description", "is_public", "disabled")


def ancestor_paths(org_path: str) -> list[str]:
    """``/a/b/c/`` -> ``["/a/", "/a/b/", "/a/b/c/"]``: the organisation and everything above it."""
    parts = [p for p in org_path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _root_target(principal: Principal) -> Target:
    return Target(org_path=principal.root_path)


def is_operator(principal: Principal) -> bool:
    """Whether the principal administers the catalogue (the operator's admins and owners)."""
    return decide(principal, "flavor.update", _root_target(principal)) is Decision.ALLOW


def _principal_paths(principal: Principal) -> list[str]:
    """Every organisation path a flavor share may cover for this principal: its own organisation,
    the organisations it holds a grant on, and all their ancestors."""
    paths = set(ancestor_paths(principal.org_path))
    for grant in principal.grants:
        paths.update(ancestor_paths(grant.scope_path))
    return sorted(paths)


def _visible_to(paths: list[str]) -> Any:
    shared = select(FlavorAccess.flavor_id).where(FlavorAccess.org_path.in_(paths)) if paths else None
    return or_(Flavor.is_public.is_(True), Flavor.id.in_(shared) if shared is not None else false())


def _find(uc: UseCase, id_or_name: str) -> Flavor | None:
    flavor = uc.session.get(Flavor, id_or_name) if is_id(id_or_name) else None
    if flavor is None:
        flavor = uc.session.execute(select(Flavor).where(Flavor.name == id_or_name)).scalar_one_or_none()
    return flavor


def _not_found() -> NotFound:
    return NotFound("The flavor does not exist, or it is not available to you: list /v1/flavors.")


def _shared_with(uc: UseCase, flavor: Flavor, paths: list[str]) -> bool:
    if flavor.is_public:
        return True
    stmt = select(FlavorAccess.org_id).where(
        FlavorAccess.flavor_id == flavor.id, FlavorAccess.org_path.in_(paths)
    )
    row = uc.session.execute(stmt).first()
    return row is not None


def get_flavor(uc: UseCase, id_or_name: str) -> Flavor:
    """A flavor the caller may see (404 otherwise, exactly like a missing one)."""
    principal = uc.require_principal()
    flavor = _find(uc, id_or_name)
    if flavor is None:
        raise _not_found()
    if is_operator(principal):
        return flavor
    if flavor.disabled or not _shared_with(uc, flavor, _principal_paths(principal)):
        raise _not_found()
    return flavor


def usable_flavor(uc: UseCase, flavor_id_or_name: str, org_path: str) -> Flavor:
    """The flavor an instance of the organisation at ``org_path`` may be created with.

    NotFound when it does not exist or is restricted and not shared with that organisation or an
    ancestor; Conflict when it has been disabled."""
    flavor = _find(uc, flavor_id_or_name)
    if flavor is None or not _shared_with(uc, flavor, ancestor_paths(org_path)):
        raise _not_found()
    if flavor.disabled:
        raise Conflict(f"The flavor {flavor.name} is withdrawn from the catalogue; choose another flavor.")
    return flavor


def list_flavors(
    uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]
) -> tuple[list[Flavor], str | None]:
    principal = uc.require_principal()
    stmt = select(Flavor)
    if not is_operator(principal):
        stmt = stmt.where(_visible_to(_principal_paths(principal)), Flavor.disabled.is_(False))
    if filters.get("name"):
        stmt = stmt.where(Flavor.name == filters["name"])
    if filters.get("min_vcpus"):
        stmt = stmt.where(Flavor.vcpus >= filters["min_vcpus"])
    if filters.get("min_ram_mb"):
        stmt = stmt.where(Flavor.ram_mb >= filters["min_ram_mb"])
    if filters.get("min_disk_gb"):
        stmt = stmt.where(Flavor.disk_gb >= filters["min_disk_gb"])
    return paginate(uc.session, stmt, Flavor.id, limit, cursor)


def _check_name_free(uc: UseCase, name: str, except_id: str | None = None) -> None:
    stmt = select(Flavor.id).where(Flavor.name == name)
    if except_id:
        stmt = stmt.where(Flavor.id != except_id)
    if uc.session.execute(stmt).first():
        raise Conflict(f"A flavor named '{name}' already exists; pick another name.")
    if is_id(name):
        raise InvalidInput("A flavor name cannot look like an id; pick a readable name.")


def create_flavor(uc: UseCase, data: dict[str, Any]) -> Flavor:
    principal = _authorize_operator(uc, "flavor.create")
    _check_name_free(uc, data["name"])
    flavor = Flavor(
        id=new_id(), name=data["name"], vcpus=data["vcpus"], ram_mb=data["ram_mb"], disk_gb=data["disk_gb"],
        is_public=data.get("is_public", True), description=data.get("description") or "", disabled=False,
        created_at=uc.now,
    )
    uc.session.add(flavor)
    uc.session.flush()
    uc.audit("flavor.create", "flavor", flavor.id, _root_id(principal), principal.root_path,
             details={k: data.get(k) for k in ("name", "vcpus", "ram_mb", "disk_gb", "is_public")})
    return flavor


def _authorize_operator(uc: UseCase, permission: str) -> Principal:
    principal = uc.require_principal()
    uc.authorize_operator(_root_target(principal), permission, doing="manage the flavor catalogue")
    return principal


def _operator_flavor(uc: UseCase, id_or_name: str, permission: str) -> Flavor:
    flavor = get_flavor(uc, id_or_name)  # 404 first: what the caller cannot see does not exist
    _authorize_operator(uc, permission)
    return flavor


def _root_id(principal: Principal) -> str:
    return principal.root_path.strip("/")


def update_flavor(uc: UseCase, id_or_name: str, changes: dict[str, Any]) -> Flavor:
    flavor = _operator_flavor(uc, id_or_name, "flavor.update")
    if changes.get("name") is not None and changes["name"] != flavor.name:
        _check_name_free(uc, changes["name"], flavor.id)
    for key in MUTABLE:
        if changes.get(key) is not None:
            setattr(flavor, key, changes[key])
    principal = uc.require_principal()
    uc.audit("flavor.update", "flavor", flavor.id, _root_id(principal), principal.root_path,
             details={k: changes[k] for k in sorted(changes) if k in MUTABLE})
    return flavor


def delete_flavor(uc: UseCase, id_or_name: str) -> bool:
    """Delete the flavor; disable it instead while instance rows refer to it. True when deleted."""
    flavor = _operator_flavor(uc, id_or_name, "flavor.delete")
    principal = uc.require_principal()
    root_id, root_path = _root_id(principal), principal.root_path
    used = uc.session.execute(select(Instance.id).where(Instance.flavor_id == flavor.id).limit(1)).first()
    if used:
        flavor.disabled = True
        uc.audit("flavor.disable", "flavor", flavor.id, root_id, root_path,
                 details={"name": flavor.name, "reason": "referenced by instances"})
        return False
    uc.session.execute(delete(FlavorAccess).where(FlavorAccess.flavor_id == flavor.id))
    uc.session.delete(flavor)
    uc.audit("flavor.delete", "flavor", flavor.id, root_id, root_path, details={"name": flavor.name})
    return True


# --- access to restricted flavors -----------------------------------------------------------------

def list_access(uc: UseCase, id_or_name: str) -> list[FlavorAccess]:
    flavor = _operator_flavor(uc, id_or_name, "flavor.update")
    return list(uc.session.execute(
        select(FlavorAccess).where(FlavorAccess.flavor_id == flavor.id).order_by(FlavorAccess.org_id)
    ).scalars())


def add_access(uc: UseCase, id_or_name: str, org_id: str) -> FlavorAccess:
    flavor = _operator_flavor(uc, id_or_name, "flavor.update")
    if flavor.is_public:
        raise Conflict(f"The flavor {flavor.name} is public: everyone sees it. Set is_public to false first.")
    org = load_org(uc, org_id)
    existing = uc.session.get(FlavorAccess, (flavor.id, org.id))
    if existing is not None:
        return existing
    access = FlavorAccess(flavor_id=flavor.id, org_id=org.id, org_path=org.path)
    uc.session.add(access)
    uc.session.flush()
    uc.audit("flavor.access.add", "flavor", flavor.id, org.id, org.path, details={"name": flavor.name})
    return access


def remove_access(uc: UseCase, id_or_name: str, org_id: str) -> None:
    flavor = _operator_flavor(uc, id_or_name, "flavor.update")
    access = uc.session.get(FlavorAccess, (flavor.id, org_id)) if is_id(org_id) else None
    if access is None:
        raise NotFound("This organisation has no access to the flavor.")
    uc.session.delete(access)
    uc.audit("flavor.access.remove", "flavor", flavor.id, access.org_id, access.org_path,
             details={"name": flavor.name})
