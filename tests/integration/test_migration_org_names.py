"""The migration that makes sibling organisation names unique keeps existing data: where siblings
already share a name, the oldest keeps it and the later ones are renamed, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from hexagone.db.base import make_engine
from hexagone.db.migrate import upgrade

pytestmark = pytest.mark.integration

BEFORE = "27046ae1e1cb"  # the revision before 4ff39837f3ef


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("pg_server_url")
    if not server:
        pytest.skip("no PostgreSQL: set HEXAGONE_TEST_PG_URL")
    name = f"hx_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(server.rsplit("/", 1)[0] + "/" + name)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _org(conn, oid: str, parent: str | None, name: str, when: str, status: str = "active") -> None:
    conn.execute(
        text(
            "INSERT INTO organisations (id, parent_id, kind, name, path, depth, legal_name, country, vat_id,"
            " siren, siret, address, mfa_required, residency, status, created_at, updated_at) VALUES"
            " (:id, :parent, :kind, :name, :path, 1, '', 'FR', '', '', '', '', false, '{}', :status, :when, :when)"
        ),
        {"id": oid, "parent": parent, "kind": "operator" if parent is None else "reseller", "name": name,
         "path": f"/{oid}/", "status": status, "when": when},
    )


def test_existing_sibling_duplicates_are_renamed_and_then_refused(empty_engine: Engine) -> None:
    upgrade(empty_engine, BEFORE)
    ids = [f"00000000-0000-7000-8000-00000000000{i}" for i in range(6)]
    with empty_engine.begin() as conn:
        _org(conn, ids[0], None, "Operator", "2026-01-01 00:00:00+00:00")
        _org(conn, ids[1], ids[0], "R1", "2026-01-01 00:00:01+00:00")
        _org(conn, ids[2], ids[0], "r1", "2026-01-01 00:00:02+00:00")
        _org(conn, ids[3], ids[0], "R1", "2026-01-01 00:00:03+00:00")
        _org(conn, ids[4], ids[0], "R1", "2026-01-01 00:00:04+00:00", status="deleted")
        _org(conn, ids[5], ids[1], "R1", "2026-01-01 00:00:05+00:00")  # a child of R1: not a sibling
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        names = dict(conn.execute(text("SELECT id, name FROM organisations")).all())
    assert [names[i] for i in ids] == ["Operator", "R1", "r1 (2)", "R1 (3)", "R1", "R1"]
    with pytest.raises(Exception, match="(?i)unique"), empty_engine.begin() as conn:
        _org(conn, "00000000-0000-7000-8000-000000000009", ids[0], "x", "2026-01-02 00:00:00+00:00")
        conn.execute(text("UPDATE organisations SET name_key = 'r1' WHERE id = :id"),
                     {"id": "00000000-0000-7000-8000-000000000009"})
