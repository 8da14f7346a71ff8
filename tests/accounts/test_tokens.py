"""Access and refresh tokens: expiry, rotation, re-use, logout, deactivated users."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select, update

from db.accounts.models import RefreshToken, User
from db.accounts.tokens import hash_token
from db.session import SharedConnectionDatabase
from graph.auth import InvalidToken, decode_access_token
from tests.conftest import GraphQLClient
from tests.factories import create_user

LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "correct-horse-battery"}) {
    accessToken refreshToken errors { code }
  }
}
"""
REFRESH = """
mutation ($token: String!) {
  refreshToken(input: {refreshToken: $token}) {
    accessToken refreshToken user { username } errors { code field message }
  }
}
"""
LOGOUT = """
mutation ($input: LogoutInput!) {
  logout(input: $input) { sessionsEnded errors { code field message } }
}
"""
ME = "{ me { username } }"


async def _login(gql: GraphQLClient, login: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.execute(LOGIN, {"login": login}))["login"]
    assert payload["errors"] == []
    return payload


async def _refresh(gql: GraphQLClient, token: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.execute(REFRESH, {"token": token}))["refreshToken"]
    return payload


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def test_expired_access_token_is_unauthenticated(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db)
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode(
        {
            "sub": str(user.id),
            "role": user.role,
            "type": "access",
            "iat": past - timedelta(minutes=15),
            "exp": past,
            "jti": "x",
        },
        gql.settings.secret(),
        algorithm=gql.settings.jwt_algorithm,
    )
    body = await gql.raw(ME, token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in body["errors"][0]["message"]


async def test_forged_or_malformed_access_token_is_unauthenticated(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db)
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "type": "access", "iat": now, "exp": now + timedelta(minutes=5)}
    forged = jwt.encode(claims, "another-secret-of-sufficient-length", algorithm="HS256")
    wrong_type = jwt.encode({**claims, "type": "refresh"}, gql.settings.secret(), algorithm="HS256")
    for token in (forged, wrong_type, "garbage"):
        body = await gql.raw(ME, token=token)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token


async def test_a_verified_token_is_still_refused_once_expired_or_under_another_key(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    """graph/auth.py keeps the claims of tokens it verified: the expiry is still checked on
    every request, and the kept claims only count for the key that verified them."""
    user = await create_user(db)
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(seconds=2),
    }
    token = jwt.encode(claims, gql.settings.secret(), algorithm=gql.settings.jwt_algorithm)
    assert await gql.execute(ME, token=token) == {"me": {"username": user.username}}
    assert await gql.execute(ME, token=token) == {"me": {"username": user.username}}
    other = gql.settings.model_copy(update={"jwt_secret": "another-secret-of-sufficient-length"})
    with pytest.raises(InvalidToken):
        decode_access_token(token, other)
    await asyncio.sleep((claims["exp"] - datetime.now(UTC)).total_seconds() + 0.1)
    body = await gql.raw(ME, token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in body["errors"][0]["message"]


async def test_anonymous_me_is_null(gql: GraphQLClient) -> None:
    assert await gql.execute(ME) == {"me": None}


async def test_refresh_rotates_the_token(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    user = await create_user(db, username="rotor")
    first = await _login(gql, "rotor")
    second = await _refresh(gql, first["refreshToken"])
    assert second["errors"] == []
    assert second["user"] == {"username": "rotor"}
    assert second["refreshToken"] != first["refreshToken"]
    assert (await gql.execute(ME, token=second["accessToken"]))["me"] == {"username": "rotor"}
    third = await _refresh(gql, second["refreshToken"])
    assert third["errors"] == []
    # only hashes are stored, all in one family
    rows = await db.fetch(
        select(RefreshToken.family_id, RefreshToken.token_hash).where(
            RefreshToken.user_id == user.id
        )
    )
    assert len(rows) == 3
    assert len({r.family_id for r in rows}) == 1
    stored = {r.token_hash for r in rows}
    assert hash_token(third["refreshToken"]) in stored
    assert third["refreshToken"] not in stored


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="victim")
    stolen = (await _login(gql, "victim"))["refreshToken"]
    other_device = (await _login(gql, "victim"))["refreshToken"]
    legit = await _refresh(gql, stolen)  # the real client rotates
    reused = await _refresh(gql, stolen)  # the thief replays the old token
    assert _codes(reused) == ["INVALID_TOKEN"]
    assert reused["errors"][0]["field"] == "refreshToken"
    assert reused["accessToken"] is None
    # the newest token of that family is dead too ...
    assert _codes(await _refresh(gql, legit["refreshToken"])) == ["INVALID_TOKEN"]
    # ... but another sign-in (family) of the same user is untouched
    assert (await _refresh(gql, other_device))["errors"] == []


async def test_unknown_and_expired_refresh_tokens_are_invalid(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="late")
    assert _codes(await _refresh(gql, "not-a-token")) == ["INVALID_TOKEN"]
    assert _codes(await _refresh(gql, "x" * 1000)) == ["INVALID_TOKEN"]
    token = (await _login(gql, "late"))["refreshToken"]
    async with db.transaction() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == hash_token(token))
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
    assert _codes(await _refresh(gql, token)) == ["INVALID_TOKEN"]


async def test_deactivated_user_is_locked_out_at_the_next_request(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db, username="leaver")
    tokens = await _login(gql, "leaver")
    assert (await gql.execute(ME, token=tokens["accessToken"]))["me"] == {"username": "leaver"}
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    body = await gql.raw(ME, token=tokens["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert _codes(await _refresh(gql, tokens["refreshToken"])) == ["ACCOUNT_DISABLED"]


async def test_logout_one_session(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    await create_user(db, username="leaving")
    phone = (await _login(gql, "leaving"))["refreshToken"]
    laptop = (await _login(gql, "leaving"))["refreshToken"]
    payload = (await gql.execute(LOGOUT, {"input": {"refreshToken": phone}}))["logout"]
    assert payload == {"sessionsEnded": 1, "errors": []}
    assert _codes(await _refresh(gql, phone)) == ["INVALID_TOKEN"]
    assert (await _refresh(gql, laptop))["errors"] == []
    # idempotent
    payload = (await gql.execute(LOGOUT, {"input": {"refreshToken": phone}}))["logout"]
    assert payload == {"sessionsEnded": 0, "errors": []}


async def test_logout_all_sessions(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    await create_user(db, username="everywhere")
    sessions = [await _login(gql, "everywhere") for _ in range(3)]
    payload = (
        await gql.execute(
            LOGOUT, {"input": {"allSessions": True}}, token=sessions[0]["accessToken"]
        )
    )["logout"]
    assert payload == {"sessionsEnded": 3, "errors": []}
    for s in sessions:
        assert _codes(await _refresh(gql, s["refreshToken"])) == ["INVALID_TOKEN"]


async def test_logout_all_sessions_with_a_refresh_token_only(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="tokenonly")
    a = (await _login(gql, "tokenonly"))["refreshToken"]
    b = (await _login(gql, "tokenonly"))["refreshToken"]
    payload = (await gql.execute(LOGOUT, {"input": {"refreshToken": a, "allSessions": True}}))[
        "logout"
    ]
    assert payload["sessionsEnded"] == 2
    assert _codes(await _refresh(gql, b)) == ["INVALID_TOKEN"]


async def test_logout_bad_inputs(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    await create_user(db, username="alice")
    await create_user(db, username="mallory")
    alice = await _login(gql, "alice")
    mallory = await _login(gql, "mallory")
    # someone else's token, while signed in as yourself
    payload = (
        await gql.execute(
            LOGOUT, {"input": {"refreshToken": alice["refreshToken"]}}, token=mallory["accessToken"]
        )
    )["logout"]
    assert _codes(payload) == ["INVALID_TOKEN"]
    assert (await _refresh(gql, alice["refreshToken"]))["errors"] == []
    # an unknown token
    payload = (await gql.execute(LOGOUT, {"input": {"refreshToken": "nope"}}))["logout"]
    assert _codes(payload) == ["INVALID_TOKEN"]
    # nothing to do
    payload = (await gql.execute(LOGOUT, {"input": {}}, token=mallory["accessToken"]))["logout"]
    assert _codes(payload) == ["VALIDATION_ERROR"]
    # all sessions of whom? anonymous and without a token
    body = await gql.raw(LOGOUT, {"input": {"allSessions": True}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _token_issued_seconds_ago(gql: GraphQLClient, user_id: int, seconds: int) -> str:
    iat = datetime.now(UTC) - timedelta(seconds=seconds)
    return jwt.encode(
        {
            "sub": str(user_id),
            "role": "CUSTOMER",
            "type": "access",
            "iat": iat,
            "exp": iat + timedelta(minutes=15),
            "jti": "old",
        },
        gql.settings.secret(),
        algorithm=gql.settings.jwt_algorithm,
    )


async def test_logout_all_sessions_also_ends_earlier_access_tokens(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db, username="allout")
    earlier = _token_issued_seconds_ago(gql, user.id, 5)
    assert (await gql.execute(ME, token=earlier))["me"] == {"username": "allout"}
    payload = (await gql.execute(LOGOUT, {"input": {"allSessions": True}}, token=earlier))["logout"]
    assert payload["errors"] == []
    body = await gql.raw(ME, token=earlier)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "session has ended" in body["errors"][0]["message"]
    # signing in again works
    fresh = await _login(gql, "allout")
    assert (await gql.execute(ME, token=fresh["accessToken"]))["me"] == {"username": "allout"}


async def _me_code(gql: GraphQLClient, access_token: str) -> str | None:
    """None when `me` answers, else the top-level error code."""
    body = await gql.raw(ME, token=access_token)
    if not body.get("errors"):
        return None
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_a_dead_refresh_token_cannot_end_all_sessions(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="sleeper")
    other = await _login(gql, "sleeper")  # the session that must survive
    rotated = (await _login(gql, "sleeper"))["refreshToken"]
    assert (await _refresh(gql, rotated))["errors"] == []
    revoked = (await _login(gql, "sleeper"))["refreshToken"]
    await gql.execute(LOGOUT, {"input": {"refreshToken": revoked}})
    expired = (await _login(gql, "sleeper"))["refreshToken"]
    async with db.transaction() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == hash_token(expired))
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
    for dead in (rotated, revoked, expired):
        payload = (
            await gql.execute(LOGOUT, {"input": {"refreshToken": dead, "allSessions": True}})
        )["logout"]
        assert _codes(payload) == ["INVALID_TOKEN"], dead
        assert payload["sessionsEnded"] == 0
    assert await _me_code(gql, other["accessToken"]) is None
    assert (await _refresh(gql, other["refreshToken"]))["errors"] == []


async def test_reuse_detection_ends_the_family_access_tokens(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="copied")
    first = await _login(gql, "copied")
    other = await _login(gql, "copied")
    second = await _refresh(gql, first["refreshToken"])
    assert await _me_code(gql, second["accessToken"]) is None
    assert _codes(await _refresh(gql, first["refreshToken"])) == ["INVALID_TOKEN"]  # re-use
    # Every access token of the family dies with it, the thief's and the client's ...
    assert await _me_code(gql, first["accessToken"]) == "UNAUTHENTICATED"
    assert await _me_code(gql, second["accessToken"]) == "UNAUTHENTICATED"
    # ... and another session of the same user is untouched.
    assert await _me_code(gql, other["accessToken"]) is None


async def test_logout_one_session_ends_its_access_token(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="twodevices")
    phone = await _login(gql, "twodevices")
    laptop = await _login(gql, "twodevices")
    payload = (await gql.execute(LOGOUT, {"input": {"refreshToken": phone["refreshToken"]}}))[
        "logout"
    ]
    assert payload == {"sessionsEnded": 1, "errors": []}
    body = await gql.raw(ME, token=phone["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "session has ended" in body["errors"][0]["message"]
    assert await _me_code(gql, laptop["accessToken"]) is None


async def test_logout_all_sessions_ends_access_tokens_issued_the_same_second(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="quick")
    a = await _login(gql, "quick")
    b = await _login(gql, "quick")
    payload = (
        await gql.execute(
            LOGOUT, {"input": {"refreshToken": a["refreshToken"], "allSessions": True}}
        )
    )["logout"]
    assert payload["sessionsEnded"] == 2
    for tokens in (a, b):
        assert await _me_code(gql, tokens["accessToken"]) == "UNAUTHENTICATED"
