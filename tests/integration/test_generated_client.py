"""A client generated from docs/openapi.json by openapi-python-client (at test time, into a temporary
directory) drives a real region: logs in, creates a project, a keypair and a server (fake driver,
a real agent), lists them and deletes them. Proves the published document is usable as it stands:
typed models for answers and for problems, the upload's octet-stream body, bearer authentication."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hexagone.bootstrap import Runtime, ensure_catalogue
from hexagone.compute.drivers.fake import FakeDriver
from tests.conftest import ADMIN_PASSWORD
from tests.integration.compute_helpers import small_qcow2
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("generated-client")
    tool = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(tool), "generate", "--path", str(ROOT / "docs" / "openapi.json"), "--meta", "none",
         "--config", str(ROOT / "tests" / "integration" / "fuzz" / "client-config.yaml"),
         "--output-path", str(out / "hexagone_client"), "--fail-on-warning"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("hexagone_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "hexagone_client" or m.startswith("hexagone_client.")]:
            del sys.modules[name]


def _call(module: Any, status: int, **kwargs: Any) -> Any:
    response = module.sync_detailed(**kwargs)
    assert response.status_code == status, (module.__name__, response.status_code, response.content[:500])
    return response.parsed


def test_generated_client_runs_a_tenant_day(hx: Any, rt: Runtime, tmp_path: Path) -> None:
    from hexagone_client import AuthenticatedClient, Client
    from hexagone_client.api.auth import login as login_op
    from hexagone_client.api.auth import logout, whoami
    from hexagone_client.api.catalogue import create_image, create_keypair, delete_keypair, list_keypairs, upload_image
    from hexagone_client.api.compute import create_instance, delete_instance, get_instance, list_instances
    from hexagone_client.api.organisations import create_org, create_project, delete_project, list_projects
    from hexagone_client.models import ImageIn, InstanceIn, KeypairIn, LoginIn, OrgIn, ProjectIn
    from hexagone_client.types import File

    ensure_catalogue(rt, None)
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", FakeDriver()).start()
        try:
            with Client(base_url=url) as anonymous:
                login = _call(login_op, 201, client=anonymous, body=LoginIn(username="admin", password=ADMIN_PASSWORD))
            with AuthenticatedClient(base_url=url, token=login.token) as c:
                me = _call(whoami, 200, client=c)
                org = _call(create_org, 201, client=c,
                            body=OrgIn(parent_id=me.organisation.id, kind="customer", name="Generated client"))
                project = _call(create_project, 201, client=c, body=ProjectIn(org_id=org.id, name="web"))
                keypair = _call(create_keypair, 201, client=c, body=KeypairIn(name="laptop"))
                assert keypair.private_key and keypair.public_key.startswith("ssh-ed25519 ")
                image = _call(create_image, 201, client=c, body=ImageIn(name="cirros", disk_format="qcow2"))
                data = File(payload=small_qcow2(tmp_path), mime_type="application/octet-stream")
                uploaded = _call(upload_image, 200, client=c, image_id=image.id, body=data)
                assert uploaded.status == "active"
                server = _call(create_instance, 202, client=c, body=InstanceIn(
                    project_id=project.id, name="web-1", flavor="tiny", image=image.id, key_name="laptop"))
                assert server.state == "BUILDING"
                wait_for(lambda: _call(get_instance, 200, client=c, instance_id=server.id).state == "RUNNING")

                assert [p.id for p in _call(list_projects, 200, client=c, org_id=org.id).items] == [project.id]
                assert [k.name for k in _call(list_keypairs, 200, client=c).items] == ["laptop"]
                assert [s.id for s in _call(list_instances, 200, client=c, project_id=project.id).items] == [
                    server.id]

                assert _call(delete_instance, 202, client=c, instance_id=server.id).id == server.id
                wait_for(lambda: get_instance.sync_detailed(client=c, instance_id=server.id).status_code == 404)
                _call(delete_keypair, 204, client=c, name="laptop")
                assert _call(list_keypairs, 200, client=c).items == []
                # once its servers are deleted a project can go (usage and audit records stay); then a
                # typed 404 problem
                _call(delete_project, 204, client=c, project_id=project.id)
                assert _call(list_projects, 200, client=c, org_id=org.id).items == []
                assert _call(delete_project, 404, client=c, project_id=project.id).status == 404
                _call(logout, 204, client=c)
                assert whoami.sync_detailed(client=c).status_code == 401
        finally:
            agent.stop()
