# ruff: noqa: E501  (the expected table is aligned in columns on purpose)
"""Every endpoint x every kind of caller x own tenant / another tenant, against a table written here.

Callers (columns, in this order): the operator's administrator; an owner, admin, member, reader and
billing user of reseller A; a user of A's customer holding only a member role on one project; an
API key (member role on reseller A); an unauthenticated caller. "own" requests touch tenant A's
resources, "other" ones tenant B's. ``None`` marks requests that name no tenant (self-service,
the public catalogue). A 400 is a request the policy allowed but whose content was refused.

Adding an endpoint without a policy, or without a row here, fails this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from hexagone.api.app import create_app
from hexagone.api.routing import POLICIES
from hexagone.identity import totp
from hexagone.ids import new_id
from hexagone.settings import Settings
from tests.helpers import PASSWORD
from tests.integration.matrix_helpers import (
    CALLERS,
    DOCS_ROUTES,
    World,
    build_world,
    flat_routes,
    strip,
    uniq,
)

pytestmark = pytest.mark.integration

ALL_200 = "200 200 200 200 200 200 200 200 200"
AUTH_200 = "200 200 200 200 200 200 200 200 401"
OPERATOR_ONLY_200 = "200 404 404 404 404 404 404 404 401"
OPERATOR_ONLY_201 = "201 404 404 404 404 404 404 404 401"
OPERATOR_ONLY_204 = "204 404 404 404 404 404 404 404 401"

#                                                 op  own adm mem rea bil pm  key anon
EXPECTED: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/v1/openapi.json"):                   (ALL_200, None),
    ("GET", "/v1/docs"):                           (ALL_200, None),
    ("GET", "/docs/oauth2-redirect"):              (ALL_200, None),
    ("GET", "/v1/health"):                         (ALL_200, None),
    ("POST", "/v1/auth/login"):                    ("201 201 201 201 201 201 201 201 201", None),
    ("POST", "/v1/auth/logout"):                   ("204 204 204 204 204 204 204 400 401", None),
    ("GET", "/v1/auth/whoami"):                    (AUTH_200, None),
    ("POST", "/v1/auth/totp"):                     ("201 201 201 201 201 201 201 403 401", None),
    ("POST", "/v1/auth/totp/confirm"):             ("200 200 200 200 200 200 200 403 401", None),
    ("POST", "/v1/auth/totp/disable"):             ("204 204 204 204 204 204 204 403 401", None),
    ("POST", "/v1/auth/password"):                 ("204 204 204 204 204 204 204 403 401", None),
    ("POST", "/v1/organisations"):                 ("201 201 201 403 403 403 404 403 401", OPERATOR_ONLY_201),
    ("GET", "/v1/organisations"):                  (AUTH_200, AUTH_200),
    ("GET", "/v1/organisations/{org_id}"):         ("200 200 200 200 200 200 403 200 401", OPERATOR_ONLY_200),
    ("PATCH", "/v1/organisations/{org_id}"):       ("200 200 200 403 403 403 403 403 401", OPERATOR_ONLY_200),
    ("DELETE", "/v1/organisations/{org_id}"):      ("204 204 403 403 403 403 404 403 401", OPERATOR_ONLY_204),
    ("POST", "/v1/projects"):                      ("201 201 201 403 403 403 403 403 401", OPERATOR_ONLY_201),
    ("GET", "/v1/projects"):                       (AUTH_200, AUTH_200),
    ("GET", "/v1/projects/{project_id}"):          (AUTH_200, OPERATOR_ONLY_200),
    ("PATCH", "/v1/projects/{project_id}"):        ("200 200 200 403 403 403 403 403 401", OPERATOR_ONLY_200),
    ("DELETE", "/v1/projects/{project_id}"):       ("204 204 204 403 403 403 403 403 401", OPERATOR_ONLY_204),
    ("POST", "/v1/users"):                         ("201 201 201 403 403 403 403 403 401", OPERATOR_ONLY_201),
    ("GET", "/v1/users"):                          (AUTH_200, AUTH_200),
    ("GET", "/v1/users/{user_id}"):                ("200 200 200 200 200 403 404 200 401", OPERATOR_ONLY_200),
    ("PATCH", "/v1/users/{user_id}"):              ("200 200 200 403 403 403 404 403 401", OPERATOR_ONLY_200),
    ("DELETE", "/v1/users/{user_id}"):             ("204 204 204 403 403 403 404 403 401", OPERATOR_ONLY_204),
    ("POST", "/v1/role-grants"):                   ("201 201 201 403 403 403 403 403 401", OPERATOR_ONLY_201),
    ("GET", "/v1/role-grants"):                    (AUTH_200, AUTH_200),
    ("DELETE", "/v1/role-grants/{grant_id}"):      ("204 204 204 403 403 403 403 403 401", OPERATOR_ONLY_204),
    ("POST", "/v1/api-keys"):                      ("201 201 201 201 403 403 403 403 401", OPERATOR_ONLY_201),
    ("GET", "/v1/api-keys"):                       (AUTH_200, None),
    ("DELETE", "/v1/api-keys/{key_id}"):           ("204 204 204 403 403 403 403 403 401", OPERATOR_ONLY_204),
    ("POST", "/v1/regions"):                       (OPERATOR_ONLY_201, None),
    ("GET", "/v1/regions"):                        (AUTH_200, None),
    ("GET", "/v1/regions/{region_id}"):            (AUTH_200, None),
    ("PATCH", "/v1/regions/{region_id}"):          (OPERATOR_ONLY_200, None),
    ("POST", "/v1/regions/{region_id}/zones"):     (OPERATOR_ONLY_201, None),
    ("GET", "/v1/audit/events"):                   ("200 200 200 403 403 403 403 403 401", OPERATOR_ONLY_200),
    ("GET", "/v1/audit/export"):                   ("200 200 200 403 403 403 403 403 401", OPERATOR_ONLY_200),
    ("GET", "/v1/audit/verify"):                   (OPERATOR_ONLY_200, None),
    # OpenStack facade (issue 5). Version documents are public; Keystone password auth answers 201
    # to any caller. The other facade routes answer OpenStack error shapes, not problem+json, and
    # need a project-scoped Keystone token: their isolation matrix is in test_openstack_api.py.
    ("GET", "/identity"): ("300 300 300 300 300 300 300 300 300", None),
    ("GET", "/identity/"): ("300 300 300 300 300 300 300 300 300", None),
    ("GET", "/identity/v3"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/identity/v3/"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute/"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute/v2"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute/v2/"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute/v2.1"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/compute/v2.1/"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/image"): ("300 300 300 300 300 300 300 300 300", None),
    ("GET", "/image/"): ("300 300 300 300 300 300 300 300 300", None),
    ("GET", "/image/versions"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/networking"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/networking/"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/networking/v2.0"): ("200 200 200 200 200 200 200 200 200", None),
    ("GET", "/networking/v2.0/extensions"): ("200 200 200 200 200 200 200 200 200", None),
    ("POST", "/identity/v3/auth/tokens"): ("201 201 201 201 201 201 201 201 201", None),
    ("GET", "/image/v2/images"): (None, None),
    ("POST", "/image/v2/images"): (None, None),
    ("GET", "/image/v2/images/{image_id}"): (None, None),
    ("PATCH", "/image/v2/images/{image_id}"): (None, None),
    ("DELETE", "/image/v2/images/{image_id}"): (None, None),
    ("PUT", "/image/v2/images/{image_id}/file"): (None, None),
    ("GET", "/image/v2/images/{image_id}/file"): (None, None),
    ("GET", "/identity/v3/auth/tokens"): (None, None),
    ("DELETE", "/identity/v3/auth/tokens"): (None, None),
    ("GET", "/identity/v3/auth/projects"): (None, None),
    ("GET", "/identity/v3/auth/domains"): (None, None),
    ("GET", "/identity/v3/auth/catalog"): (None, None),
    ("GET", "/networking/v2.0/networks"): (None, None),
    ("GET", "/networking/v2.0/networks/{network_id}"): (None, None),
    ("GET", "/networking/v2.0/subnets"): (None, None),
    ("GET", "/networking/v2.0/subnets/{subnet_id}"): (None, None),
    ("GET", "/networking/v2.0/ports"): (None, None),
    ("GET", "/networking/v2.0/ports/{port_id}"): (None, None),
    ("GET", "/compute/v2.1/flavors"): (None, None),
    ("GET", "/compute/v2.1/flavors/detail"): (None, None),
    ("GET", "/compute/v2.1/flavors/{flavor_id}"): (None, None),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs"): (None, None),
    ("POST", "/compute/v2.1/os-keypairs"): (None, None),
    ("GET", "/compute/v2.1/os-keypairs"): (None, None),
    ("GET", "/compute/v2.1/os-keypairs/{name}"): (None, None),
    ("DELETE", "/compute/v2.1/os-keypairs/{name}"): (None, None),
    ("GET", "/compute/v2.1/limits"): (None, None),
    ("GET", "/compute/v2.1/os-server-groups"): (None, None),
    ("POST", "/compute/v2.1/os-server-groups"): (None, None),
    ("GET", "/compute/v2.1/os-server-groups/{group_id}"): (None, None),
    ("DELETE", "/compute/v2.1/os-server-groups/{group_id}"): (None, None),
    ("POST", "/compute/v2.1/servers"): (None, None),
    ("GET", "/compute/v2.1/servers"): (None, None),
    ("GET", "/compute/v2.1/servers/detail"): (None, None),
    ("GET", "/compute/v2.1/servers/{server_id}"): (None, None),
    ("PUT", "/compute/v2.1/servers/{server_id}"): (None, None),
    ("DELETE", "/compute/v2.1/servers/{server_id}"): (None, None),
    ("POST", "/compute/v2.1/servers/{server_id}/action"): (None, None),
    ("GET", "/compute/v2.1/servers/{server_id}/ips"): (None, None),
    ("GET", "/compute/v2.1/servers/{server_id}/ips/{network}"): (None, None),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata"): (None, None),
}


@dataclass
class Req:
    path: str
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    credential: str | None = "caller"  # "caller": the caller's own; None: no credential; else this one

    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


Build = Callable[[World, str, str], Req]


def _totp_secret_for(w: World, caller: str) -> tuple[str | None, str]:
    cred, _ = w.fresh_credential(caller)
    if cred is None:
        return None, ""
    r = w.client.post("/v1/auth/totp", headers={"Authorization": f"Bearer {cred}"})
    return cred, r.json().get("secret", "") if r.status_code == 201 else ""


def build_totp_confirm(w: World, which: str, caller: str) -> Req:
    cred, secret = _totp_secret_for(w, caller)
    code = totp.code_at(secret, totp.step_of(w.now())) if secret else "123456"
    return Req("/v1/auth/totp/confirm", {"code": code}, credential=cred)


def build_totp_disable(w: World, which: str, caller: str) -> Req:
    cred, secret = _totp_secret_for(w, caller)
    if not secret:
        return Req("/v1/auth/totp/disable", {"code": "123456"}, credential=cred)
    step = totp.step_of(w.now())
    h = {"Authorization": f"Bearer {cred}"}
    r = w.client.post("/v1/auth/totp/confirm", json={"code": totp.code_at(secret, step)}, headers=h)
    assert r.status_code == 200, r.text
    return Req("/v1/auth/totp/disable", {"code": totp.code_at(secret, step + 1)}, credential=cred)


def own_cred(w: World, which: str, caller: str) -> str | None:
    return w.fresh_credential(caller)[0]


BUILDERS: dict[tuple[str, str], Build] = {
    ("GET", "/v1/openapi.json"): lambda w, t, c: Req("/v1/openapi.json"),
    ("GET", "/v1/docs"): lambda w, t, c: Req("/v1/docs"),
    ("GET", "/docs/oauth2-redirect"): lambda w, t, c: Req("/docs/oauth2-redirect"),
    ("GET", "/v1/health"): lambda w, t, c: Req("/v1/health"),
    ("POST", "/v1/auth/login"): lambda w, t, c: Req("/v1/auth/login", {"username": w.a.user["name"],
                                                                       "password": PASSWORD}),
    ("POST", "/v1/auth/logout"): lambda w, t, c: Req("/v1/auth/logout", credential=own_cred(w, t, c)),
    ("GET", "/v1/auth/whoami"): lambda w, t, c: Req("/v1/auth/whoami"),
    ("POST", "/v1/auth/totp"): lambda w, t, c: Req("/v1/auth/totp", credential=own_cred(w, t, c)),
    ("POST", "/v1/auth/totp/confirm"): build_totp_confirm,
    ("POST", "/v1/auth/totp/disable"): build_totp_disable,
    ("POST", "/v1/auth/password"): lambda w, t, c: Req(
        "/v1/auth/password", {"current_password": PASSWORD, "new_password": "another-long-passphrase-2"},
        credential=own_cred(w, t, c)),
    ("POST", "/v1/organisations"): lambda w, t, c: Req(
        "/v1/organisations", {"parent_id": w.tenant(t).reseller["id"], "kind": "customer", "name": uniq("new-c")}),
    ("GET", "/v1/organisations"): lambda w, t, c: Req(
        "/v1/organisations", query={"parent_id": w.tenant(t).reseller["id"]}),
    ("GET", "/v1/organisations/{org_id}"): lambda w, t, c: Req(f"/v1/organisations/{w.tenant(t).customer['id']}"),
    ("PATCH", "/v1/organisations/{org_id}"): lambda w, t, c: Req(
        f"/v1/organisations/{w.tenant(t).customer['id']}", {"address": uniq("1 rue ")}),
    ("DELETE", "/v1/organisations/{org_id}"): lambda w, t, c: Req(f"/v1/organisations/{w.fresh_customer(t)['id']}"),
    ("POST", "/v1/projects"): lambda w, t, c: Req(
        "/v1/projects", {"org_id": w.tenant(t).customer["id"], "name": uniq("new-p")}),
    ("GET", "/v1/projects"): lambda w, t, c: Req("/v1/projects", query={"org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/projects/{project_id}"): lambda w, t, c: Req(f"/v1/projects/{w.tenant(t).project['id']}"),
    ("PATCH", "/v1/projects/{project_id}"): lambda w, t, c: Req(
        f"/v1/projects/{w.tenant(t).project['id']}", {"description": uniq("d")}),
    ("DELETE", "/v1/projects/{project_id}"): lambda w, t, c: Req(f"/v1/projects/{w.fresh_project(t)['id']}"),
    ("POST", "/v1/users"): lambda w, t, c: Req(
        "/v1/users", {"org_id": w.tenant(t).customer["id"], "name": uniq("new-u"), "password": PASSWORD,
                      "roles": ["reader"]}),
    ("GET", "/v1/users"): lambda w, t, c: Req("/v1/users", query={"org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/users/{user_id}"): lambda w, t, c: Req(f"/v1/users/{w.tenant(t).user['id']}"),
    ("PATCH", "/v1/users/{user_id}"): lambda w, t, c: Req(
        f"/v1/users/{w.tenant(t).user['id']}", {"email": uniq("u") + "@example.org"}),
    ("DELETE", "/v1/users/{user_id}"): lambda w, t, c: Req(f"/v1/users/{w.fresh_user(t)['id']}"),
    ("POST", "/v1/role-grants"): lambda w, t, c: Req(
        "/v1/role-grants", {"user_id": w.tenant(t).user["id"], "role": "reader", "scope_type": "project",
                            "scope_id": w.tenant(t).project["id"]}),
    ("GET", "/v1/role-grants"): lambda w, t, c: Req("/v1/role-grants", query={"user_id": w.tenant(t).user["id"]}),
    ("DELETE", "/v1/role-grants/{grant_id}"): lambda w, t, c: Req(f"/v1/role-grants/{w.fresh_grant(t)['id']}"),
    ("POST", "/v1/api-keys"): lambda w, t, c: Req(
        "/v1/api-keys", {"name": uniq("k"), "scope_type": "org", "scope_id": w.tenant(t).customer["id"],
                         "role": "reader"}),
    ("GET", "/v1/api-keys"): lambda w, t, c: Req("/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{key_id}"): lambda w, t, c: Req(f"/v1/api-keys/{w.fresh_key(t)['id']}"),
    ("POST", "/v1/regions"): lambda w, t, c: Req(
        "/v1/regions", {"name": uniq("region-"), "country": "FR", "legal_entity": "Op SAS"}),
    ("GET", "/v1/regions"): lambda w, t, c: Req("/v1/regions"),
    ("GET", "/v1/regions/{region_id}"): lambda w, t, c: Req("/v1/regions/local"),
    ("PATCH", "/v1/regions/{region_id}"): lambda w, t, c: Req("/v1/regions/local", {"description": uniq("d")}),
    ("POST", "/v1/regions/{region_id}/zones"): lambda w, t, c: Req("/v1/regions/local/zones",
                                                                   {"name": uniq("zone-")}),
    ("GET", "/v1/audit/events"): lambda w, t, c: Req("/v1/audit/events",
                                                     query={"org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/audit/export"): lambda w, t, c: Req("/v1/audit/export",
                                                     query={"org_id": w.tenant(t).customer["id"], "format": "csv"}),
    ("GET", "/v1/audit/verify"): lambda w, t, c: Req("/v1/audit/verify"),
    # OpenStack facade (issue 5): see the note in EXPECTED.
    ("GET", "/identity"): lambda w, t, c: Req("/identity"),
    ("GET", "/identity/"): lambda w, t, c: Req("/identity/"),
    ("GET", "/identity/v3"): lambda w, t, c: Req("/identity/v3"),
    ("GET", "/identity/v3/"): lambda w, t, c: Req("/identity/v3/"),
    ("GET", "/compute"): lambda w, t, c: Req("/compute"),
    ("GET", "/compute/"): lambda w, t, c: Req("/compute/"),
    ("GET", "/compute/v2"): lambda w, t, c: Req("/compute/v2"),
    ("GET", "/compute/v2/"): lambda w, t, c: Req("/compute/v2/"),
    ("GET", "/compute/v2.1"): lambda w, t, c: Req("/compute/v2.1"),
    ("GET", "/compute/v2.1/"): lambda w, t, c: Req("/compute/v2.1/"),
    ("GET", "/image"): lambda w, t, c: Req("/image"),
    ("GET", "/image/"): lambda w, t, c: Req("/image/"),
    ("GET", "/image/versions"): lambda w, t, c: Req("/image/versions"),
    ("GET", "/networking"): lambda w, t, c: Req("/networking"),
    ("GET", "/networking/"): lambda w, t, c: Req("/networking/"),
    ("GET", "/networking/v2.0"): lambda w, t, c: Req("/networking/v2.0"),
    ("GET", "/networking/v2.0/extensions"): lambda w, t, c: Req("/networking/v2.0/extensions"),
    ("POST", "/identity/v3/auth/tokens"): lambda w, t, c: Req("/identity/v3/auth/tokens", {"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"name": w.a.user["name"], "password": PASSWORD}}}}}),
    ("GET", "/image/v2/images"): lambda w, t, c: Req("/image/v2/images"),
    ("POST", "/image/v2/images"): lambda w, t, c: Req("/image/v2/images"),
    ("GET", "/image/v2/images/{image_id}"): lambda w, t, c: Req("/image/v2/images/{image_id}"),
    ("PATCH", "/image/v2/images/{image_id}"): lambda w, t, c: Req("/image/v2/images/{image_id}"),
    ("DELETE", "/image/v2/images/{image_id}"): lambda w, t, c: Req("/image/v2/images/{image_id}"),
    ("PUT", "/image/v2/images/{image_id}/file"): lambda w, t, c: Req("/image/v2/images/{image_id}/file"),
    ("GET", "/image/v2/images/{image_id}/file"): lambda w, t, c: Req("/image/v2/images/{image_id}/file"),
    ("GET", "/identity/v3/auth/tokens"): lambda w, t, c: Req("/identity/v3/auth/tokens"),
    ("DELETE", "/identity/v3/auth/tokens"): lambda w, t, c: Req("/identity/v3/auth/tokens"),
    ("GET", "/identity/v3/auth/projects"): lambda w, t, c: Req("/identity/v3/auth/projects"),
    ("GET", "/identity/v3/auth/domains"): lambda w, t, c: Req("/identity/v3/auth/domains"),
    ("GET", "/identity/v3/auth/catalog"): lambda w, t, c: Req("/identity/v3/auth/catalog"),
    ("GET", "/networking/v2.0/networks"): lambda w, t, c: Req("/networking/v2.0/networks"),
    ("GET", "/networking/v2.0/networks/{network_id}"): lambda w, t, c: Req("/networking/v2.0/networks/{network_id}"),
    ("GET", "/networking/v2.0/subnets"): lambda w, t, c: Req("/networking/v2.0/subnets"),
    ("GET", "/networking/v2.0/subnets/{subnet_id}"): lambda w, t, c: Req("/networking/v2.0/subnets/{subnet_id}"),
    ("GET", "/networking/v2.0/ports"): lambda w, t, c: Req("/networking/v2.0/ports"),
    ("GET", "/networking/v2.0/ports/{port_id}"): lambda w, t, c: Req("/networking/v2.0/ports/{port_id}"),
    ("GET", "/compute/v2.1/flavors"): lambda w, t, c: Req("/compute/v2.1/flavors"),
    ("GET", "/compute/v2.1/flavors/detail"): lambda w, t, c: Req("/compute/v2.1/flavors/detail"),
    ("GET", "/compute/v2.1/flavors/{flavor_id}"): lambda w, t, c: Req("/compute/v2.1/flavors/{flavor_id}"),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs"): lambda w, t, c: Req("/compute/v2.1/flavors/{flavor_id}/os-extra_specs"),
    ("POST", "/compute/v2.1/os-keypairs"): lambda w, t, c: Req("/compute/v2.1/os-keypairs"),
    ("GET", "/compute/v2.1/os-keypairs"): lambda w, t, c: Req("/compute/v2.1/os-keypairs"),
    ("GET", "/compute/v2.1/os-keypairs/{name}"): lambda w, t, c: Req("/compute/v2.1/os-keypairs/{name}"),
    ("DELETE", "/compute/v2.1/os-keypairs/{name}"): lambda w, t, c: Req("/compute/v2.1/os-keypairs/{name}"),
    ("GET", "/compute/v2.1/limits"): lambda w, t, c: Req("/compute/v2.1/limits"),
    ("GET", "/compute/v2.1/os-server-groups"): lambda w, t, c: Req("/compute/v2.1/os-server-groups"),
    ("POST", "/compute/v2.1/os-server-groups"): lambda w, t, c: Req("/compute/v2.1/os-server-groups"),
    ("GET", "/compute/v2.1/os-server-groups/{group_id}"): lambda w, t, c: Req("/compute/v2.1/os-server-groups/{group_id}"),
    ("DELETE", "/compute/v2.1/os-server-groups/{group_id}"): lambda w, t, c: Req("/compute/v2.1/os-server-groups/{group_id}"),
    ("POST", "/compute/v2.1/servers"): lambda w, t, c: Req("/compute/v2.1/servers"),
    ("GET", "/compute/v2.1/servers"): lambda w, t, c: Req("/compute/v2.1/servers"),
    ("GET", "/compute/v2.1/servers/detail"): lambda w, t, c: Req("/compute/v2.1/servers/detail"),
    ("GET", "/compute/v2.1/servers/{server_id}"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}"),
    ("PUT", "/compute/v2.1/servers/{server_id}"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}"),
    ("DELETE", "/compute/v2.1/servers/{server_id}"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}"),
    ("POST", "/compute/v2.1/servers/{server_id}/action"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}/action"),
    ("GET", "/compute/v2.1/servers/{server_id}/ips"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}/ips"),
    ("GET", "/compute/v2.1/servers/{server_id}/ips/{network}"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}/ips/{network}"),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata"): lambda w, t, c: Req("/compute/v2.1/servers/{server_id}/metadata"),
}


def _app_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(), None, None, None)  # type: ignore[arg-type]
    return {(m, p) for m, p, _ in flat_routes(app)}


def test_every_route_declares_a_policy() -> None:
    """A route added without ``routing.endpoint(..., permission=...)`` fails here."""
    app = create_app(Settings(), None, None, None)  # type: ignore[arg-type]
    undeclared = []
    for method, path, fn in flat_routes(app):
        if (method, path) in DOCS_ROUTES:
            continue
        perm = getattr(fn, "__hexagone_permission__", None)
        if perm is None or POLICIES.get((method, path)) != perm:
            undeclared.append(f"{method} {path}")
    assert not undeclared, f"routes without a declared policy (use routing.endpoint): {undeclared}"


def test_expected_table_names_exactly_the_apps_routes() -> None:
    """A new endpoint needs a row in EXPECTED (and a request in BUILDERS); a removed one, its row removed."""
    routes = _app_routes()
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"endpoints missing from the policy matrix EXPECTED table: {missing}"
    assert not stale, f"EXPECTED names endpoints the app no longer serves: {stale}"
    assert set(BUILDERS) == set(EXPECTED), sorted(set(BUILDERS) ^ set(EXPECTED))
    for key, (own, other) in EXPECTED.items():
        for row in (own, other):
            assert row is None or len(row.split()) == len(CALLERS), key


def _send(w: World, method: str, req: Req, caller: str) -> Any:
    headers: dict[str, str] = {}
    if req.credential == "caller":
        session = w.callers[caller]
        if session is not None:
            headers["Authorization"] = f"Bearer {session.token}"
    elif req.credential is not None:
        headers["Authorization"] = f"Bearer {req.credential}"
    return w.client.request(method, req.url(), json=req.json, headers=headers)


def _substitute(req: Req, mapping: dict[str, str]) -> Req:
    def sub(s: str) -> str:
        for real, fake in mapping.items():
            s = s.replace(real, fake)
        return s

    import json

    body = json.loads(sub(json.dumps(req.json))) if req.json is not None else None
    return Req(sub(req.path), body, {k: sub(v) for k, v in req.query.items()}, req.credential)


def _mentions(req: Req, ident: str) -> bool:
    return ident in req.url() or (req.json is not None and ident in repr(req.json))


def test_policy_matrix(api: Any, rt: Any) -> None:
    w = build_world(api, rt.clock)
    routes = sorted(_app_routes())
    mismatches: list[str] = []
    leaks: list[str] = []
    not_like_missing: list[str] = []
    for method, path in routes:
        expected = EXPECTED.get((method, path))
        if expected is None:
            continue  # test_expected_table_names_exactly_the_apps_routes names it
        for which, row in zip(("own", "other"), expected, strict=True):
            if row is None:
                continue
            for caller, want in zip(CALLERS, row.split(), strict=True):
                req = BUILDERS[(method, path)](w, which, caller)
                if caller == "anon":
                    req.credential = None
                r = _send(w, method, req, caller)
                assert r.status_code < 500, f"{method} {req.url()} as {caller}: {r.status_code} {r.text}"
                if str(r.status_code) != want:
                    mismatches.append(f"{method} {path} [{which}] as {caller}: got {r.status_code}, "
                                      f"table says {want}: {r.text[:160]}")
                if r.status_code >= 400:
                    assert r.headers["content-type"].startswith("application/problem+json"), r.text
                if caller != "operator" and r.status_code < 300:
                    leaked = [i for i in w.b_ids if i in r.text and not _mentions(req, i)]
                    if leaked:
                        leaks.append(f"{method} {req.url()} as {caller} shows tenant B ids {leaked}")
                if which == "other" and r.status_code == 404 and caller in ("owner", "pmember", "apikey"):
                    named = [i for i in w.b_ids if _mentions(req, i)]
                    fakes = {i: new_id() for i in named}
                    missing_req = _substitute(req, fakes)
                    r2 = _send(w, method, missing_req, caller)
                    a = strip(r.json(), *[(i, "{id}") for i in named])
                    b = strip(r2.json(), *[(f, "{id}") for f in fakes.values()])
                    if r2.status_code != 404 or a != b:
                        not_like_missing.append(f"{method} {path} as {caller}: {r.text} vs {r2.text}")
    report = (["policy matrix mismatches:"] + mismatches if mismatches else []) + (
        ["tenant B ids shown to tenant A:"] + leaks if leaks else []) + (
        ["another tenant's resource answers differently from a missing one:"] + not_like_missing
        if not_like_missing else [])
    assert not report, "\n".join(report)
