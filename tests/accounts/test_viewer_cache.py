"""Known viewers (graph/accounts/revocations.py, migration 0026_viewer_changes): a running
instance keeps what a token is judged by for the users it has seen, so a signed-in request
costs no statement for its viewer; a change of role, activity, name or
`sessions_valid_after` is announced and takes effect on every instance, and other changes of
the users row keep the entry."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from db.session import Database, capture_statements
from graph.accounts.revocations import ViewerCache
from graph.auth import Viewer, create_access_token
from graph.settings import Settings
from tests.accounts.test_session_revocation import Instance, running
from tests.factories import create_user

USERS = "{ users(first: 1) { totalCount } }"  # administrators only
ME = "{ me { username role } }"


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def _until(instance: Instance, query: str, token: str, want: str | None) -> None:
    """NOTIFY arrives after the commit, asynchronously: allow it a moment."""
    deadline = asyncio.get_running_loop().time() + 5
    while (got := code(await instance.post(query, token=token))) != want:
        assert asyncio.get_running_loop().time() < deadline, f"still {got}, not {want}"
        await asyncio.sleep(0.02)


async def _set(db: Database, user_id: int, assignment: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(f"UPDATE users SET {assignment} WHERE id = :id"), {"id": user_id}
        )


async def test_a_known_viewer_costs_no_statement(
    committed_db: Database, settings: Settings
) -> None:
    user = await create_user(committed_db, role="ADMIN")
    token = create_access_token(user.id, user.role, settings)
    async with running(committed_db, settings) as a:
        with capture_statements() as first:
            assert code(await a.post(USERS, token=token)) is None
        with capture_statements() as second:
            assert code(await a.post(USERS, token=token)) is None
        assert sum("FROM users" in s and "is_active" in s for s in first) == 1, first
        assert len(second) == len(first) - 1, (first, second)
        assert not any("is_active" in s for s in second), second
        # `me` reads the row it shows (the cache holds only what the token is judged by).
        body = await a.post(ME, token=token)
        assert body["data"]["me"] == {"username": user.username, "role": "ADMIN"}


async def test_changes_reach_every_instance(committed_db: Database, settings: Settings) -> None:
    db = committed_db
    user = await create_user(db)
    token = create_access_token(user.id, "CUSTOMER", settings)
    async with running(db, settings) as a, running(db, settings) as b:
        for instance in (a, b):
            assert code(await instance.post(USERS, token=token)) == "FORBIDDEN"
            assert len(instance.revocations.viewers) == 1
        # Promoted: both instances let the same token in (the role is the row's, not the
        # token's claim).
        await _set(db, user.id, "role = 'ADMIN'")
        for instance in (a, b):
            await _until(instance, USERS, token, None)
        # Points and spending change with every purchase: they keep the entry.
        for instance in (a, b):
            generation = instance.revocations.viewers.generation
            await _set(db, user.id, "loyalty_points = loyalty_points + 5")
            await asyncio.sleep(0.2)
            assert instance.revocations.viewers.generation == generation
            assert len(instance.revocations.viewers) == 1
        # Demoted, then renamed: seen everywhere.
        await _set(db, user.id, "role = 'CUSTOMER'")
        for instance in (a, b):
            await _until(instance, USERS, token, "FORBIDDEN")
        await _set(db, user.id, "username = 'renamed'")
        for instance in (a, b):
            deadline = asyncio.get_running_loop().time() + 5
            while (await instance.post(ME, token=token))["data"]["me"]["username"] != "renamed":
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
        # "Sign out everywhere": tokens issued before are refused ...
        await _set(db, user.id, "sessions_valid_after = now() + interval '1 minute'")
        for instance in (a, b):
            await _until(instance, ME, token, "UNAUTHENTICATED")
        # ... and so is every token of a deactivated account, on both instances.
        await _set(db, user.id, "sessions_valid_after = NULL")
        for instance in (a, b):
            await _until(instance, ME, token, None)
        await _set(db, user.id, "is_active = false")
        for instance in (a, b):
            await _until(instance, ME, token, "UNAUTHENTICATED")
            assert len(instance.revocations.viewers) == 0


async def test_no_cache_while_not_listening(committed_db: Database, settings: Settings) -> None:
    """While the LISTEN connection is down the instance cannot hear changes: every request
    reads the row again, and the connection made again starts from nothing."""
    user = await create_user(committed_db, role="ADMIN")
    token = create_access_token(user.id, user.role, settings)
    async with running(committed_db, settings) as a:
        assert code(await a.post(USERS, token=token)) is None
        revocations = a.revocations
        assert len(revocations.viewers) == 1
        # A change nobody hears (triggers off for its transaction): the cache still says
        # ADMIN, so only a read of the row can see it.
        async with committed_db.transaction() as session:
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(
                text("UPDATE users SET role = 'CUSTOMER' WHERE id = :id"), {"id": user.id}
            )
        assert code(await a.post(USERS, token=token)) is None
        revocations._set_live(False)
        try:
            assert code(await a.post(USERS, token=token)) == "FORBIDDEN"
        finally:
            revocations._set_live(True)
        assert code(await a.post(USERS, token=token)) is None  # still the stale entry
        await revocations._connected()
        assert len(revocations.viewers) == 0
        assert code(await a.post(USERS, token=token)) == "FORBIDDEN"


def test_a_row_read_during_a_change_is_not_kept() -> None:
    """A reader notes the generation before its statement; a change heard meanwhile (of any
    user) means its row may be older than the change, so it is not kept."""
    cache = ViewerCache(max_entries=2)
    before = cache.generation
    cache.forget(99)
    cache.put(before, Viewer(id=1, username="a", role="ADMIN"), None)
    assert cache.get(1) is None
    cache.put(cache.generation, Viewer(id=1, username="a", role="ADMIN"), None)
    assert cache.get(1) is not None
    # Bounded: the least recently used goes first.
    cache.put(cache.generation, Viewer(id=2, username="b", role="CUSTOMER"), None)
    assert cache.get(1) is not None
    cache.put(cache.generation, Viewer(id=3, username="c", role="CUSTOMER"), None)
    assert cache.get(2) is None
    assert cache.get(1) is not None
    assert cache.get(3) is not None


async def test_deleted_and_truncated_users_are_dropped(
    committed_db: Database, settings: Settings
) -> None:
    db = committed_db
    gone, other = await create_user(db, role="ADMIN"), await create_user(db, role="ADMIN")
    tokens = [create_access_token(u.id, u.role, settings) for u in (gone, other)]
    async with running(db, settings) as a:
        for token in tokens:
            assert code(await a.post(USERS, token=token)) is None
        assert len(a.revocations.viewers) == 2
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": gone.id})
        await _until(a, USERS, tokens[0], "UNAUTHENTICATED")
        assert code(await a.post(USERS, token=tokens[1])) is None
        async with db.transaction() as session:
            await session.execute(text("TRUNCATE users CASCADE"))
        await _until(a, USERS, tokens[1], "UNAUTHENTICATED")
        assert len(a.revocations.viewers) == 0
