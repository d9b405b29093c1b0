"""The root ``hexagone`` command: global options, the command groups, and error reporting.

``hexagone.main`` adds the server-side commands (``up``, ``init``) to ``app``. Every ``CliError``
raised below is reported here, once: a sentence on stderr and the exit code from
``output.EXIT_CODES``; no traceback, and never the token or a password.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from hexagone import __version__
from hexagone.cli.commands import (
    apikeys,
    audit,
    auth,
    billing,
    flavors,
    hosts,
    images,
    keypairs,
    orgs,
    profiles,
    projects,
    quotas,
    regions,
    roles,
    servers,
    users,
)
from hexagone.cli.output import CliError, OutputFormat, error_lines
from hexagone.cli.session import State, set_state, state


class HexagoneGroup(TyperGroup):
    """The root group: turns ``CliError`` from any subcommand into stderr text and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CliError as err:
            report(err, state().output)
            raise typer.Exit(err.exit_code) from None


def report(err: CliError, fmt: OutputFormat) -> None:
    if fmt == "json":
        body = {
            "error": err.message,
            "exit_code": err.exit_code,
            "request_id": err.request_id or None,
            "problem": err.problem,
        }
        print(json.dumps(body), file=sys.stderr)
        return
    for line in error_lines(err):
        print(line, file=sys.stderr)


app = typer.Typer(
    cls=HexagoneGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold a password or a token
    help="Hexagone sovereign cloud CLI. Talks to the REST API /v1 of the profile's cloud.",
)


def _version(value: bool) -> None:
    if value:
        print(f"hexagone {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", envvar="HEXAGONE_PROFILE", help="Profile (cloud and identity) to use."
        ),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option("--output", "-o", envvar="HEXAGONE_OUTPUT", help="table or json (the API's raw JSON)."),
    ] = "table",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Hexagone sovereign cloud CLI."""
    set_state(State(profile=profile, output=output))


app.command()(auth.login)
app.command()(auth.logout)
app.command()(auth.whoami)
app.add_typer(orgs.app, name="org")
app.add_typer(projects.app, name="project")
app.add_typer(users.app, name="user")
app.add_typer(roles.app, name="role")
app.add_typer(apikeys.app, name="apikey")
app.add_typer(regions.app, name="region")
app.add_typer(audit.app, name="audit")
app.add_typer(profiles.app, name="profile")
app.add_typer(servers.app, name="server")
app.add_typer(images.app, name="image")
app.add_typer(flavors.app, name="flavor")
app.add_typer(keypairs.app, name="keypair")
app.add_typer(hosts.app, name="host")
app.add_typer(quotas.app, name="quota")
app.add_typer(billing.app, name="billing")
