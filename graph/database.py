"""Where the database is, from the settings: DATABASE_URL, or an embedded PostgreSQL under
the data directory (db/embedded.py does the work)."""

from __future__ import annotations

from db.embedded import EmbeddedPostgres, normalize_url, resolve_database_url
from graph.settings import Settings, get_settings

__all__ = ["database_url", "embedded_server", "normalize_url", "read_database_url"]


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "pg")


def database_url(settings: Settings | None = None) -> str:
    """The asyncpg URL to use, starting the embedded PostgreSQL when none is configured."""
    settings = settings or get_settings()
    return resolve_database_url(settings.database_url, settings.data_dir)


def read_database_url(settings: Settings) -> str | None:
    """The asyncpg URL of the streaming replica (DATABASE_READ_URL), or None: no replica."""
    return normalize_url(settings.database_read_url) if settings.database_read_url else None
