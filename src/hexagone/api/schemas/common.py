"""Shapes shared by every response: the RFC 9457 problem, list pages, reusable field types.

Response models describe exactly what the server sends (``extra="forbid"``: a field the handler
returns but the model does not declare is a server error in tests, never a silent drop).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

EXAMPLE_ID = "01939a4e-7c3b-7d2e-9f10-3a5b6c7d8e9f"
EXAMPLE_TIME = "2026-03-01T09:00:00Z"

Id = Annotated[str, Field(examples=[EXAMPLE_ID], description="A UUIDv7.")]
Timestamp = Annotated[dt.datetime, Field(examples=[EXAMPLE_TIME])]
Money = Annotated[str, Field(examples=["12.50"], description="A decimal amount as a string (never a float).")]
DecimalText = Annotated[str, Field(examples=["0.0125"], description="A decimal number as a string.")]
Month = Annotated[str, Field(examples=["2026-03"], description="YYYY-MM (UTC).")]


class Out(BaseModel):
    """Base of every response model."""

    model_config = ConfigDict(extra="forbid")


class FieldError(Out):
    field: str = Field(examples=["name"], description="Dotted location of the offending input; empty for the body.")
    message: str = Field(examples=["String should have at most 100 characters"])


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``). ``errors`` lists the offending
    fields of a 422; other members may be added by specific problems."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{
            "type": "https://hexagone.dev/problems/not-found", "title": "Not found", "status": 404,
            "detail": "The project does not exist, or you cannot see it.",
            "instance": "/v1/projects/" + EXAMPLE_ID, "request_id": "req-5f0c1e2d3a4b5c6d",
        }]},
    )

    type: str = Field(description="A URI naming the problem: https://hexagone.dev/problems/<code>.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong and what to do next, in a full sentence.")
    instance: str = Field(description="The request's path.")
    request_id: str = Field(description="Also in X-Request-Id and in the audit trail.")
    errors: list[FieldError] | None = Field(None, description="Present on 422: each offending field.")


def page_of(item: type[BaseModel], name: str) -> type[BaseModel]:
    """A cursor-paginated list: ``{"items": [...], "next_cursor": "..." | null}``."""
    return create_model(
        name,
        __base__=Out,
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, Field(None, description="Pass as cursor to get the next page; null at the end.")),
    )


def list_of(item: type[BaseModel], name: str) -> type[BaseModel]:
    """A complete (unpaginated) list: ``{"items": [...]}``."""
    return create_model(name, __base__=Out, items=(list[item], ...))  # type: ignore[valid-type]


JsonObject = dict[str, Any]
