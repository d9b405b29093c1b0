"""Generate a new Alembic revision from the models: ``make migration MSG="add volumes"``.

Runs the existing migrations on a scratch SQLite file, then autogenerates the difference."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from hexagone.db.base import make_engine
from hexagone.db.migrate import alembic_config, upgrade


def main() -> None:
    message = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else "schema change"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        engine = make_engine(url)
        upgrade(engine)
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    main()
