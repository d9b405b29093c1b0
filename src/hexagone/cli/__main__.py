"""``python -m hexagone.cli``: the client commands alone, without loading the server's stack."""

from hexagone.cli.app import app

app(prog_name="hexagone")
