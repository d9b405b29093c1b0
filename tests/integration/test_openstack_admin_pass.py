"""Nova's ``adminPass`` (issue 9, item 10): returned once by server create where instance passwords
are enabled (the default), taken from the request when given, set in the guest through the seed,
and never stored in clear (only a SHA-512 crypt hash, in the instance row and the agent's desired
state; nothing in audit records, idempotency records or any other table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from hexagone.bootstrap import Runtime
from hexagone.compute import guest_password, hosts
from hexagone.db.base import Base
from hexagone.db.compute_models import Host, Instance
from tests.helpers import Api
from tests.integration.compute_helpers import fake_host
from tests.integration.test_openstack_api import Customer, customer, h

pytestmark = pytest.mark.integration


@pytest.fixture
def acme(api: Api, rt: Runtime, tmp_path: Path) -> Customer:
    from hexagone.bootstrap import ensure_catalogue

    ensure_catalogue(rt, None)
    fake_host(rt, "host-1", capabilities={"accel": "fake", "network_cidr": "10.200.0.0/24"})
    return customer(api, api.admin(), tmp_path, "acme")


def create(client: TestClient, c: Customer, **server: Any) -> Any:
    flavors = client.get("/compute/v2.1/flavors", headers=h(c.token)).json()["flavors"]
    tiny = next(f["id"] for f in flavors if f["name"] == "tiny")
    body = {"name": "vm", "imageRef": c.image_id, "flavorRef": tiny, "networks": "auto", **server}
    return client.post("/compute/v2.1/servers", headers=h(c.token), json={"server": body})


def everything_stored(rt: Runtime) -> str:
    """Every row of every table, as text: a clear password must appear nowhere."""
    out = []
    with rt.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table.name}"'))]  # noqa: S608
    return "\n".join(out)


def stored_hash(rt: Runtime, server_id: str) -> str | None:
    with rt.db.session(write=False) as s:
        return s.execute(select(Instance.admin_password_hash).where(Instance.id == server_id)).scalar_one()


def test_create_returns_a_generated_password_once_and_keeps_only_its_hash(
    acme: Customer, client: TestClient, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    a = acme
    r = create(client, a)
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    password = server["adminPass"]
    assert len(password) == guest_password.GENERATED_LENGTH
    hashed = stored_hash(rt, server["id"])
    assert hashed and guest_password.is_sha512_crypt(hashed)
    salt = hashed.split("$")[2]
    assert guest_password.sha512_crypt(password, salt) == hashed
    assert password not in everything_stored(rt) and password not in caplog.text
    shown = client.get(f"/compute/v2.1/servers/{server['id']}", headers=h(a.token)).json()["server"]
    assert "adminPass" not in shown and password not in str(shown)
    native = a.admin.ok("GET", f"/v1/instances/{server['id']}")
    assert password not in str(native) and "admin_password_hash" not in native
    with rt.db.session(write=False) as s:  # what the host's agent receives: the hash, for the seed
        host = s.execute(select(Host)).scalars().first()
        assert host is not None
        from hexagone.audit.service import Actor
        from hexagone.usecase import UseCase

        uc = UseCase(session=s, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor())
        wanted = {i["instance_id"]: i for i in hosts.desired_state(uc, host, "http://x")["instances"]}
    assert wanted[server["id"]]["admin_password_hash"] == hashed


def test_a_given_password_is_returned_and_set(acme: Customer, client: TestClient,
                                               rt: Runtime) -> None:
    a = acme
    r = create(client, a, adminPass="Correct-Horse-Battery-9")
    assert r.status_code == 202 and r.json()["server"]["adminPass"] == "Correct-Horse-Battery-9"
    hashed = stored_hash(rt, r.json()["server"]["id"])
    assert hashed == guest_password.sha512_crypt("Correct-Horse-Battery-9", hashed.split("$")[2])
    assert "Correct-Horse-Battery-9" not in everything_stored(rt)
    for bad in ("", "two\nlines", 12):
        refused = create(client, a, adminPass=bad)
        assert refused.status_code == 400, refused.text


@pytest.mark.parametrize("how", ["setting", "region"])
def test_instance_passwords_can_be_turned_off_per_region(
    acme: Customer, client: TestClient, rt: Runtime, how: str
) -> None:
    a = acme
    if how == "setting":
        rt.settings.enable_instance_password = False
    else:
        rt.settings.instance_password_off_regions = [rt.settings.region]
    r = create(client, a)
    assert r.status_code == 202 and "adminPass" not in r.json()["server"]
    assert stored_hash(rt, r.json()["server"]["id"]) is None
    given = create(client, a, adminPass="Chosen-Pass-Phrase-1")  # as Nova: set, not returned
    assert "adminPass" not in given.json()["server"] and stored_hash(rt, given.json()["server"]["id"])


def test_the_seed_carries_the_hash_for_cloud_init_and_the_tiny_image(tmp_path: Path) -> None:
    import subprocess

    from hexagone.compute.driver import InstanceSpec
    from hexagone.compute.drivers.seed import user_data
    from hexagone.images.tiny_guest import ROOT_HASH_SCRIPT

    hashed = guest_password.sha512_crypt("Tiny-Guest-Pass-1")
    spec = InstanceSpec(instance_id="00000000-0000-7000-8000-000000000001", name="vm", vcpus=1, ram_mb=64,
                        disk_gb=1, image_path="/x", admin_password_hash=hashed, user_data="#!/bin/sh\necho hi\n")
    seed = user_data(spec)
    assert f'password: "{hashed}"' in seed and "Tiny-Guest-Pass-1" not in seed
    with pytest.raises(Exception, match="SHA-512"):
        InstanceSpec(instance_id="00000000-0000-7000-8000-000000000001", name="vm", vcpus=1, ram_mb=64,
                     disk_gb=1, image_path="/x", admin_password_hash="clear-text")
    (tmp_path / "user-data").write_text(seed)
    (tmp_path / "passwd").write_text("root:*:0:0:root:/root:/bin/sh\n")
    script = tmp_path / "password"
    script.write_text(ROOT_HASH_SCRIPT)
    done = subprocess.run(["sh", str(script), str(tmp_path / "user-data"), str(tmp_path / "passwd")], check=False)
    assert done.returncode == 0
    assert (tmp_path / "passwd").read_text() == f"root:{hashed}:0:0:root:/root:/bin/sh\n"
    (tmp_path / "user-data").write_text(user_data(InstanceSpec(
        instance_id="00000000-0000-7000-8000-000000000001", name="vm", vcpus=1, ram_mb=64, disk_gb=1,
        image_path="/x")))
    assert subprocess.run(["sh", str(script), str(tmp_path / "user-data"), str(tmp_path / "passwd")]).returncode == 1
