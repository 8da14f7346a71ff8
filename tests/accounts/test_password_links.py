"""Password links: createUser (an account without a password, whose owner sets one by an
e-mailed link), requestPasswordReset and resetPassword. Through the app, the outbox rows and
a real SMTP server."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from db.session import Database, SharedConnectionDatabase
from graph.relay import to_global_id
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user
from tests.outbox.conftest import SmtpServer
from tests.outbox.test_sending import sender

CREATE = """
mutation ($input: CreateUserInput!) { createUser(input: $input) {
  user { id username role } errors { code field } } }
"""
REQUEST = """
mutation ($l: String!) { requestPasswordReset(input: {login: $l}) {
  accepted errors { code } } }
"""
RESET = """
mutation ($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) {
  accessToken refreshToken user { username } errors { code field } } }
"""
LOGIN = """
mutation ($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
  accessToken refreshToken errors { code } } }
"""
REFRESH = """
mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) { errors { code } } }
"""
CHANGE = """
mutation ($c: String!, $n: String!) { changePassword(input: {currentPassword: $c,
  newPassword: $n}) { errors { code } } }
"""
LINK_PREFIX = "http://127.0.0.1:8000/account/password#token="


async def _links(db: Database, email: str) -> list[dict[str, Any]]:
    """The password e-mails written for `email`, oldest first (template and context)."""
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT template, context, status FROM outbox_messages "
                "WHERE recipient = :e ORDER BY id"
            ),
            {"e": email},
        )
        return [dict(r._mapping) for r in rows]


def _token(link: dict[str, Any]) -> str:
    url: str = link["context"]["secret_link"]
    assert url.startswith(LINK_PREFIX), url
    return url.removeprefix(LINK_PREFIX)


async def _login(gql: GraphQLClient, login: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.execute(LOGIN, {"l": login, "p": password}))["login"]
    return result


async def test_an_admin_creates_an_account_whose_owner_sets_the_password_by_link(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    new = {
        "username": "newbie",
        "email": "newbie@example.com",
        "fullName": "New Bie",
        "phone": "+33 6 11 22 33 44",
        "role": "MANAGER",
    }
    created = await gql.execute(CREATE, {"input": new}, token=gql.token_for(admin))
    user = created["createUser"]["user"]
    assert created["createUser"]["errors"] == []
    assert (user["username"], user["role"]) == ("newbie", "MANAGER")

    [mail] = await _links(db, "newbie@example.com")
    assert (mail["template"], mail["status"]) == ("set_password", "PENDING")
    assert mail["context"]["username"] == "newbie"
    assert mail["context"]["customer_name"] == "New Bie"
    token = _token(mail)
    # Only the token's hash is stored.
    async with db.transaction() as session:
        stored = await session.scalar(text("SELECT token_hash FROM password_tokens"))
    assert stored is not None
    assert token not in stored

    short = (await gql.execute(RESET, {"t": token, "p": "short"}))["resetPassword"]
    assert short["errors"] == [{"code": "VALIDATION_ERROR", "field": "newPassword"}]
    done = (await gql.execute(RESET, {"t": token, "p": "my-own-password"}))["resetPassword"]
    assert done["errors"] == []
    assert done["user"] == {"username": "newbie"}
    assert done["accessToken"]
    assert done["refreshToken"]
    me = await gql.execute("{ me { username role } }", token=done["accessToken"])
    assert me["me"] == {"username": "newbie", "role": "MANAGER"}
    assert (await _login(gql, "+33611223344", "my-own-password"))["errors"] == []
    # A link works once.
    again = (await gql.execute(RESET, {"t": token, "p": "another-password"}))["resetPassword"]
    assert again["errors"] == [{"code": "INVALID_TOKEN", "field": "token"}]
    assert (await _login(gql, "newbie", "my-own-password"))["errors"] == []


async def test_create_user_rules(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, role="ADMIN", username="root")
    token = gql.token_for(admin)
    taken = {"username": "root", "email": "other@example.com"}
    result = (await gql.execute(CREATE, {"input": taken}, token=token))["createUser"]
    assert result == {"user": None, "errors": [{"code": "ALREADY_EXISTS", "field": "username"}]}
    bad = {"username": "x", "email": "not-an-address"}
    result = (await gql.execute(CREATE, {"input": bad}, token=token))["createUser"]
    assert {e["field"] for e in result["errors"]} == {"username", "email"}
    assert await _links(db, "other@example.com") == []
    # The default role is CUSTOMER.
    plain = {"username": "plain", "email": "plain@example.com"}
    result = (await gql.execute(CREATE, {"input": plain}, token=token))["createUser"]
    assert result["user"]["role"] == "CUSTOMER"
    for role in ("CUSTOMER", "MANAGER"):
        other = await create_user(db, role=role)
        body = await gql.raw(
            CREATE,
            {"input": {"username": f"by{role.lower()}", "email": "x@example.com"}},
            token=gql.token_for(other),
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql.raw(CREATE, {"input": {"username": "anon", "email": "a@example.com"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await _links(db, "x@example.com") == []


async def test_a_forgotten_password_is_reset_by_the_latest_link_and_ends_every_session(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    ada = await create_user(db, username="ada", email="ada@example.com", phone="+14155550100")
    old = await _login(gql, "ada", "correct-horse-battery")
    for login in ("ada@example.com", "(415) 555-0100"):  # e-mail, then phone (region US)
        result = (await gql.execute(REQUEST, {"l": login}))["requestPasswordReset"]
        assert result == {"accepted": True, "errors": []}
    first, second = await _links(db, "ada@example.com")
    assert first["template"] == second["template"] == "password_reset"
    # Only the latest link works.
    stale = await gql.execute(RESET, {"t": _token(first), "p": "brand-new-pass"})
    assert stale["resetPassword"]["errors"] == [{"code": "INVALID_TOKEN", "field": "token"}]
    fresh = await gql.execute(RESET, {"t": _token(second), "p": "brand-new-pass"})
    assert fresh["resetPassword"]["errors"] == []
    # The old password and every earlier session are gone.
    assert (await _login(gql, "ada", "correct-horse-battery"))["errors"] != []
    refreshed = await gql.execute(REFRESH, {"t": old["refreshToken"]})
    assert refreshed["refreshToken"]["errors"] == [{"code": "INVALID_TOKEN"}]
    body = await gql.raw("{ me { username } }", token=old["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await _login(gql, "ada", "brand-new-pass"))["errors"] == []
    assert ada.id


async def test_nobody_learns_which_logins_exist_and_dead_accounts_get_no_link(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    gone = await create_user(db, username="gone", email="gone@example.com")
    off = await create_user(db, username="off", email="off@example.com")
    token = gql.token_for(admin)
    erase = "mutation ($id: ID!) { deleteUser(input: {userId: $id}) { errors { code } } }"
    await gql.execute(erase, {"id": to_global_id("User", gone.id)}, token=token)
    deactivate = """mutation ($id: ID!) { setUserActive(input: {userId: $id, isActive: false})
      { errors { code } } }"""
    await gql.execute(deactivate, {"id": to_global_id("User", off.id)}, token=token)
    for login in ("nobody", "nobody@example.com", "gone", "off", "x" * 400, ""):
        result = (await gql.execute(REQUEST, {"l": login}))["requestPasswordReset"]
        assert result == {"accepted": True, "errors": []}
    async with db.transaction() as session:
        count = await session.scalar(text("SELECT count(*) FROM outbox_messages"))
    assert count == 0
    for bogus in ("", "not-a-token", "x" * 5000):
        result = (await gql.execute(RESET, {"t": bogus, "p": "whatever-pass"}))["resetPassword"]
        assert result["errors"] == [{"code": "INVALID_TOKEN", "field": "token"}]


async def test_expired_links_deactivated_accounts_and_password_changes_void_a_link(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    bea = await create_user(db, username="bea", email="bea@example.com")

    async def link() -> str:
        await gql.execute(REQUEST, {"l": "bea"})
        return _token((await _links(db, "bea@example.com"))[-1])

    async def refused(token: str) -> None:
        result = await gql.execute(RESET, {"t": token, "p": "new-password-1"})
        assert result["resetPassword"]["errors"] == [{"code": "INVALID_TOKEN", "field": "token"}]

    expired = await link()
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE password_tokens SET expires_at = now() - interval '1 second'")
        )
    await refused(expired)

    changed = await link()
    bea_tokens = await _login(gql, "bea", "correct-horse-battery")
    change = {"c": "correct-horse-battery", "n": "changed-password"}
    assert (await gql.execute(CHANGE, change, token=bea_tokens["accessToken"]))["changePassword"][
        "errors"
    ] == []
    await refused(changed)

    deactivated = await link()
    deactivate = """mutation ($id: ID!) { setUserActive(input: {userId: $id, isActive: false})
      { errors { code } } }"""
    await gql.execute(deactivate, {"id": to_global_id("User", bea.id)}, token=gql.token_for(admin))
    await refused(deactivated)


async def test_asking_for_links_is_rate_limited_per_login(
    gql: GraphQLClient, db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="cyd", email="cyd@example.com")
    limit = settings.password_reset_rate_per_minute
    for _ in range(limit):
        assert (await gql.execute(REQUEST, {"l": "cyd"}))["requestPasswordReset"]["accepted"]
    body = await gql.raw(REQUEST, {"l": "CYD"})
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert len(await _links(db, "cyd@example.com")) == limit


async def test_two_requests_racing_with_one_link_set_one_password(
    committed_gql: GraphQLClient, committed_db: Database, smtp_server: SmtpServer
) -> None:
    await create_user(committed_db, username="dan", email="dan@example.com")
    await committed_gql.execute(REQUEST, {"l": "dan"})
    [mail] = await _links(committed_db, "dan@example.com")
    token = _token(mail)

    # The e-mail goes out with the link; once sent, the row no longer holds it.
    assert (await sender(committed_db, smtp_server.port).run_once()).sent == 1
    [received] = smtp_server.received
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"#token={token}" in body.get_content()
    [settled] = await _links(committed_db, "dan@example.com")
    assert settled["status"] == "SENT"
    assert "secret_link" not in settled["context"]
    assert settled["context"]["username"] == "dan"

    passwords = [f"racing-password-{n}" for n in range(8)]
    results = await asyncio.gather(
        *(committed_gql.execute(RESET, {"t": token, "p": p}) for p in passwords)
    )
    winners = [
        p for p, r in zip(passwords, results, strict=True) if not r["resetPassword"]["errors"]
    ]
    assert len(winners) == 1
    assert all(
        r["resetPassword"]["errors"] in ([], [{"code": "INVALID_TOKEN", "field": "token"}])
        for r in results
    )
    assert (await _login(committed_gql, "dan", winners[0]))["errors"] == []
