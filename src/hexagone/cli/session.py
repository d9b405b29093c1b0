"""The invocation's state (profile, output format) and the authenticated API client it implies."""

from __future__ import annotations

from dataclasses import dataclass

from hexagone.cli import config
from hexagone.cli.client import ApiClient
from hexagone.cli.output import AUTH, CliError, OutputFormat


@dataclass
class State:
    """Set by the root callback from ``--profile``/``HEXAGONE_PROFILE`` and ``--output``."""

    profile: str | None = None
    output: OutputFormat = "table"


_current = State()


def set_state(new: State) -> None:
    """Called once per invocation by the root callback (one process runs one command)."""
    global _current
    _current = new


def state() -> State:
    return _current


def output_format(override: OutputFormat | None = None) -> OutputFormat:
    """A command's own ``--output`` wins over the global one."""
    return override or state().output


def profile_name() -> str:
    return config.selected_profile(config.load(), state().profile)


def current_profile() -> config.Profile:
    cfg = config.load()
    name = config.selected_profile(cfg, state().profile)
    profile = cfg.profiles.get(name)
    if profile is None or not profile.url:
        hint = "hexagone login URL --username NAME" + (
            f" --profile {name}" if name != config.DEFAULT_PROFILE else ""
        )
        raise CliError(f"Not logged in (profile '{name}' has no API URL): run `{hint}`.", AUTH)
    return profile


def anonymous_client() -> ApiClient:
    return ApiClient(current_profile().url)


def client() -> ApiClient:
    """A client carrying the profile's token, or a sentence telling the user to log in."""
    profile = current_profile()
    saved = config.read_token(profile.name)
    if saved is None:
        suffix = f" --profile {profile.name}" if profile.name != config.DEFAULT_PROFILE else ""
        raise CliError(f"Not logged in: run `hexagone login {profile.url}{suffix}`.", AUTH)
    return ApiClient(profile.url, str(saved["token"]))
