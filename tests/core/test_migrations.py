"""Migrations: upgrade head -> downgrade base -> upgrade head in a database of its own, and the
models agree with the migrations (autogenerate finds nothing)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.models import Base
from tests.conftest import ROOT


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    return config


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            names = {r[0] for r in rows}
        await engine.dispose()
        return names

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade(make_database: Any) -> None:
    url = make_database("roundtrip")
    config = _config(url)
    command.upgrade(config, "head")
    expected = {t.name for t in Base.metadata.sorted_tables}
    assert expected <= _tables(url)
    command.downgrade(config, "base")
    assert _tables(url) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert expected <= _tables(url)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_migrations(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], "The models and the migrations differ; write a migration for:\n" + "\n".join(
        map(str, diff)
    )


async def test_rate_limit_table_is_unlogged(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        persistence = await conn.scalar(
            text("SELECT relpersistence::text FROM pg_class WHERE relname = 'rate_limits'")
        )
    assert persistence == "u"
