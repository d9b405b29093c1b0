"""Image sharing is an offer the receiving organisation accepts, as in Glance: an attacker who
shares an image into a victim's organisation cannot get it listed, found by name or booted there;
sharing to an organisation the sharer cannot see answers exactly like sharing to a missing one.
Native /v1 and the Glance facade's members API alike."""

from __future__ import annotations

from typing import Any

import pytest

from hexagone.ids import new_id
from tests.integration.compute_helpers import small_qcow2, upload_image
from tests.integration.test_openstack_api import Customer, h, world  # noqa: F401  (world: the fixture)

pytestmark = pytest.mark.integration

LURE = "ubuntu-24.04"  # a name the victim expects the catalogue to have


def _lure(attacker: Customer, victim: Customer, qcow2: bytes) -> str:
    """The attacker's image, named as the victim expects an image to be, shared into the victim's
    organisation."""
    image_id = upload_image(attacker.admin, qcow2, name=LURE, visibility="shared")
    member = attacker.admin.ok("POST", f"/v1/images/{image_id}/members", {"org_id": victim.org["id"]})
    assert member["status"] == "pending"
    return image_id


def _boot(victim: Customer, image: str) -> Any:
    return victim.admin.post("/v1/instances", json={"project_id": victim.project["id"], "name": "vm",
                                                    "flavor": "tiny", "image": image})


def _names(token: str, client: Any, query: str = "") -> set[str]:
    r = client.get(f"/image/v2/images{query}", headers=h(token))
    assert r.status_code == 200, r.text
    return {i["name"] for i in r.json()["images"]}


def test_a_pushed_image_is_not_listed_named_or_booted_until_the_victim_accepts(world, client, tmp_path):  # noqa: F811
    attacker, victim = world
    image_id = _lure(attacker, victim, small_qcow2(tmp_path))
    # pending: not bootable by name (nor by id), not listed by default, in /v1 and through Glance
    r = _boot(victim, LURE)
    assert r.status_code == 404, r.text
    assert _boot(victim, image_id).status_code == 404
    assert LURE not in {i["name"] for i in victim.admin.ok("GET", "/v1/images")["items"]}
    assert LURE not in _names(victim.token, client)
    # ... but the victim can see the offer and decide
    pending = victim.admin.ok("GET", "/v1/images?member_status=pending")["items"]
    assert [i["id"] for i in pending if i["name"] == LURE] == [image_id]
    assert LURE in _names(victim.token, client, "?member_status=pending")
    assert victim.admin.ok("GET", f"/v1/images/{image_id}")["name"] == LURE
    # the attacker cannot accept on the victim's behalf (it cannot see the victim: 404)
    for r in (attacker.admin.post(f"/v1/images/{image_id}/members/{victim.org['id']}/accept"),
              client.put(f"/image/v2/images/{image_id}/members/{victim.org['id']}", json={"status": "accepted"},
                         headers=h(attacker.token))):
        assert r.status_code == 404, r.text
    # rejected: still neither listed nor bootable
    victim.admin.ok("POST", f"/v1/images/{image_id}/members/{victim.org['id']}/reject", status=200)
    assert _boot(victim, LURE).status_code == 404
    assert LURE not in _names(victim.token, client)
    assert LURE in _names(victim.token, client, "?member_status=rejected")
    # accepted (here through the Glance members API, naming the token's project as the OpenStack
    # client does): listed, named, bootable
    r = client.put(f"/image/v2/images/{image_id}/members/{victim.project['id']}", json={"status": "accepted"},
                   headers=h(victim.token))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    assert LURE in _names(victim.token, client)
    assert _boot(victim, LURE).status_code == 202
    audit = victim.admin.ok("GET", "/v1/audit/events?action=image.member.status")["items"]
    assert [a["details"]["to"] for a in audit] == ["rejected", "accepted"]


def test_sharing_with_an_invisible_organisation_answers_like_sharing_with_a_missing_one(world, client):  # noqa: F811
    attacker, victim = world
    s = attacker.admin
    img = s.ok("POST", "/v1/images", {"name": "probe", "disk_format": "qcow2", "visibility": "shared"})
    missing = new_id()

    def shape(r: Any, org_id: str) -> tuple[int, Any]:
        body = r.json()
        body.pop("created_at", None), body.pop("updated_at", None)
        return r.status_code, {k: (v if v != org_id else "<org>") for k, v in body.items()}

    real = shape(s.post(f"/v1/images/{img['id']}/members", json={"org_id": victim.org["id"]}), victim.org["id"])
    fake = shape(s.post(f"/v1/images/{img['id']}/members", json={"org_id": missing}), missing)
    assert real == fake == (201, {"image_id": img["id"], "org_id": "<org>", "status": "pending"})
    members = s.ok("GET", f"/v1/images/{img['id']}/members")["items"]
    assert sorted((m["org_id"], m["status"]) for m in members) == sorted(
        [(victim.org["id"], "pending"), (missing, "pending")])
    # the same through Glance
    real = shape(client.post(f"/image/v2/images/{img['id']}/members", json={"member": victim.org["id"]},
                             headers=h(attacker.token)), victim.org["id"])
    other = new_id()
    fake = shape(client.post(f"/image/v2/images/{img['id']}/members", json={"member": other},
                             headers=h(attacker.token)), other)
    assert real == fake and real[0] == 200 and real[1]["member_id"] == "<org>", (real, fake)
    # the owner sees its members through Glance too; the member only its own membership
    listed = client.get(f"/image/v2/images/{img['id']}/members", headers=h(attacker.token)).json()["members"]
    assert len(listed) == 3 and {m["status"] for m in listed} == {"pending"}
    mine = client.get(f"/image/v2/images/{img['id']}/members", headers=h(victim.token)).json()["members"]
    assert [m["member_id"] for m in mine] == [victim.org["id"]]
    r = client.get(f"/image/v2/images/{img['id']}/members/{victim.org['id']}", headers=h(victim.token))
    assert r.status_code == 200 and r.json()["status"] == "pending"
    r = client.delete(f"/image/v2/images/{img['id']}/members/{missing}", headers=h(attacker.token))
    assert r.status_code == 204
    r = client.put(f"/image/v2/images/{img['id']}/members/{victim.org['id']}", json={"status": "maybe"},
                   headers=h(victim.token))
    assert r.status_code == 400
