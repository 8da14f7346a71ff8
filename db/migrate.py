"""Migrations and one-off sessions for the command line (`marquee migrate`, `seed`,
`create-admin`, `import-tmdb`) and the tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import Database, create_engine

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"
T = TypeVar("T")


def run_migrations(url: str, revision: str = "head") -> None:
    """`alembic upgrade <revision>` on the database at `url`."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    command.upgrade(config, revision)


async def in_transaction(url: str, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `fn` in one transaction on a short-lived engine (committed if it returns)."""
    database = Database(create_engine(url, pool_size=2))
    try:
        async with database.transaction() as session:
            return await fn(session)
    finally:
        await database.dispose()
