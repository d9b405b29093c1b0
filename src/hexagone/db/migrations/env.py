"""Alembic environment: runs against the URL handed in by ``hexagone.db.migrate``."""

from __future__ import annotations

from alembic import context

from hexagone.db import (  # noqa: F401  (registers every table)
    billing_models,
    compute_models,
    models,
    network_models,
    outbox_models,
)
from hexagone.db.base import Base, make_engine

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
