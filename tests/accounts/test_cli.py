"""`marquee create-admin`: creates the first administrator (or promotes an existing user)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from db.accounts.models import User
from db.accounts.passwords import verify_password
from graph import cli
from graph.settings import get_settings


@pytest.fixture
def cli_database(make_database: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of its own, configured the way an operator would: DATABASE_URL."""
    url = make_database("cli")
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _user(url: str, username: str) -> Any:
    async def read() -> Any:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(User.username, User.role, User.password_hash).where(
                        User.username == username
                    )
                )
            ).first()
        await engine.dispose()
        return row

    return asyncio.run(read())


def test_create_admin_migrates_and_creates(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["create-admin", "--username", "root", "--email", "root@example.com"]
    cli.main([*argv, "--password", "first-password"])
    assert "admin 'root' is ready" in capsys.readouterr().out
    row = _user(cli_database, "root")
    assert row.role == "ADMIN"
    assert verify_password("first-password", row.password_hash)[0]
    # again: the existing user is kept, promoted, and gets the new password
    cli.main([*argv, "--password", "second-password"])
    row = _user(cli_database, "ROOT")
    assert row.role == "ADMIN"
    assert verify_password("second-password", row.password_hash)[0]


def test_create_admin_password_from_the_environment(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARQUEE_ADMIN_PASSWORD", "from-the-environment")
    cli.main(["create-admin", "--username", "envadmin", "--email", "env@example.com"])
    row = _user(cli_database, "envadmin")
    assert verify_password("from-the-environment", row.password_hash)[0]


def test_create_admin_rejects_bad_input(cli_database: str) -> None:
    with pytest.raises(SystemExit) as failed:
        cli.main(["create-admin", "--username", "x", "--email", "nope", "--password", "short"])
    message = str(failed.value)
    assert "create-admin failed" in message
    assert "username" in message
    assert _user(cli_database, "x") is None
