"""The ``hexagone`` command: the HTTP-only CLI plus the server-side commands (up, init, agent).

The server commands are imported only when used, so client commands start fast."""

from __future__ import annotations

import sys

from hexagone.cli.app import app

SERVER_COMMANDS = ("up", "down", "init", "agent")


def _forward(name: str, help_text: str) -> None:
    @app.command(name, help=help_text, add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def _command() -> None:  # pragma: no cover - replaced by the dispatch in main()
        raise SystemExit(2)


_forward("up", "Run a complete one-machine region in the foreground (server side).")
_forward("down", "Stop the one-machine region: control plane, agent, guests, host network (server side).")
_forward("init", "Initialise the data directory, database, operator and first admin (server side).")
_forward("agent", "Run this host's compute agent (server side).")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "agent":
        from hexagone.agent.main import agent_app  # light: no web framework, no database

        sys.argv.pop(1)
        agent_app(prog_name="hexagone agent")
        return
    if len(sys.argv) > 1 and sys.argv[1] in SERVER_COMMANDS:
        from hexagone.server import server_app

        server_app(prog_name="hexagone")
        return
    app(prog_name="hexagone")


if __name__ == "__main__":
    main()
