"""One pydantic-settings Settings object, read from the environment (prefix MARQUEE_)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUEE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    # DATABASE_URL (no prefix) points at an external PostgreSQL; empty = embedded.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "MARQUEE_DATABASE_URL")
    )
    data_dir: Path = Path(".marquee")
    db_pool_size: int = 20
    db_max_overflow: int = 10

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # A worker whose event loop is silent this long is killed and replaced (graph/supervisor.py).
    worker_timeout_seconds: float = 30.0
    # Proxies (comma-separated IPs/networks, "*" = any) whose X-Forwarded-For/-Proto is
    # believed; empty = none: the client address is the TCP peer.
    forwarded_allow_ips: str = ""
    max_concurrent_requests: int = 4
    # The execution fast path for ready objects and lists (graph/execution/); off = graphql-core's
    # ordinary completion. It is also off when its compatibility check fails (a warning says so).
    fast_execution: bool = True

    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 14

    graphiql: bool = True
    introspection: bool = True
    cors_origins: list[str] = ["http://localhost:5173", "http://127.0.0.1:5173"]
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_query_cost: int = 50_000
    max_fragment_spreads: int = 200
    max_duplicate_fields: int = 50
    max_list_input: int = 100
    # Per operation: execution stops with a TIMEOUT error after this long (0 = no limit).
    operation_timeout_seconds: float = 10.0
    max_response_bytes: int = 8 * 1024 * 1024
    max_ws_connections_per_address: int = 200
    max_ws_connections: int = 5000

    # Sign-in limits (docs/accounts.md, "Rate limits"): attempts per client address per
    # minute; attempts per account (any address) per hour; consecutive failures per
    # (account, address) before an exponential backoff starts, and its ceiling.
    login_rate_per_minute: int = 10
    login_account_rate_per_hour: int = 100
    login_backoff_free_failures: int = 5
    login_backoff_max_seconds: int = 900
    register_rate_per_minute: int = 5

    hold_ttl_seconds: int = 600
    max_seats_per_hold: int = 10
    sales_window_days: int = 30
    sweeper_interval_seconds: float = 1.0
    max_subscriptions_per_connection: int = 20
    subscriber_queue_size: int = 256

    # E-mail (docs/outbox.md): the outbox sender of each process polls every
    # outbox_interval_seconds (<= 0: none in this process). smtp://[user:password@]host:port
    # (smtps:// implicit TLS, ?starttls=true|false); without it development writes .eml files
    # under data_dir/outbox, and production sends nothing (messages wait, PENDING).
    smtp_url: str | None = None
    mail_from: str = "Marquee <tickets@marquee.localhost>"
    outbox_interval_seconds: float = 1.0
    outbox_max_attempts: int = 10

    tmdb_api_key: str | None = None
    tmdb_base_url: str = "https://api.themoviedb.org/3"

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and not self.jwt_secret:
            raise ValueError("MARQUEE_JWT_SECRET is required when MARQUEE_ENV=production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def secret(self) -> str:
        """The JWT secret: from settings, or in development generated once and kept (0600)."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another worker won the race
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(48))
        self.jwt_secret = path.read_text().strip()
        return self.jwt_secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
