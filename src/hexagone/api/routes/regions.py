"""/v1/regions: regions and their zones, each with its jurisdiction."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select

from hexagone.api.deps import UC, IdemKey, PageQ, page_body
from hexagone.api.idempotency import run_create
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import RegionIn, RegionPatch, ZoneIn, region_out
from hexagone.api.schemas.identity import RegionOut, RegionPage, ZoneCreated
from hexagone.db.models import Region
from hexagone.db.pagination import paginate
from hexagone.identity import orgs

router = new_router("/v1/regions", "regions")


@endpoint(router, "POST", "", permission="region.create", status_code=201, response_model=RegionOut)
def create_region(body: RegionIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    def create() -> dict[str, Any]:
        region = orgs.create_region(uc, body.name, body.country, body.legal_entity, body.description)
        return region_out(region, [])

    return run_create(uc, idem, "POST", request.url.path, body, create)


@endpoint(router, "GET", "", permission="region.read", response_model=RegionPage)
def list_regions(uc: UC, page: PageQ) -> dict[str, Any]:
    items, cursor = paginate(uc.session, select(Region), Region.id, page.limit, page.cursor)
    return page_body([region_out(r, orgs.zones_of(uc, r.id)) for r in items], cursor)


@endpoint(router, "GET", "/{region_id}", permission="region.read", response_model=RegionOut)
def get_region(region_id: str, uc: UC) -> dict[str, Any]:
    region = orgs.load_region(uc, region_id)
    return region_out(region, orgs.zones_of(uc, region.id))


@endpoint(router, "PATCH", "/{region_id}", permission="region.update", response_model=RegionOut)
def update_region(region_id: str, body: RegionPatch, uc: UC) -> dict[str, Any]:
    region = orgs.update_region(uc, region_id, body.model_dump(exclude_unset=True))
    return region_out(region, orgs.zones_of(uc, region.id))


@endpoint(router, "POST", "/{region_id}/zones", permission="region.update", status_code=201,
          response_model=ZoneCreated)
def create_zone(region_id: str, body: ZoneIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    def create() -> dict[str, Any]:
        zone = orgs.create_zone(uc, region_id, body.name)
        return {"id": zone.id, "region_id": zone.region_id, "name": zone.name}

    return run_create(uc, idem, "POST", request.url.path, body, create)
