"""Deleting a project: refused (409) while it holds servers that are not deleted, allowed once they
are gone (it used to be a 500: the rows of its deleted servers held a foreign key on it). The
history of those servers stays in the audit trail and in the usage records billing reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hexagone.bootstrap import Runtime
from hexagone.db.billing_models import UsageEvent
from hexagone.db.compute_models import Instance, ServerGroup
from tests.helpers import Api
from tests.integration.compute_helpers import fake_host, server_body, tenant

pytestmark = pytest.mark.integration


def agent_confirms_deleted(rt: Runtime, instance_id: str) -> None:
    with rt.db.write() as session:
        inst = session.get(Instance, instance_id)
        assert inst is not None
        inst.state, inst.deleted_at = "DELETED", rt.clock.now()


def test_a_project_with_live_servers_is_409_and_deletable_once_they_are_gone(api: Api, rt: Runtime,
                                                                              tmp_path: Path) -> None:
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "host-1")
    pid = t.project["id"]
    group = t.member.ok("POST", "/v1/server-groups", {"project_id": pid, "name": "g", "policy": "affinity"})
    inst = t.member.ok("POST", "/v1/instances", server_body(t, server_group_id=group["id"]), status=202)
    r = t.admin.delete(f"/v1/projects/{pid}")
    assert r.status_code == 409, r.text
    assert "1 server" in r.json()["detail"], r.json()
    assert t.member.delete(f"/v1/instances/{inst['id']}").status_code == 202
    r = t.admin.delete(f"/v1/projects/{pid}")
    assert r.status_code == 409, r.text  # DELETING: the host has not confirmed yet
    agent_confirms_deleted(rt, inst["id"])
    r = t.admin.delete(f"/v1/projects/{pid}")  # the empty server group goes with the project
    assert r.status_code == 204, r.text
    assert t.admin.get(f"/v1/projects/{pid}").status_code == 404
    with rt.db.read() as session:
        assert session.execute(select(Instance).where(Instance.project_id == pid)).scalars().all() == []
        assert session.execute(select(ServerGroup).where(ServerGroup.id == group["id"])).scalars().all() == []
        usage = session.execute(select(UsageEvent.instance_id)).scalars().all()
    assert inst["id"] in usage  # billing still has the server's usage
    op = api.admin()
    trail = op.ok("GET", f"/v1/audit/events?resource_id={inst['id']}&limit=100")["items"]
    assert "instance.create" in {e["action"] for e in trail}
    assert op.ok("GET", "/v1/audit/verify")["ok"]
