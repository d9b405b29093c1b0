"""The Alembic migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from hexagone.db.migrate import pending_model_changes

pytestmark = pytest.mark.integration


def test_migrations_match_the_models(rt):
    changes = pending_model_changes(rt.db.engine)
    assert changes == [], (
        f"models and migrations disagree ({len(changes)} differences): run `make migration MSG=...`\n"
        + "\n".join(map(repr, changes[:20]))
    )
