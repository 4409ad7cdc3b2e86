"""Settings read from the environment (prefix ``INTERLINK_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/interlink.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INTERLINK_", env_file=".env", extra="ignore", frozen=True
    )

    # server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # database
    database_url: str = DEFAULT_SQLITE_URL
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_echo: bool = False

    # logs
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "console"
    # FastAPI's native OpenTelemetry hooks; off by default (Interlink's own telemetry is its
    # Prometheus metrics and logs), because even unconfigured they cost every request a lookup
    # of the global OpenTelemetry providers
    opentelemetry: bool = False

    # secrets at rest: "kid:base64key,kid2:base64key"; the first is active unless
    # encryption_active_key says otherwise. Empty means a generated keyring file (embedded use).
    encryption_keys: SecretStr | None = None
    encryption_active_key: str | None = None
    encryption_key_file: Path = Path("var/keyring.json")

    # jobs
    worker_concurrency: int = Field(default=16, ge=1, le=1024)
    jobs_lease_seconds: float = Field(default=30.0, gt=0)
    jobs_poll_interval: float = Field(default=1.0, gt=0)
    jobs_retention_days: int = Field(default=7, ge=1)
    job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # API keys, rate limits and idempotency
    redis_url: str | None = None
    # the default is not run through the validator (which imports ``limits``)
    rate_limit_default: str = Field(default="100/second", validate_default=False)
    api_key_rotation_grace_hours: float = Field(default=24.0, ge=0)
    idempotency_ttl_hours: float = Field(default=24.0, gt=0)

    # outbound webhooks
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhook_secret_rotation_hours: float = Field(default=24.0, ge=0)
    # in-flight deliveries per worker process: to one endpoint, and in all
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=256)
    webhook_max_concurrency: int = Field(default=256, ge=1, le=4096)
    # a drained dispatcher run waits this long for new deliveries before it ends
    webhook_dispatch_linger_seconds: float = Field(default=1.0, ge=0, le=60)
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    webhook_retention_days: int = Field(default=30, ge=1)

    # provider calls (integrations): non-public addresses a provider's api_base may use, retries,
    # circuit breaker, health checks and the audit log's retention
    provider_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    provider_timeout_seconds: float = Field(default=15.0, gt=0)
    provider_max_attempts: int = Field(default=3, ge=1, le=10)
    provider_breaker_threshold: int = Field(default=5, ge=1)
    provider_breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    integration_failures_before_error: int = Field(default=3, ge=1)
    integration_expiry_warning_days: int = Field(default=7, ge=1)
    integration_logs_retention_days: int = Field(default=30, ge=1)

    # inbound provider webhooks: body limit, signature timestamp tolerance, processing retries
    # (exponential from the base, capped), PayPal certificate hosts (a host or its subdomains)
    # and Lexware's published public key (PEM) for Lexoffice signatures
    inbound_max_body_bytes: int = Field(default=524_288, ge=1024)
    inbound_tolerance_seconds: int = Field(default=300, ge=1)
    inbound_max_attempts: int = Field(default=8, ge=1, le=50)
    inbound_retry_base_seconds: float = Field(default=2.0, gt=0)
    inbound_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    inbound_paypal_cert_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["paypal.com"]
    )
    inbound_paypal_cert_https_only: bool = True
    inbound_paypal_cert_ttl_seconds: float = Field(default=86_400.0, gt=0)
    inbound_lexoffice_public_key: str | None = None
    # how old a process's cached copy of an integration (verifier, unsealed secrets) may be before
    # a delivery reads the row again; writes through this process drop it at once
    inbound_integration_cache_seconds: float = Field(default=5.0, ge=0)
    # settled events (processed, ignored, rejected) are deleted after this; dead ones are kept
    inbound_retention_days: int = Field(default=30, ge=1)
    # payments: how long a checkout snapshot stays payable, when the sync first looks at an
    # operation whose answer may be lost, and how often reconciliation runs over what window
    checkout_snapshot_ttl_minutes: float = Field(default=30.0, gt=0)
    payments_sync_delay_seconds: float = Field(default=60.0, ge=0)
    reconciliation_window_hours: float = Field(default=48.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if url.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url.split("://", 1)[1]
        if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            return url
        raise ValueError("must be a sqlite:// or postgresql:// URL")

    @field_validator("rate_limit_default")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        # imported here: a worker loads ``limits`` only when an endpoint's rate limit needs it
        from limits import parse as parse_rate_limit

        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '100/second': {exc}") from None
        return value

    @field_validator(
        "job_modules",
        "webhook_allowed_networks",
        "provider_allowed_networks",
        "inbound_paypal_cert_hosts",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allowed_networks", "provider_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR network") from None
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class ConfigurationError(Exception):
    """Raised with one line that names the wrong setting and why."""


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        parts.append(f"INTERLINK_{field.upper()}: {err['msg']}")
    return "; ".join(parts)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid configuration: {describe_validation_error(exc)}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
