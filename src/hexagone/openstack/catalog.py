"""The service catalogue and the deterministic OpenStack ids derived from Hexagone's.

Every region gets the same four services (identity, compute, image, network), each with a public,
internal and admin endpoint: one control plane serves all regions, so the URLs are the same and the
``region``/``region_id`` fields say which region an endpoint belongs to. Ids that OpenStack has
and Hexagone does not (services, endpoints, the default network of a region and its subnet, ports,
role ids) are UUIDv5 of stable Hexagone values, so they never change between requests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import Request
from sqlalchemy import select

from hexagone.db.models import Region
from hexagone.usecase import UseCase

NAMESPACE = uuid.UUID("6f1c7a52-2f55-5d4e-9a43-8d7d3c0e1b21")
SERVICES = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/networking"),
)
INTERFACES = ("public", "internal", "admin")


def derived_id(*parts: str) -> str:
    """A stable id for something OpenStack names and Hexagone does not store."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def hex_id(*parts: str) -> str:
    """Keystone's style of id (32 hex digits)."""
    return uuid.uuid5(NAMESPACE, "/".join(parts)).hex


def base_url(request: Request) -> str:
    """The URL clients reach this control plane at: ``public_url`` when set, else the request's."""
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def iso(value: dt.datetime | None) -> str | None:
    """Keystone's timestamp format: ``2026-11-26T14:23:42.000000Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(value: dt.datetime | None) -> str | None:
    """Nova's and Glance's timestamp format: ``2026-11-26T14:23:42Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def regions(uc: UseCase) -> list[Region]:
    return list(uc.session.execute(select(Region).order_by(Region.name)).scalars())


def catalog(uc: UseCase, base: str) -> list[dict[str, Any]]:
    out = []
    all_regions = regions(uc)
    for service_type, name, path in SERVICES:
        endpoints = [
            {
                "id": hex_id("endpoint", region.id, service_type, interface),
                "interface": interface,
                "region": region.name,
                "region_id": region.name,
                "url": base + path,
            }
            for region in all_regions
            for interface in INTERFACES
        ]
        out.append(
            {
                "id": hex_id("service", service_type),
                "type": service_type,
                "name": name,
                "endpoints": endpoints,
            }
        )
    return out


def network_names(uc: UseCase) -> dict[str, str]:
    """Region id -> name of its default network: ``default`` in this control plane's own region,
    ``default-<region>`` elsewhere (names must be unique for clients' find-by-name)."""
    home = uc.settings.region
    return {r.id: "default" if r.name == home else f"default-{r.name}" for r in regions(uc)}
