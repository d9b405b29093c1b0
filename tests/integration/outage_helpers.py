"""Outages played under a running app: the database lost, a disk full."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text


@contextmanager
def database_lost(rt: Any) -> Iterator[None]:
    """The database goes away under the running app: its pool is emptied and every new connection
    goes to a port (PostgreSQL) or a file (SQLite) where nothing answers."""
    dead_url = ("sqlite:////nonexistent-hexagone-dir/lost.db" if rt.db.is_sqlite
                else "postgresql+psycopg://postgres@127.0.0.1:1/lost?connect_timeout=2")
    dead = create_engine(dead_url)
    factories = (rt.db._factory, rt.db._read_factory)
    binds = [f.kw["bind"] for f in factories]
    rt.db.engine.dispose()
    for f in factories:
        f.configure(bind=dead)
    try:
        yield
    finally:
        for f, bind in zip(factories, binds, strict=True):
            f.configure(bind=bind)
        dead.dispose()


@contextmanager
def audit_disk_full(rt: Any) -> Iterator[None]:
    """Writing an audit record fails as a full disk makes it fail (PostgreSQL's SQLSTATE 53100)."""
    with rt.db.engine.begin() as conn:
        if rt.db.is_sqlite:
            conn.execute(text("CREATE TRIGGER audit_full BEFORE INSERT ON audit_events "
                              "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
        else:
            conn.execute(text("CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                              "RAISE EXCEPTION 'could not extend file: No space left on device' "
                              "USING ERRCODE = 'disk_full'; END $$"))
            conn.execute(text("CREATE TRIGGER audit_full BEFORE INSERT ON audit_events "
                              "FOR EACH ROW EXECUTE FUNCTION audit_full()"))
    try:
        yield
    finally:
        with rt.db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER audit_full" + ("" if rt.db.is_sqlite else " ON audit_events")))
            if not rt.db.is_sqlite:
                conn.execute(text("DROP FUNCTION audit_full()"))
