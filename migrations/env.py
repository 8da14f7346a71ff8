"""Async alembic environment; the URL comes from the caller or from the settings."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.embedded import resolve_database_url
from db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The caller's URL (`marquee migrate` passes it), else DATABASE_URL, else the embedded
    PostgreSQL under MARQUEE_DATA_DIR (as the settings resolve it; migrations never import
    the GraphQL layer)."""
    url = config.attributes.get("url")
    if url:
        return str(url)
    configured = os.environ.get("DATABASE_URL") or os.environ.get("MARQUEE_DATABASE_URL")
    return resolve_database_url(configured, Path(os.environ.get("MARQUEE_DATA_DIR", ".marquee")))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
