"""Transient failures answer 503 with Retry-After and a sentence naming the cause, health names the
dependency that is down, and write paths fail closed (issue 20, item 3)."""

from __future__ import annotations

import errno
import os
import types
from typing import Any

import pytest
from sqlalchemy import text

from tests.helpers import PASSWORD
from tests.integration.outage_helpers import audit_disk_full, database_lost

pytestmark = pytest.mark.integration


def assert_unavailable(r: Any, dependency: str, words: str) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1
    body = r.json()
    assert body["type"].endswith("/unavailable") and body["dependency"] == dependency, body
    assert words in body["detail"] and "nothing was changed" in body["detail"], body["detail"]


def test_database_loss_answers_503_and_health_names_the_database(api, rt, client):
    op = api.admin()
    root_id = api.root_id(op)
    with database_lost(rt):
        r = op.post("/v1/organisations", json={"parent_id": root_id, "kind": "customer", "name": "during-outage"})
        assert_unavailable(r, "database", "The database cannot be reached")
        assert_unavailable(op.get("/v1/instances"), "database", "The database cannot be reached")
        h = client.get("/v1/health")
        assert h.status_code == 503 and int(h.headers["Retry-After"]) >= 1, h.text
        assert h.json()["dependency"] == "database" and h.json()["checks"] == {"database": "down", "disk": "ok"}
        assert "database" in h.json()["detail"]
    h = client.get("/v1/health")  # back by itself, without a restart
    assert h.status_code == 200 and h.json()["checks"] == {"database": "ok", "disk": "ok"}, h.text
    r = op.post("/v1/organisations", json={"parent_id": root_id, "kind": "customer", "name": "after"})
    assert r.status_code == 201, r.text


def test_login_whose_audit_record_cannot_be_written_fails_closed(api, rt, client):
    op = api.admin()
    org = api.org(op, api.root_id(op), "customer")
    user, _ = api.user(op, org["id"], ["member"])

    def tokens() -> int:
        with rt.db.read() as s:
            query = text("SELECT count(*) FROM tokens WHERE user_id = :u")
            return int(s.execute(query, {"u": user["id"]}).scalar_one())

    before = tokens()
    with audit_disk_full(rt):
        r = client.post("/v1/auth/login", json={"username": user["name"], "password": PASSWORD})
        assert_unavailable(r, "disk", "disk is full")
        assert "token" not in r.json()
        r = op.post("/v1/organisations", json={"parent_id": api.root_id(op), "kind": "customer",
                                               "name": "no-audit-no-change"})
        assert_unavailable(r, "disk", "disk is full")
    names = [o["name"] for o in op.ok("GET", "/v1/organisations")["items"]]
    assert "no-audit-no-change" not in names
    assert op.ok("GET", "/v1/audit/verify")["ok"] is True
    assert tokens() == before  # the login that could not be audited issued nothing


def test_full_data_disk_answers_503_and_health_names_the_disk(api, rt, client, monkeypatch, tmp_path):
    from hexagone.api.routes import meta
    from hexagone.compute import images

    op = api.admin()
    img = op.ok("POST", "/v1/images", {"name": "big", "disk_format": "raw"})

    def no_space(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(images, "os", types.SimpleNamespace(**{**vars(os), "write": no_space}))
    r = op.put(f"/v1/images/{img['id']}/file", content=b"x" * 4096,
               headers={"Content-Type": "application/octet-stream"})
    assert_unavailable(r, "disk", "The data disk is full")
    monkeypatch.setattr(meta.shutil, "disk_usage", lambda p: types.SimpleNamespace(total=1, used=1, free=0))
    h = client.get("/v1/health")
    assert h.status_code == 503 and h.json()["dependency"] == "disk", h.text
    assert h.json()["checks"] == {"database": "ok", "disk": "full"}
