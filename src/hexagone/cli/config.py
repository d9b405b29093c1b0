"""Profiles (one per cloud or per identity) and their tokens, on the user's disk.

``<dir>/config.toml`` names each profile's API URL and login; ``<dir>/tokens/<profile>.json`` holds
the bearer token, written mode 0600 in a 0700 directory and removed by ``logout``. ``<dir>`` is
``$HEXAGONE_CONFIG_DIR`` or ``~/.config/hexagone``. The token is never printed.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hexagone.cli.output import USAGE, CliError

DEFAULT_PROFILE = "default"
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def config_dir() -> Path:
    given = os.environ.get("HEXAGONE_CONFIG_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hexagone"


@dataclass
class Profile:
    name: str
    url: str = ""
    username: str = ""


@dataclass
class Config:
    current: str = ""
    profiles: dict[str, Profile] = field(default_factory=dict)


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.match(name):
        raise CliError(
            f"The profile name '{name}' is not valid: use letters, digits, '.', '_' and '-'.", USAGE
        )
    return name


def load() -> Config:
    path = config_dir() / "config.toml"
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not valid TOML ({exc}): fix or delete it.") from exc
    profiles = {
        name: Profile(name, str(values.get("url", "")), str(values.get("username", "")))
        for name, values in (data.get("profiles") or {}).items()
        if isinstance(values, dict)
    }
    return Config(str(data.get("current_profile", "")), profiles)


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def dumps(config: Config) -> str:
    lines = ["# Hexagone CLI profiles; tokens live in tokens/ (mode 0600).", ""]
    if config.current:
        lines += [f"current_profile = {_quote(config.current)}", ""]
    for name in sorted(config.profiles):
        p = config.profiles[name]
        lines += [
            f"[profiles.{_quote(name)}]",
            f"url = {_quote(p.url)}",
            f"username = {_quote(p.username)}",
            "",
        ]
    return "\n".join(lines)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def _write_private(path: Path, text: str) -> None:
    """Write through a 0600 temporary file and rename, so the content is never world-readable."""
    _private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def save(config: Config) -> None:
    _write_private(config_dir() / "config.toml", dumps(config))


def selected_profile(config: Config, given: str | None) -> str:
    """``--profile``, then ``$HEXAGONE_PROFILE`` (both arrive as ``given``), then the current one."""
    return check_profile_name(given or config.current or DEFAULT_PROFILE)


def token_path(profile: str) -> Path:
    return config_dir() / "tokens" / f"{check_profile_name(profile)}.json"


def read_token(profile: str) -> dict[str, Any] | None:
    path = token_path(profile)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("token") else None


def write_token(profile: str, token: str, **meta: Any) -> Path:
    path = token_path(profile)
    _write_private(path, json.dumps({"token": token, **meta}))
    return path


def delete_token(profile: str) -> bool:
    path = token_path(profile)
    if path.exists():
        path.unlink()
        return True
    return False
