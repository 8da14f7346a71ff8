"""One pydantic-settings Settings object, read from the environment (prefix MARQUEE_)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.accounts import phones
from db.files import create_once
from db.orders import signing


class RetiredTicketKey(BaseModel):
    """A ticket signing key rotated out: still verifies the tickets it signed."""

    kid: str
    x: str  # the raw public key, base64url (a JWK's `x`)


class Settings(BaseSettings):
    # Errors name the setting but never echo values: they would print secrets (a truncated
    # private key is still most of it) into logs.
    model_config = SettingsConfigDict(
        env_prefix="MARQUEE_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    # DATABASE_URL (no prefix) points at an external PostgreSQL; empty = embedded.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "MARQUEE_DATABASE_URL")
    )
    data_dir: Path = Path(".marquee")
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # DATABASE_READ_URL (no prefix): a streaming replica for the reads that tolerate lag
    # (docs/scaling.md); empty = every read on the primary. Its pool is sized apart, and
    # after a failed replica read those reads use the primary for replica_retry_seconds.
    database_read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_READ_URL", "MARQUEE_DATABASE_READ_URL"),
    )
    # DATABASE_LISTEN_URL (no prefix): where LISTEN connections go when DATABASE_URL is a
    # pooler in transaction mode (PgBouncer); empty = DATABASE_URL.
    database_listen_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_LISTEN_URL", "MARQUEE_DATABASE_LISTEN_URL"),
    )
    db_read_pool_size: int = 20
    db_read_max_overflow: int = 10
    replica_retry_seconds: float = 5.0

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # A worker whose event loop is silent this long is killed and replaced (graph/supervisor.py).
    worker_timeout_seconds: float = 30.0
    # Proxies (comma-separated IPs/networks, "*" = any) whose X-Forwarded-For/-Proto is
    # believed; empty = none: the client address is the TCP peer.
    forwarded_allow_ips: str = ""
    max_concurrent_requests: int = 4
    # Mutations executing at once per worker (0 = no limit); more wait in order. Each holds a
    # connection for its transaction: beyond the pool's size the pool opens and closes
    # overflow connections all the time (a PostgreSQL backend started per mutation).
    max_concurrent_mutations: int = 16
    # The execution fast path for ready objects and lists (graph/execution/); off = graphql-core's
    # ordinary completion. It is also off when its compatibility check fails (a warning says so).
    fast_execution: bool = True
    # Prepared operations (graph/documents.py): a document that parsed and validated once runs
    # again straight through graphql-core's execute, without strawberry's per-request
    # extension machinery; off = every operation through strawberry's full path.
    prepared_operations: bool = True

    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 14

    graphiql: bool = True
    # A JSON POST of one operation to /graphql skips Starlette's middleware stack and router
    # (graph/transport.py, `LeanPost`); off, every request takes the Starlette app.
    lean_http: bool = True
    # The /demo page names the demo customers and their password as hints; `marquee serve
    # --demo` turns it on for its workers (the data it loads has those accounts).
    demo_hints: bool = False
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
    # Persisted queries (docs/persisted-queries.md): "apq" learns documents that clients
    # send with their SHA-256 (Apollo's automatic persisted queries); "allowlist" accepts
    # only documents registered with `marquee persisted-queries register`; "off" neither.
    persisted_queries: Literal["off", "apq", "allowlist"] = "apq"
    # Learned (not registered) documents kept in PostgreSQL; past this the least recently
    # used go. Documents each worker keeps in memory, so that a hash costs no query.
    persisted_queries_max_learned: int = Field(default=10_000, ge=1)
    persisted_queries_cache_size: int = Field(default=1_000, ge=1)
    # New documents each worker stores per second at most (the rest run unstored, and are
    # stored when sent again): one anonymous client cannot turn every request into a write.
    persisted_queries_learn_per_second: float = Field(default=20.0, gt=0)
    # Cache-Control max-age of an anonymous GET of a persisted query answered without errors
    # (with an ETag, so a CDN can revalidate); 0 = revalidate every time.
    persisted_queries_max_age: int = Field(default=0, ge=0)

    # Exact caching of anonymous public reads (docs/caching.md): each worker keeps answers
    # of declared-public operations until PostgreSQL announces a change of a table they
    # read; bounded in entries and bytes (least recently used go first).
    response_cache: bool = True
    response_cache_max_entries: int = Field(default=2_000, ge=1)
    response_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    # Sign-in limits (docs/accounts.md, "Rate limits"): attempts per client address per
    # minute; attempts per account (any address) per hour; consecutive failures per
    # (account, address) before an exponential backoff starts, and its ceiling.
    login_rate_per_minute: int = 10
    login_account_rate_per_hour: int = 100
    login_backoff_free_failures: int = 5
    login_backoff_max_seconds: int = 900
    register_rate_per_minute: int = 5
    # Password links (docs/accounts.md, "Password links"): how long the link of an account
    # an administrator created works, and a forgotten password's; requests for a reset link
    # per client address and per account per minute.
    password_set_ttl_hours: int = 72
    password_reset_ttl_minutes: int = 60
    password_reset_rate_per_minute: int = 3
    # The address people reach this server at, for links in e-mails (default: host and port).
    public_url: str | None = None
    # Phone numbers written without "+" and a country code (docs/accounts.md, "Phone
    # numbers") are read as national numbers of this region (ISO 3166 code: US, FR, GB …).
    default_phone_region: str = "US"
    # Unknown promo codes a customer may try per window before codes are no longer answered
    # until it ends (docs/shop.md, "Guessing codes"); 0 turns the limit off.
    promo_code_guesses: int = 20
    promo_code_guess_window_seconds: int = 600

    hold_ttl_seconds: int = 600
    max_seats_per_hold: int = 10
    sales_window_days: int = 30
    sweeper_interval_seconds: float = 1.0
    # Movies' popularity and trending score are recomputed every this many seconds
    # (graph/catalog/trending.py, docs/catalog.md "Popularity and trending"); <= 0: off.
    trending_interval_seconds: float = 600.0
    # The days that are over are summed into the sales reports' rollup every this many
    # seconds (graph/reports/rollup.py, docs/shop.md "The rollup"); <= 0: off.
    sales_rollup_interval_seconds: float = 60.0
    max_subscriptions_per_connection: int = 20
    subscriber_queue_size: int = 256
    # How often the seat hub compares its subscribers' sequences with the database's
    # (graph/realtime.py, docs/booking.md "Audit"); <= 0 turns the audit off.
    seat_audit_seconds: float = 5.0

    # The sale (docs/orders.md). Payments: the provider by name ("sandbox" is built in and
    # refused in production unless allowed), the webhook secret (generated into the data
    # directory in development) and where the sandbox sends its webhooks (default: this
    # server's own /webhooks/payments/sandbox).
    payment_provider: Literal["sandbox"] = "sandbox"
    allow_sandbox_payments_in_production: bool = False
    payment_webhook_secret: str | None = None
    payment_webhook_url: str | None = None
    loyalty_points_per_unit: Decimal = Decimal(1)
    # The currency of account totals (Me.totalSpent); showtime prices carry their own.
    currency: str = "USD"
    cancellation_cutoff_minutes: int = 60
    check_in_opens_minutes: int = 60
    # Settling payments left PROCESSING (reconciliation) and refunding cancelled showtimes
    # run every this many seconds in the sweeper's process (0 = off).
    reconcile_interval_seconds: float = 30.0

    # E-mail (docs/outbox.md): the outbox sender of each process polls every
    # outbox_interval_seconds (<= 0: none in this process). smtp://[user:password@]host:port
    # (smtps:// implicit TLS, ?starttls=true|false); without it development writes .eml files
    # under data_dir/outbox, and production sends nothing (messages wait, PENDING).
    smtp_url: str | None = None
    mail_from: str = "Marquee <tickets@marquee.localhost>"
    outbox_interval_seconds: float = 1.0
    outbox_max_attempts: int = 10
    # Text messages (docs/outbox.md, "Text messages"): "file" writes them under
    # data_dir/sms (the default outside production), "none" sends none; production sends
    # none unless one is configured (messages wait, PENDING).
    sms_provider: Literal["file", "none"] | None = None

    tmdb_api_key: str | None = None
    tmdb_base_url: str = "https://api.themoviedb.org/3"

    # Ticket QR signatures (docs/orders.md, "Ticket signatures and QR codes"): the current
    # Ed25519 private key (PKCS#8 PEM, or the base64 of its 32-byte seed), its key id (default:
    # derived from the key), and the public keys rotated out, as JSON [{"kid": .., "x": ..}].
    # Without a key (development, tests) the keys live in <data_dir>/ticket-keys/.
    ticket_signing_key: SecretStr | None = None
    ticket_signing_key_id: str | None = None
    ticket_retired_public_keys: list[RetiredTicketKey] = []
    _ticket_signer: signing.TicketSigner | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and not self.jwt_secret:
            raise ValueError("MARQUEE_JWT_SECRET is required when MARQUEE_ENV=production")
        return self

    @field_validator("default_phone_region")
    @classmethod
    def _known_phone_region(cls, value: str) -> str:
        value = value.strip().upper()
        if not phones.is_region(value):
            raise ValueError("MARQUEE_DEFAULT_PHONE_REGION must be a region code such as US or FR")
        return value

    @field_validator("ticket_signing_key")
    @classmethod
    def _blank_is_no_key(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _ticket_keys_are_usable(self) -> Settings:
        try:
            signer = self._configured_ticket_signer(self._retired_ticket_keys())
        except ValueError as exc:  # the message never repeats the key
            raise ValueError(f"ticket signing settings: {exc}") from None
        if signer is None and self.env == "production":
            raise ValueError(
                "MARQUEE_TICKET_SIGNING_KEY is required when MARQUEE_ENV=production "
                "(`marquee rotate-ticket-key --print` makes one)"
            )
        return self

    @model_validator(mode="after")
    def _production_payments(self) -> Settings:
        if self.env != "production":
            return self
        if self.payment_provider == "sandbox" and not self.allow_sandbox_payments_in_production:
            raise ValueError(
                "MARQUEE_PAYMENT_PROVIDER=sandbox takes no real money: production refuses "
                "it unless MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION=true"
            )
        if not self.payment_webhook_secret:
            raise ValueError(
                "MARQUEE_PAYMENT_WEBHOOK_SECRET is required when MARQUEE_ENV=production"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def secret(self) -> str:
        """The JWT secret: from settings, or in development generated once and kept (0600)."""
        if not self.jwt_secret:
            self.jwt_secret = self._generated_secret("jwt-secret")
        return self.jwt_secret

    def webhook_secret(self) -> str:
        """The payment webhook secret: from settings, or generated once like the JWT's."""
        if not self.payment_webhook_secret:
            self.payment_webhook_secret = self._generated_secret("payment-webhook-secret")
        return self.payment_webhook_secret

    def base_url(self) -> str:
        """The server's address as customers reach it (links in e-mails)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def webhook_url(self) -> str:
        """Where the sandbox provider sends its webhooks."""
        if self.payment_webhook_url:
            return self.payment_webhook_url
        return f"http://{self.host}:{self.port}/webhooks/payments/sandbox"

    def _generated_secret(self, name: str) -> str:
        """A secret generated once into the data directory (0600). Workers starting together
        race to create it; the file appears whole (db/files.py), so none reads it empty."""
        path = self.data_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            create_once(path, secrets.token_urlsafe(48).encode("ascii"))  # or another did
        return path.read_text().strip()

    @property
    def ticket_key_directory(self) -> Path:
        return self.data_dir / "ticket-keys"

    def _retired_ticket_keys(self) -> list[tuple[str, Ed25519PublicKey]]:
        return [(k.kid, signing.load_public_key(k.x)) for k in self.ticket_retired_public_keys]

    def _configured_ticket_signer(
        self, retired: list[tuple[str, Ed25519PublicKey]]
    ) -> signing.TicketSigner | None:
        if self.ticket_signing_key is None:
            return None
        key = signing.load_private_key(self.ticket_signing_key.get_secret_value())
        return signing.TicketSigner(key, self.ticket_signing_key_id, retired)

    def ticket_signer(self) -> signing.TicketSigner:
        """Signs and verifies ticket payloads (built once per process). The key comes from
        MARQUEE_TICKET_SIGNING_KEY; without it (development), from the key directory, where
        the first key is generated once and `marquee rotate-ticket-key` adds new ones."""
        if self._ticket_signer is None:
            retired = self._retired_ticket_keys()
            signer = self._configured_ticket_signer(retired)
            if signer is None:
                *older, current = signing.read_key_directory(self.ticket_key_directory)
                older_public = [key.public_key() for key in reversed(older)]  # newest first
                retired = [(signing.key_id_for(k), k) for k in older_public] + retired
                signer = signing.TicketSigner(current, None, retired)
            self._ticket_signer = signer
        return self._ticket_signer

    def rotate_ticket_key(self) -> str:
        """Development: a new current key in the key directory (the earlier ones keep
        verifying); returns its key id. Processes already running sign with the key they
        loaded until they restart. With MARQUEE_TICKET_SIGNING_KEY set, rotation is done in
        the settings instead (`marquee rotate-ticket-key --print`)."""
        if self.ticket_signing_key is not None:
            raise ValueError("the ticket key comes from MARQUEE_TICKET_SIGNING_KEY")
        key = signing.add_key_to_directory(self.ticket_key_directory)
        self._ticket_signer = None
        return signing.key_id_for(key.public_key())


@lru_cache
def get_settings() -> Settings:
    return Settings()
