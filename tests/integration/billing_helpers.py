"""Helpers for billing tests: a fake host whose agent reports are sent by the test, an image, and a
clock the test moves to exact instants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hexagone.audit.service import Actor
from hexagone.bootstrap import Runtime, ensure_catalogue, local_join_token
from hexagone.compute import hosts
from hexagone.usecase import UseCase
from tests.helpers import Api, Session, agent_report
from tests.integration.compute_helpers import small_qcow2, upload_image

UTC = dt.UTC


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Cloud:
    api: Api
    rt: Runtime
    op: Session
    root_id: str
    image_id: str
    agent_key: str

    def when(self, t: dt.datetime) -> None:
        self.rt.clock.set(t)  # type: ignore[attr-defined]

    def operator_identity(self) -> None:
        """Give the operator the legal identity it needs to issue invoices."""
        self.op.ok(
            "PATCH",
            f"/v1/organisations/{self.root_id}",
            {"legal_name": "Hexagone Cloud SAS", "siren": "552081317", "vat_id": "FR03552081317",
             "address": "2 place de la Bourse, 75002 Paris", "country": "FR"},
        )

    def report(self, iid: str, power: str, **extra: Any) -> None:
        r = agent_report(self.api.client, self.agent_key, [{"instance_id": iid, "power_state": power, **extra}])
        assert r.status_code == 200, r.text

    def create(self, project_id: str, flavor: str, name: str = "vm") -> str:
        r = self.op.post(
            "/v1/instances",
            json={"project_id": project_id, "name": name, "flavor": flavor, "image": self.image_id},
        )
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def action(self, iid: str, verb: str) -> None:
        if verb == "delete":
            self.op.ok("DELETE", f"/v1/instances/{iid}", status=202)
        else:
            self.op.ok("POST", f"/v1/instances/{iid}/action", {"action": verb}, status=202)

    def price(
        self, product: str, price: str, effective_from: dt.datetime | None = None, **extra: Any
    ) -> None:
        body = {"region": self.rt.settings.region, "product": product, "price": price, **extra}
        if effective_from:
            body["effective_from"] = effective_from.isoformat()
        self.op.ok("POST", "/v1/billing/prices", body)

    def rule(self, org_id: str, kind: str, value: str, who: Session | None = None, **extra: Any) -> None:
        (who or self.op).ok(
            "POST", "/v1/billing/rules", {"org_id": org_id, "kind": kind, "value": value, **extra}
        )


def cloud(api: Api, rt: Runtime, tmp: Any, operator_identity: bool = True) -> Cloud:
    """A billing test's region; the operator has the legal identity it needs to invoice unless
    ``operator_identity`` is False."""
    ensure_catalogue(rt, None)
    rt.settings.token_ttl_seconds = 400 * 86400  # the test moves the clock across months
    op = api.admin()
    root_id = api.root_id(op)
    image_id = upload_image(op, small_qcow2(tmp), name="base", visibility="public")
    token = local_join_token(rt)
    with rt.db.write() as session:
        uc = UseCase(
            session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor()
        )
        host, key = hosts.join(
            uc,
            token,
            "h1",
            {"vcpus": 256, "ram_mb": 1 << 20, "disk_gb": 10000, "capabilities": {"accel": "fake"}},
        )
        host.cpu_ratio = 1.0
    c = Cloud(api, rt, op, root_id, image_id, key)
    if operator_identity:
        c.operator_identity()
    return c
