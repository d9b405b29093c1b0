"""CLI profiles and token files: where they live, their permissions, and which profile is used."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hexagone.cli import config
from hexagone.cli.app import app
from hexagone.cli.output import AUTH, USAGE, CliError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEXAGONE_CONFIG_DIR", str(tmp_path / "hx"))
    monkeypatch.delenv("HEXAGONE_PROFILE", raising=False)
    return tmp_path / "hx"


def test_profiles_round_trip_through_toml(config_dir: Path) -> None:
    cfg = config.Config(
        "prod",
        {
            "prod": config.Profile("prod", "https://api.example", 'o"dd\\name'),
            "lab": config.Profile("lab", "http://127.0.0.1:8080", "admin"),
        },
    )
    config.save(cfg)
    assert config.load() == cfg
    assert stat.S_IMODE((config_dir / "config.toml").stat().st_mode) == 0o600


def test_token_file_is_private_and_removed_on_delete(config_dir: Path) -> None:
    path = config.write_token("lab", "hxt_secret", expires_at="2026-01-01T00:00:00+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config.read_token("lab") == {"token": "hxt_secret", "expires_at": "2026-01-01T00:00:00+00:00"}
    assert config.delete_token("lab") and config.read_token("lab") is None and not config.delete_token("lab")


def test_an_existing_world_readable_token_file_is_rewritten_private(config_dir: Path) -> None:
    path = config.token_path("lab")
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    config.write_token("lab", "hxt_x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_profile_selection_prefers_the_option_then_the_current_one() -> None:
    cfg = config.Config("prod", {})
    assert config.selected_profile(cfg, "lab") == "lab"
    assert config.selected_profile(cfg, None) == "prod"
    assert config.selected_profile(config.Config(), None) == config.DEFAULT_PROFILE


def test_profile_names_cannot_escape_the_token_directory() -> None:
    with pytest.raises(CliError) as caught:
        config.token_path("../../etc/passwd")
    assert caught.value.exit_code == USAGE


def test_commands_without_a_login_say_how_to_log_in() -> None:
    result = CliRunner().invoke(app, ["--profile", "lab", "org", "list"])
    assert result.exit_code == AUTH
    assert "run `hexagone login URL --username NAME --profile lab`" in result.output


def test_a_profile_without_token_names_its_url(config_dir: Path) -> None:
    config.save(config.Config("", {"default": config.Profile("default", "http://127.0.0.1:1", "admin")}))
    result = CliRunner().invoke(app, ["whoami"])
    assert result.exit_code == AUTH
    assert "Not logged in: run `hexagone login http://127.0.0.1:1`." in result.output
