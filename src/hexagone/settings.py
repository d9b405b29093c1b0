"""Typed settings, read once at the entry point and passed explicitly.

Sources, highest priority first: environment variables ``HEXAGONE_*``, the config file named by
``HEXAGONE_CONFIG`` (TOML; default ``<data_dir>/hexagone.toml`` if it exists), then the defaults
below. Every field is documented in ``docs/settings.md`` (a test keeps the two in step).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEXAGONE_", extra="ignore")

    data_dir: Path = Field(
        Path(".data"),
        validate_default=True,
        description="Where the SQLite file, images and instance state live (a relative path is resolved "
        "against the directory `hexagone` starts in).",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: SQLite file `hexagone.db` in the data directory (WAL)."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key for hashing tokens and API keys (HMAC). Empty: generated once into "
        "`<data_dir>/secret.key` (mode 0600).",
    )
    host: str = Field("127.0.0.1", description="Address the control plane listens on.")
    port: int = Field(8080, description="Port the control plane listens on.")
    public_url: str = Field("", description="URL clients use to reach the API. Empty: http://host:port.")
    workers: int = Field(1, description="Uvicorn worker processes.")
    single_machine: bool = Field(
        False,
        description="One-machine region started by `make up`: operator administrators are warned, not "
        "forced, to enrol a second factor.",
    )
    region: str = Field("local", description="Name of the region `hexagone up` creates for this machine.")
    region_country: str = Field("FR", description="Jurisdiction (ISO 3166 country) of that region.")
    operator_name: str = Field("Hexagone Operator", description="Name of the operator organisation at bootstrap.")
    admin_user: str = Field("admin", description="Login of the first operator administrator.")
    admin_password: SecretStr | None = Field(
        None, description="Password of the first administrator. Empty: generated and printed once."
    )
    token_ttl_seconds: int = Field(12 * 3600, description="Lifetime of a bearer token.")
    max_body_bytes: int = Field(1024 * 1024, description="Largest JSON request body accepted (413 above).")
    login_max_failures: int = Field(5, description="Failed logins before an account is locked.")
    login_lockout_seconds: int = Field(900, description="How long a locked account stays locked.")
    auth_rate_window_seconds: int = Field(
        60, description="Window of the authentication rate limits and of the aggregation of failed logins for "
        "unknown names (one audit record per source and window, with a count)."
    )
    auth_rate_per_source: int = Field(
        600, description="Authentication attempts (login, Keystone tokens, password and TOTP changes) one source "
        "address may make per window; 429 with Retry-After above. 0: unlimited. OpenStack tools ask for tokens "
        "often (a Tempest run, a CI pipeline, Terraform): guessing is bounded by the lockout and the hashing queue."
    )
    auth_rate_per_account: int = Field(
        120, description="Authentication attempts per account (login name or user id) per window; 429 above. "
        "0: unlimited."
    )
    admission_enabled: bool = Field(
        True, description="Authentication rate limits and per-principal admission control (turn off only to "
        "measure their cost)."
    )
    admission_concurrency_per_principal: int = Field(
        16, description="Requests one principal (credential; source address when anonymous) may have in "
        "progress; 429 with Retry-After above. 0: unlimited."
    )
    admission_heavy_per_principal: int = Field(
        2, description="List pages and exports one principal may have in progress; 429 above. 0: unlimited."
    )
    admission_heavy_slots: int = Field(
        1, description="List pages and exports the process runs at once; others wait for a slot (CPU-bound "
        "Python gains nothing from a second one under the interpreter lock; raise it when lists wait on a "
        "remote PostgreSQL)."
    )
    admission_refusal_delay_seconds: float = Field(
        0.5, description="A 429 from the rate limits or the per-principal limits is answered after this delay "
        "(held on the event loop, no thread), so a client that ignores Retry-After cannot flood the server "
        "with cheap refusals."
    )
    admission_queue_seconds: float = Field(
        2.0, description="Longest wait for such a slot; 503 with Retry-After after it."
    )
    hash_queue_max: int = Field(
        8, description="Password verifications that may wait for a free argon2id slot (one per core); 429 "
        "with Retry-After when the queue is full."
    )
    hash_queue_seconds: float = Field(2.0, description="Longest wait for an argon2id slot; 429 after it.")
    health_timeout_seconds: float = Field(
        2.0, description="Longest wait of /v1/health for its database probe; 503 after it."
    )
    password_min_length: int = Field(12, description="Shortest password accepted.")
    argon2_time_cost: int = Field(3, description="argon2id iterations (RFC 9106 second recommendation: 3).")
    argon2_memory_kib: int = Field(65536, description="argon2id memory in KiB (RFC 9106: 64 MiB).")
    argon2_parallelism: int = Field(4, description="argon2id lanes.")
    scheduler_strategy: str = Field("spread", description="Placement weigher: spread (most free RAM first) or pack.")
    build_timeout_seconds: int = Field(900, description="An instance still BUILDING after this goes to ERROR.")
    heartbeat_grace_seconds: int = Field(45, description="A host silent for longer is marked down (instances UNKNOWN).")
    idempotency_retention_seconds: int = Field(
        24 * 3600, description="How long the answer to a create with an `Idempotency-Key` is kept for replay."
    )
    enable_instance_password: bool = Field(
        True,
        description="Nova's option of the same name: a server create without adminPass gets a generated "
        "one, returned once and set for the image's default user (only its hash is kept).",
    )
    instance_password_off_regions: list[str] = Field(
        default_factory=list,
        description="Regions (names) where enable_instance_password is off whatever its value.",
    )
    image_max_bytes: int = Field(20 * 2**30, description="Largest image upload accepted (413 above).")
    local_agent: bool = Field(True, description="`hexagone up` also runs a compute agent for this machine.")
    local_agent_driver: str = Field("qemu", description="Driver of that local agent: qemu or fake.")
    log_json: bool = Field(False, description="Write logs as JSON lines (production).")
    log_level: str = Field("INFO", description="Log level.")
    billing_payment_days: int = Field(30, description="Invoices are due this many days after issue.")
    billing_late_penalty: str = Field(
        "trois fois le taux d'intérêt légal",
        description="Late-payment penalty rate printed on invoices (French legal mention).",
    )
    billing_number_prefix: str = Field("HX", description="Prefix of invoice and credit-note numbers.")
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) webhooks may reach although they are not public, e.g. "
        '`["10.20.0.0/16"]` for an on-premises receiver. Empty: public addresses only.',
    )
    webhook_timeout_seconds: float = Field(5.0, description="Time limit of one webhook delivery attempt.")
    webhook_max_attempts: int = Field(8, description="Delivery attempts before a webhook is marked failed.")
    webhook_retry_seconds: float = Field(
        30.0, description="Delay before the first retry of a webhook; doubled at each attempt (at most 1 h)."
    )

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr.strip(), strict=False)  # ValueError: the setting is refused at start
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Resolved once, here: every path derived from it (the SQLite file, the agent's state,
        dnsmasq's files) is absolute, whatever directory a daemon later runs in."""
        return value.expanduser().resolve()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'hexagone.db'}"

    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def hashing_key(self) -> bytes:
        """The HMAC key for tokens and API keys; created once in the data directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex())
        return path.read_text().strip().encode()


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the config file and the environment; keyword overrides win."""
    file_values: dict[str, Any] = {}
    config = os.environ.get("HEXAGONE_CONFIG")
    if config:
        file_values = tomllib.loads(Path(config).read_text())
    else:
        default = Path(os.environ.get("HEXAGONE_DATA_DIR", ".data")) / "hexagone.toml"
        if default.exists():
            file_values = tomllib.loads(default.read_text())
    env_settings = Settings()
    merged = {**file_values}
    for name in Settings.model_fields:
        if f"HEXAGONE_{name.upper()}" in os.environ:
            merged[name] = getattr(env_settings, name)
    merged.update(overrides)
    return Settings(**merged)
