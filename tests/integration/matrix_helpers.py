"""Helpers for the security tests: the app's flattened routes and a two-tenant world of callers.

``World`` builds, through the API and once per test, two reseller subtrees (A, the callers' own,
and B, another tenant's) and one caller per role. Every id belonging to tenant B is remembered so a
test can check that none of them ever shows up in an answer to tenant A.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, Api
from tests.helpers import Session as ApiSession

#: FastAPI's own documentation routes: public by design, not declared through ``routing.endpoint``.
DOCS_ROUTES = frozenset({("GET", "/v1/openapi.json"), ("GET", "/v1/docs"), ("GET", "/docs/oauth2-redirect")})

CALLERS = ("operator", "owner", "admin", "member", "reader", "billing", "pmember", "apikey", "anon")
ORG_ROLES = ("owner", "admin", "member", "reader", "billing")
_n = itertools.count(1)


def uniq(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def flat_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, path, endpoint) of every route the app serves (HEAD is implied by GET)."""

    def walk(routes: list[Any]) -> Iterator[BaseRoute]:
        for route in routes:
            if isinstance(route, _IncludedRouter):
                yield from walk(route.effective_candidates())
            else:
                yield route

    for route in walk(list(app.routes)):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, route.path, getattr(route, "endpoint", None)


def strip(body: dict[str, Any], *ids: tuple[str, str]) -> dict[str, Any]:
    """A problem body without its request id, ids replaced by placeholders (they echo the request)."""
    out = {k: v for k, v in body.items() if k != "request_id"}
    text = repr(out)
    for real, placeholder in ids:
        text = text.replace(real, placeholder)
    return {"_": text}


@dataclass
class Req:
    """One request of the matrix: ``json`` or raw ``content`` (with its ``headers``)."""

    path: str
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    credential: str | None = "caller"  # "caller": the caller's own; None: no credential; else this one
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


@dataclass
class Tenant:
    reseller: dict[str, Any]
    customer: dict[str, Any]
    project: dict[str, Any]
    user: dict[str, Any]  # a plain user of the customer, target of user endpoints
    keymaker: ApiSession  # an administrator of the customer who owns API keys


@dataclass
class World:
    api: Api
    op: ApiSession
    root_id: str
    a: Tenant
    b: Tenant
    callers: dict[str, ApiSession | None]
    apikey_secret: str
    clock: Any
    b_ids: set[str] = field(default_factory=set)
    rt: Any = None  # the Runtime, for what the API cannot do (a host's join token, a keypair of a reader)
    cx: Any = None  # the compute world (matrix_compute.Compute), once built
    bx: Any = None  # the billing world (matrix_compute.Billing)
    fx: Any = None  # the OpenStack facade's credentials and ids (matrix_compute.Facade)

    @property
    def client(self) -> TestClient:
        return self.api.client

    def now(self) -> float:
        return float(self.clock.now().timestamp())

    def tenant(self, which: str) -> Tenant:
        return self.a if which == "own" else self.b

    def remember(self, which: str, *ids: str) -> None:
        if which == "other":
            self.b_ids.update(ids)

    # --- fresh resources, created by the operator ---------------------------------------------

    def fresh_customer(self, which: str) -> dict[str, Any]:
        org = self.api.org(self.op, self.tenant(which).reseller["id"], "customer", uniq("fresh-c"))
        self.remember(which, org["id"])
        return org

    def fresh_project(self, which: str) -> dict[str, Any]:
        """A new project of the tenant's customer; in tenant A the project member gets a role on it."""
        p = self.api.project(self.op, self.tenant(which).customer["id"], uniq("fresh-p"))
        self.remember(which, p["id"])
        if which == "own":
            pm = self.callers["pmember"]
            assert pm is not None
            self.op.ok(
                "POST",
                "/v1/role-grants",
                {"user_id": pm.user["id"], "role": "member", "scope_type": "project", "scope_id": p["id"]},
            )
        return p

    def fresh_user(
        self, which: str, roles: list[str] | None = None, org_id: str | None = None
    ) -> dict[str, Any]:
        org_id = org_id or self.tenant(which).customer["id"]
        u = self.op.ok(
            "POST",
            "/v1/users",
            {"org_id": org_id, "name": uniq("fresh-u"), "password": PASSWORD, "roles": roles or []},
        )
        self.remember(which, u["id"])
        return u

    def fresh_grant(self, which: str) -> dict[str, Any]:
        p = self.fresh_project(which)
        g = self.op.ok(
            "POST",
            "/v1/role-grants",
            {
                "user_id": self.tenant(which).user["id"],
                "role": "reader",
                "scope_type": "project",
                "scope_id": p["id"],
            },
        )
        self.remember(which, g["id"])
        return g

    def fresh_key(self, which: str) -> dict[str, Any]:
        t = self.tenant(which)
        k = t.keymaker.ok(
            "POST",
            "/v1/api-keys",
            {"name": uniq("k"), "scope_type": "org", "scope_id": t.customer["id"], "role": "reader"},
        )
        self.remember(which, k["id"])
        return k

    def fresh_credential(self, caller: str) -> tuple[str | None, str | None]:
        """(credential, login name) of a new principal holding exactly ``caller``'s roles, for
        endpoints that change the caller's own credentials (logout, password, second factor)."""
        if caller == "anon":
            return None, None
        if caller == "apikey":
            owner = self.callers["owner"]
            assert owner is not None
            k = owner.ok(
                "POST",
                "/v1/api-keys",
                {"name": uniq("k"), "scope_type": "org", "scope_id": self.a.reseller["id"], "role": "member"},
            )
            return k["secret"], None
        if caller == "operator":
            u = self.fresh_user("own", ["owner"], org_id=self.root_id)
        elif caller == "pmember":
            u = self.fresh_user("own")
            self.op.ok(
                "POST",
                "/v1/role-grants",
                {
                    "user_id": u["id"],
                    "role": "member",
                    "scope_type": "project",
                    "scope_id": self.a.project["id"],
                },
            )
        else:
            u = self.fresh_user("own", [caller], org_id=self.a.reseller["id"])
        return self.api.login(u["name"], PASSWORD).token, u["name"]


def build_world(api: Api, clock: Any, rt: Any = None) -> World:
    op = api.login("admin", ADMIN_PASSWORD)
    root_id = api.root_id(op)

    def tenant(label: str) -> Tenant:
        r = api.org(op, root_id, "reseller", uniq(f"R{label}-"))
        c = api.org(op, r["id"], "customer", uniq(f"C{label}-"))
        p = api.project(op, c["id"], uniq(f"P{label}-"))
        u = op.ok(
            "POST", "/v1/users", {"org_id": c["id"], "name": uniq(f"plain{label}"), "password": PASSWORD}
        )
        _, keymaker = api.user(op, c["id"], ["admin"], name=uniq(f"keymaker{label}"))
        return Tenant(r, c, p, u, keymaker)

    a, b = tenant("A"), tenant("B")
    callers: dict[str, ApiSession | None] = {"operator": op, "anon": None}
    for role in ORG_ROLES:
        _, callers[role] = api.user(op, a.reseller["id"], [role], name=uniq(role))
    pm_user, pm = api.user(op, a.customer["id"], [], name=uniq("pmember"))
    op.ok(
        "POST",
        "/v1/role-grants",
        {"user_id": pm_user["id"], "role": "member", "scope_type": "project", "scope_id": a.project["id"]},
    )
    callers["pmember"] = pm
    admin = callers["admin"]
    assert admin is not None
    key = admin.ok(
        "POST",
        "/v1/api-keys",
        {"name": "automation", "scope_type": "org", "scope_id": a.reseller["id"], "role": "member"},
    )
    callers["apikey"] = ApiSession(api.client, key["secret"], {"id": key["user_id"]})
    world = World(api, op, root_id, a, b, callers, key["secret"], clock, rt=rt)
    world.b_ids.update(
        {b.reseller["id"], b.customer["id"], b.project["id"], b.user["id"], b.keymaker.user["id"]}
    )
    return world
