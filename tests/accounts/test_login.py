"""login: username or e-mail, one error for every wrong part, bcrypt upgrade, disabled users."""

from __future__ import annotations

from passlib.hash import bcrypt
from sqlalchemy import select, update

from db.accounts.models import User
from db.session import SharedConnectionDatabase
from tests.conftest import GraphQLClient
from tests.factories import create_user

LOGIN = """
mutation ($input: LoginInput!) {
  login(input: $input) {
    accessToken refreshToken user { username email lastLoginAt }
    errors { code field message }
  }
}
"""
ME = "{ me { username } }"
PASSWORD = "correct-horse-battery"


def _login(login: str, password: str = PASSWORD) -> dict[str, dict[str, str]]:
    return {"input": {"login": login, "password": password}}


async def test_login_with_username_or_email_any_case(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="morpheus", email="morpheus@example.com")
    for login in ("morpheus", "MORPHEUS", "morpheus@example.com", " Morpheus@Example.COM "):
        payload = (await gql.execute(LOGIN, _login(login)))["login"]
        assert payload["errors"] == [], login
        assert payload["user"]["username"] == "morpheus"
        assert payload["user"]["lastLoginAt"] is not None
        assert payload["refreshToken"]
        me = await gql.execute(ME, token=payload["accessToken"])
        assert me["me"] == {"username": "morpheus"}


async def test_wrong_password_and_unknown_user_look_the_same(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="morpheus")
    wrong_password = (await gql.execute(LOGIN, _login("morpheus", "wrong-password")))["login"]
    unknown_user = (await gql.execute(LOGIN, _login("nobody", PASSWORD)))["login"]
    empty = (await gql.execute(LOGIN, _login("", "")))["login"]
    assert wrong_password["errors"] == unknown_user["errors"] == empty["errors"]
    assert wrong_password["errors"] == [
        {
            "code": "INVALID_CREDENTIALS",
            "field": None,
            "message": "The login or the password is wrong.",
        }
    ]
    assert wrong_password["accessToken"] is None
    assert wrong_password["refreshToken"] is None


async def test_an_overlong_password_is_just_wrong(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    """passlib refuses passwords over 4 KiB with an exception: that was an internal error."""
    await create_user(db, username="neo")
    for login in ("neo", "nobody"):
        for password in ("a" * 5000, "\u00e9" * 50_000):
            result = (await gql.execute(LOGIN, _login(login, password)))["login"]
            assert [e["code"] for e in result["errors"]] == ["INVALID_CREDENTIALS"]


async def test_bcrypt_hash_verifies_and_is_upgraded_to_argon2id(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db, username="legacy")
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=bcrypt.using(rounds=4).hash(PASSWORD))
        )
    payload = (await gql.execute(LOGIN, _login("legacy")))["login"]
    assert payload["errors"] == []
    stored = await db.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$")
    # and the upgraded hash still verifies
    assert (await gql.execute(LOGIN, _login("legacy")))["login"]["errors"] == []


async def test_deactivated_user_cannot_log_in(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="gone", is_active=False)
    payload = (await gql.execute(LOGIN, _login("gone")))["login"]
    assert [e["code"] for e in payload["errors"]] == ["ACCOUNT_DISABLED"]
    assert payload["accessToken"] is None
    # with a wrong password it does not even reveal that the account exists
    payload = (await gql.execute(LOGIN, _login("gone", "wrong-password")))["login"]
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
