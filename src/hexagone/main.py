"""The ``hexagone`` command: the HTTP-only CLI plus the server-side commands (up, init)."""

from __future__ import annotations

from hexagone.cli.app import app
from hexagone.server import agent, init, up


def main() -> None:
    app.command("up")(up)
    app.command("init")(init)
    app.command("agent")(agent)
    app()


if __name__ == "__main__":
    main()
