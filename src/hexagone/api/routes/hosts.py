"""/v1/hosts (operator) and /v1/agent (host agents, authenticated by their host credential)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import FileResponse
from pydantic import Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hexagone.api.deps import UC, PageQ, page_body
from hexagone.api.routing import AGENT, PUBLIC, endpoint, new_router
from hexagone.api.schemas import Strict
from hexagone.compute import hosts, states
from hexagone.db.compute_models import Host, Image, Instance
from hexagone.db.pagination import paginate
from hexagone.errors import NotFound
from hexagone.identity.orgs import org_target, root_org

router = new_router("/v1/hosts", "hosts")
agent_router = new_router("/v1/agent", "agent")


class JoinTokenIn(Strict):
    region: str = Field(min_length=1, max_length=63)
    zone: str | None = Field(None, max_length=63)
    ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)


class HostPatch(Strict):
    status: Literal["up", "disabled"] | None = None
    cpu_ratio: float | None = None
    ram_ratio: float | None = None
    disk_ratio: float | None = None


class Inventory(Strict):
    vcpus: int = Field(ge=0, le=100_000)
    ram_mb: int = Field(ge=0, le=2**40)
    disk_gb: int = Field(ge=0, le=2**31)
    capabilities: dict[str, Any] = Field(default_factory=dict, max_length=64)
    agent_version: str = Field("", max_length=32)


class JoinIn(Strict):
    join_token: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    inventory: Inventory


class Observation(Strict):
    """One instance as observed; a field left out is not changed."""

    instance_id: str = Field(max_length=64)
    power_state: states.ObservedPower
    guest_ready: bool | None = None
    reboot_seq_done: int | None = Field(None, ge=-1)
    accel: str | None = Field(None, max_length=8)
    detail: str | None = Field(None, max_length=1000)
    console_tail: str | None = Field(None, max_length=65536)
    destroyed: bool = Field(False, description="The agent destroyed this (deleting) instance's guest.")


class ReportIn(Strict):
    boot_id: str = Field(min_length=1, max_length=64, description="The agent process's own id, new at each start.")
    seq: int = Field(ge=0, description="Grows with each report of the same boot; older or repeated ones are ignored.")
    revision: int = Field(ge=0, description="The desired-state revision the observations were taken against.")
    observations: list[Observation] = Field(default_factory=list, max_length=5000)
    unmanaged: list[str] = Field(default_factory=list, max_length=1000)


@endpoint(router, "POST", "/join-tokens", permission="host.create", status_code=201)
def create_join_token(body: JoinTokenIn, uc: UC) -> dict[str, Any]:
    """A one-time token a new compute host exchanges for its own credential (shown once; never
    replayed by Idempotency-Key, since the secret is not stored — a retry simply makes another)."""
    row, raw = hosts.create_join_token(uc, body.region, body.zone, body.ttl_seconds)
    return {"id": row.id, "join_token": raw, "expires_at": row.expires_at}


@endpoint(router, "GET", "", permission="host.read")
def list_hosts(uc: UC, page: PageQ, status: Annotated[str | None, Query(max_length=16)] = None) -> dict[str, Any]:
    uc.authorize(org_target(root_org(uc)), "host.update", what="host")
    stmt = select(Host)
    if status:
        stmt = stmt.where(Host.status == status)
    items, cursor = paginate(uc.session, stmt, Host.id, page.limit, page.cursor)
    return page_body([hosts.host_out(h, uc.now) for h in items], cursor)


@endpoint(router, "GET", "/{host_id}", permission="host.read")
def get_host(host_id: str, uc: UC) -> dict[str, Any]:
    uc.authorize(org_target(root_org(uc)), "host.update", what="host")
    return hosts.host_out(hosts.load_host(uc, host_id), uc.now)


@endpoint(router, "PATCH", "/{host_id}", permission="host.update")
def update_host(host_id: str, body: HostPatch, uc: UC) -> dict[str, Any]:
    """Disable a host (no new placements) or change its overcommit ratios."""
    return hosts.host_out(hosts.update_host(uc, host_id, body.model_dump(exclude_unset=True)), uc.now)


# --- agents ---------------------------------------------------------------------------------------------

@endpoint(agent_router, "POST", "/join", permission=PUBLIC, status_code=201)
def join(body: JoinIn, uc: UC) -> dict[str, Any]:
    host, credential = hosts.join(uc, body.join_token, body.name, body.inventory.model_dump())
    return {"host_id": host.id, "credential": credential, "region_id": host.region_id, "zone_id": host.zone_id}


@endpoint(agent_router, "POST", "/heartbeat", permission=AGENT)
def heartbeat(body: Inventory, uc: UC) -> dict[str, Any]:
    return hosts.heartbeat(uc, uc.extras["host"], body.model_dump())


@endpoint(agent_router, "POST", "/report", permission=AGENT)
def report(body: ReportIn, uc: UC) -> dict[str, Any]:
    """What the agent observes: power state, guest readiness, console tail, unmanaged VMs.
    Answers ``stale: true`` (and changes nothing) for a report not newer than the last applied one."""
    rep = hosts.Report(
        boot_id=body.boot_id, seq=body.seq, revision=body.revision, unmanaged=body.unmanaged,
        observations=[hosts.Observation(**o.model_dump()) for o in body.observations],
    )
    return hosts.report(uc, uc.extras["host"], rep)


@endpoint(agent_router, "GET", "/desired", permission=AGENT)
async def desired(
    uc: UC, request: Request,
    revision: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=60)] = 0,
) -> dict[str, Any]:
    """The host's desired state. Long-poll: with ``wait``, answers as soon as the revision differs
    from ``revision`` (woken in-process; re-checked every 5 s for changes made by other workers),
    or after ``wait`` seconds with ``changed: false``. Holds no database connection while waiting."""
    host: Host = uc.extras["host"]
    host_id = host.id
    base_url = request.app.state.settings.resolved_public_url()
    db = request.app.state.db
    notifier = request.app.state.extras.get("notifier")
    await run_in_threadpool(uc.session.close)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait

    def current() -> int:
        with db.read() as s:
            return int(s.execute(select(Host.desired_revision).where(Host.id == host_id)).scalar_one())

    while True:
        event = notifier.subscribe(host_id) if notifier is not None else None
        try:
            rev = await run_in_threadpool(current)
            remaining = deadline - loop.time()
            if rev != revision or remaining <= 0:
                break
            if event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, 5.0))
            else:
                await asyncio.sleep(min(remaining, 1.0))
        finally:
            if event is not None:
                notifier.unsubscribe(host_id, event)
    if rev == revision:
        return {"host_id": host_id, "revision": rev, "changed": False}

    def full() -> dict[str, Any]:
        with db.read() as s:
            uc.session = s
            h = s.get(Host, host_id)
            return {**hosts.desired_state(uc, h, base_url), "changed": True}

    return await run_in_threadpool(full)


@endpoint(agent_router, "GET", "/images/{image_id}/{part}", permission=AGENT)
def image_file(image_id: str, part: Literal["disk", "kernel", "initrd"], uc: UC) -> FileResponse:
    """Image data for agents that need it to boot an instance placed on their host."""
    from hexagone.compute.images import image_files

    host: Host = uc.extras["host"]
    image = uc.session.get(Image, image_id)
    # Only an image one of this host's instances boots from: a host's credential is not a key to
    # every tenant's private images.
    booted_here = select(Instance.id).where(
        Instance.host_id == host.id, Instance.image_id == image_id, Instance.state != states.DELETED
    ).limit(1)
    if image is None or image.status != "active" or uc.session.execute(booted_here).first() is None:
        raise NotFound("The image does not exist, is not active, or no instance of this host uses it.")
    files = image_files(uc.settings, image)
    path = files.get(part)
    if not path or not Path(path).exists():
        raise NotFound(f"The image has no {part} file.")
    return FileResponse(path, media_type="application/octet-stream")
