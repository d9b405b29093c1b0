"""``hexagone profile``: the clouds (or identities) this machine knows, and which one is current."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli import config
from hexagone.cli.options import Output
from hexagone.cli.output import NOT_FOUND, CliError, print_list, say
from hexagone.cli.session import output_format, profile_name

app = typer.Typer(
    no_args_is_help=True, help="Profiles: one per cloud or identity (--profile NAME selects one)."
)

COLUMNS = ("name", "url", "username", "logged_in", "current")


@app.command("list")
def list_(output: Output = None) -> None:
    """Known profiles, whether each holds a token, and which one is used by default."""
    cfg = config.load()
    selected = profile_name()
    rows = [
        {
            "name": p.name,
            "url": p.url,
            "username": p.username,
            "logged_in": config.read_token(p.name) is not None,
            "current": p.name == selected,
        }
        for p in sorted(cfg.profiles.values(), key=lambda p: p.name)
    ]
    print_list(
        rows,
        COLUMNS,
        output_format(output),
        empty="No profile yet: run `hexagone login URL --username NAME`.",
    )


@app.command()
def use(
    name: Annotated[str, typer.Argument(help="Profile to use when --profile is not given.")],
    output: Output = None,
) -> None:
    """Make NAME the default profile."""
    cfg = config.load()
    if name not in cfg.profiles:
        raise CliError(
            f"There is no profile '{name}': create it with `hexagone login URL --profile {name}`.", NOT_FOUND
        )
    cfg.current = name
    config.save(cfg)
    say(f"Profile '{name}' is now the default.", output_format(output))


@app.command()
def delete(name: Annotated[str, typer.Argument(help="Profile to forget.")], output: Output = None) -> None:
    """Forget a profile and delete its token (run `hexagone logout` first to revoke it on the server)."""
    cfg = config.load()
    if name not in cfg.profiles:
        raise CliError(f"There is no profile '{name}': see `hexagone profile list`.", NOT_FOUND)
    del cfg.profiles[name]
    if cfg.current == name:
        cfg.current = ""
    config.delete_token(name)
    config.save(cfg)
    say(f"Profile '{name}' forgotten.", output_format(output))
