"""Test helpers: an API client that logs in and builds organisation trees."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD

PASSWORD = "a-long-enough-passphrase"
_n = itertools.count(1)


@dataclass
class Session:
    client: TestClient
    token: str
    user: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def ok(self, method: str, path: str, json: Any = None, status: int | None = None) -> Any:
        r = getattr(self, method.lower())(path, json=json) if json is not None else getattr(self, method.lower())(path)
        expected = status or (201 if method.upper() == "POST" else 204 if method.upper() == "DELETE" else 200)
        assert r.status_code == expected, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


#: A complete French legal identity (SIREN with its VAT id), enough to issue e-invoices.
RESELLER_LEGAL = {
    "country": "FR",
    "siren": "732829320",
    "vat_id": "FR44732829320",
    "address": "1 rue de la Paix, 75002 Paris",
}


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def login(self, username: str, password: str, **extra: Any) -> Session:
        r = self.client.post("/v1/auth/login", json={"username": username, "password": password, **extra})
        assert r.status_code == 201, r.text
        body = r.json()
        return Session(self.client, body["token"], body["user"])

    def admin(self) -> Session:
        return self.login("admin", ADMIN_PASSWORD)

    def root_id(self, s: Session) -> str:
        me = s.ok("GET", "/v1/auth/whoami")
        return str(me["organisation"]["id"])

    def org(self, s: Session, parent_id: str, kind: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
        """A new organisation; a reseller gets a complete French legal identity unless the test
        gives its own country (resellers invoice, so they need one to take on customers)."""
        if kind == "reseller" and "country" not in extra:
            extra = {**RESELLER_LEGAL, **extra}
        return s.ok(
            "POST",
            "/v1/organisations",
            {"parent_id": parent_id, "kind": kind, "name": name or f"{kind}-{next(_n)}", **extra},
        )

    def user(
        self, s: Session, org_id: str, roles: list[str], name: str | None = None
    ) -> tuple[dict[str, Any], Session]:
        name = name or f"user{next(_n)}"
        u = s.ok("POST", "/v1/users", {"org_id": org_id, "name": name, "password": PASSWORD, "roles": roles})
        return u, self.login(name, PASSWORD)

    def project(self, s: Session, org_id: str, name: str | None = None) -> dict[str, Any]:
        return s.ok("POST", "/v1/projects", {"org_id": org_id, "name": name or f"proj{next(_n)}"})


_report_seq = itertools.count(1)


def agent_report(client: Any, credential: str, observations: list[dict[str, Any]], **extra: Any) -> Any:
    """POST /v1/agent/report as a live agent would: one boot id, a growing sequence, and the
    host's current desired revision (so the observations are never stale)."""
    headers = {"Authorization": f"Bearer {credential}"}
    revision = client.get("/v1/agent/desired", headers=headers).json().get("revision", 0)
    body = {"boot_id": "tests", "seq": next(_report_seq), "revision": revision, "observations": observations,
            **extra}
    return client.post("/v1/agent/report", json=body, headers=headers)
