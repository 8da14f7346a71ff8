"""Database.fetch_static: statements built once, run straight on the driver."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, literal, select

from db.session import Database, capture_statements
from tests.factories import create_user

STMT = select(
    literal(7).label("seven"),
    (bindparam("n", type_=Integer) + 1).label("next"),
    bindparam("fixed", 5, type_=Integer).label("fixed"),
)


async def test_rows_like_fetch_and_counted(db: Database) -> None:
    user = await create_user(db)
    from db.accounts.models import User as UserRow

    stmt = select(UserRow.id, UserRow.username, UserRow.created_at).where(
        UserRow.id == bindparam("pk", type_=UserRow.id.type)
    )
    with capture_statements() as log:
        static = await db.fetch_static(stmt, {"pk": user.id})
        normal = await db.fetch(stmt, {"pk": user.id})
    assert len(log) == 2, log
    assert [tuple(r) for r in static] == [tuple(r) for r in normal]
    row: Any = static[0]
    assert (row.id, row["username"], row[2]) == tuple(normal[0])
    with pytest.raises(AttributeError):
        _ = row.missing


async def test_defaults_and_required(db: Database) -> None:
    rows = await db.fetch_static(STMT, {"n": 1})
    assert [tuple(r) for r in rows] == [(7, 2, 5)]
    assert db.static_sql(STMT) is db.static_sql(STMT)  # compiled once
    with pytest.raises(KeyError):
        await db.fetch_static(STMT, {})
