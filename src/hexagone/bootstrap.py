"""The composition root: the only module that knows which concrete parts exist and wires them."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hexagone.api.app import create_app, wrap
from hexagone.audit.service import Actor
from hexagone.clock import Clock, SystemClock
from hexagone.db.base import Database
from hexagone.db.migrate import upgrade
from hexagone.db.models import Organisation, Region, RoleGrant, User, Zone
from hexagone.identity.credentials import Hasher
from hexagone.ids import new_id
from hexagone.settings import Settings
from hexagone.usecase import UseCase

log = logging.getLogger("hexagone.bootstrap")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    hasher: Hasher


def build_runtime(settings: Settings, clock: Clock | None = None, db: Database | None = None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    hasher = Hasher(settings.hashing_key(), settings.argon2_time_cost, settings.argon2_memory_kib,
                    settings.argon2_parallelism, settings.hash_queue_max, settings.hash_queue_seconds)
    return Runtime(settings, db or Database(settings.resolved_database_url()), clock or SystemClock(), hasher)


def build_asgi(rt: Runtime, periodic_jobs: bool = True):  # type: ignore[no-untyped-def]
    """The ASGI app. ``periodic_jobs=False`` leaves out the loop of periodic jobs (tests that move
    a frozen clock run those jobs themselves, at the instants they choose)."""
    app = create_app(rt.settings, rt.db, rt.clock, rt.hasher, extras={"periodic_jobs": periodic_jobs})
    return wrap(app, rt.settings)


@dataclass
class InitResult:
    created: bool
    admin_name: str
    admin_password: str | None  # only when generated now
    operator_id: str


def initialise(rt: Runtime) -> InitResult:
    """Migrate the schema, then create the operator organisation, its first administrator and the
    local region on first run. Safe to repeat: an existing operator is left untouched."""
    upgrade(rt.db.engine)
    s = rt.settings
    with rt.db.write() as session:
        root = session.execute(select(Organisation).where(Organisation.parent_id.is_(None))).scalar_one_or_none()
        if root is not None:
            return InitResult(False, s.admin_user, None, root.id)
        now = rt.clock.now()
        uc = UseCase(session=session, now=now, settings=s, hasher=rt.hasher,
                     actor=Actor(name="bootstrap", source_ip="local"))
        oid = new_id()
        root = Organisation(id=oid, parent_id=None, kind="operator", name=s.operator_name, path=f"/{oid}/",
                            depth=0, legal_name=s.operator_name, country=s.region_country, status="active",
                            mfa_required=False, residency={}, created_at=now, updated_at=now)
        session.add(root)
        generated = s.admin_password is None
        password = secrets.token_urlsafe(18) if generated else s.admin_password.get_secret_value()  # type: ignore[union-attr]
        user = User(id=new_id(), org_id=oid, org_path=root.path, name=s.admin_user, email="",
                    password_hash=rt.hasher.hash_password(password), password_changed_at=now,
                    totp_enabled=False, totp_last_step=0, recovery_codes=[], failed_logins=0, enabled=True,
                    created_at=now, updated_at=now)
        session.add(user)
        session.flush()
        session.add(RoleGrant(id=new_id(), user_id=user.id, role="owner", scope_type="org", scope_id=oid,
                              scope_path=root.path, created_at=now))
        region = Region(id=new_id(), name=s.region, country=s.region_country, legal_entity=s.operator_name,
                        description="One-machine region", created_at=now)
        session.add(region)
        session.flush()
        session.add(Zone(id=new_id(), region_id=region.id, name=f"{s.region}-a", created_at=now))
        uc.audit("operator.bootstrap", "organisation", oid, oid, root.path,
                 details={"admin": s.admin_user, "region": s.region})
        return InitResult(True, s.admin_user, password if generated else None, oid)


def local_join_token(rt: Runtime, ttl_seconds: int = 3600) -> str:
    """A join token for the agent `hexagone up` starts on this machine (written directly: the
    server process is the operator here)."""
    import datetime as dt

    from hexagone.db.compute_models import HostJoinToken

    raw = "hxj_" + secrets.token_urlsafe(32)
    with rt.db.write() as session:
        region = session.execute(select(Region).where(Region.name == rt.settings.region)).scalar_one()
        zone = session.execute(select(Zone).where(Zone.region_id == region.id).order_by(Zone.name)).scalars().first()
        assert zone is not None
        now = rt.clock.now()
        session.add(HostJoinToken(id=new_id(), token_hash=rt.hasher.keyed(raw), region_id=region.id,
                                  zone_id=zone.id, expires_at=now + dt.timedelta(seconds=ttl_seconds), created_at=now))
    return raw


def ensure_catalogue(rt: Runtime, image_dir: Path | None) -> list[str]:
    """Default flavors and, when given, the tiny system image: what a fresh region needs to boot."""
    from hexagone.db.compute_models import Flavor

    done = []
    with rt.db.write() as session:
        now = rt.clock.now()
        for name, vcpus, ram, disk in (("tiny", 1, 256, 1), ("small", 1, 1024, 10), ("medium", 2, 4096, 40)):
            if session.execute(select(Flavor.id).where(Flavor.name == name)).first() is None:
                session.add(Flavor(id=new_id(), name=name, vcpus=vcpus, ram_mb=ram, disk_gb=disk, is_public=True,
                                   description="", disabled=False, created_at=now))
                done.append(f"flavor {name}")
        if image_dir is not None:
            from hexagone.compute.images import register_system_image

            uc = UseCase(session=session, now=now, settings=rt.settings, hasher=rt.hasher,
                         actor=Actor(name="bootstrap", source_ip="local"))
            register_system_image(uc, "tiny", image_dir)
            done.append("image tiny")
    return done
