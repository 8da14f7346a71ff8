"""Where the database is: DATABASE_URL, or an embedded PostgreSQL under the data directory."""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

from graph.settings import Settings, get_settings

if TYPE_CHECKING:
    from db.embedded import EmbeddedPostgres

DEV_DATABASE = "marquee"


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    from db.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.data_dir / "pg")


def database_url(settings: Settings | None = None) -> str:
    """The asyncpg URL to use, starting the embedded PostgreSQL when none is configured."""
    settings = settings or get_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    pg = embedded_server(settings)
    pg.start()
    # A command that started it leaves no server behind when it exits (other processes
    # still using it keep it running; see EmbeddedPostgres.release).
    atexit.register(pg.release)
    pg.ensure_database(DEV_DATABASE)
    return pg.url(DEV_DATABASE)
