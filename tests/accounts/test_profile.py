"""updateProfile, changePassword, and the admin operations setUserRole / setUserActive / users."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select, update

from db.accounts.models import User
from db.session import SharedConnectionDatabase, capture_statements
from graph.relay import to_global_id
from tests.accounts.test_tokens import _token_issued_seconds_ago
from tests.conftest import GraphQLClient
from tests.factories import create_user

UPDATE = """
mutation ($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    user { username email fullName birthDate gender avatarUrl bio updatedAt }
    errors { code field message }
  }
}
"""
CHANGE_PASSWORD = """
mutation ($input: ChangePasswordInput!) {
  changePassword(input: $input) { accessToken refreshToken user { username } errors { code field } }
}
"""
LOGIN = """
mutation ($login: String!, $password: String!) {
  login(input: {login: $login, password: $password}) { accessToken refreshToken errors { code } }
}
"""
REFRESH = """
mutation ($token: String!) { refreshToken(input: {refreshToken: $token}) { errors { code } } }
"""
SET_ROLE = """
mutation ($input: SetUserRoleInput!) {
  setUserRole(input: $input) { user { id username role } errors { code field message } }
}
"""
SET_ACTIVE = """
mutation ($input: SetUserActiveInput!) {
  setUserActive(input: $input) { user { username } isActive errors { code field } }
}
"""
USERS = """
query ($first: Int, $after: String, $search: String, $role: Role) {
  users(first: $first, after: $after, search: $search, role: $role) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { username role } }
  }
}
"""
PASSWORD = "correct-horse-battery"


def _codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_update_profile(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    user = await create_user(db, username="profiled")
    token = gql.token_for(user)
    changes = {
        "fullName": "Pro Filed",
        "birthDate": "1990-05-17",
        "gender": "OTHER",
        "avatarUrl": "https://img.example.com/a.png",
        "bio": "Likes long films.",
        "email": "new@example.com",
        "username": "Profiled2",
    }
    payload = (await gql.execute(UPDATE, {"input": changes}, token=token))["updateProfile"]
    assert payload["errors"] == []
    got = payload["user"]
    assert {k: got[k] for k in changes} == changes
    # omitted fields stay, null clears an optional field
    payload = (await gql.execute(UPDATE, {"input": {"bio": None}}, token=token))["updateProfile"]
    assert payload["user"]["bio"] is None
    assert payload["user"]["fullName"] == "Pro Filed"
    me = await gql.execute("{ me { username email bio } }", token=token)
    assert me["me"] == {"username": "Profiled2", "email": "new@example.com", "bio": None}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": None}, "username"),
        ({"email": "nope"}, "email"),
        ({"email": None}, "email"),
        ({"fullName": "f" * 201}, "fullName"),
        ({"bio": "b" * 2001}, "bio"),
        ({"avatarUrl": "javascript:alert(1)"}, "avatarUrl"),
        ({"avatarUrl": "https://" + "a" * 500 + ".com"}, "avatarUrl"),
        # Characters a URL never holds, which would break out of an HTML attribute that a
        # client writes it into.
        ({"avatarUrl": 'https://evil.example/x.png" onerror=alert(1)'}, "avatarUrl"),
        ({"avatarUrl": 'http://a"onerror="alert(1)'}, "avatarUrl"),
        ({"avatarUrl": "https://img.example.com/<b>.png"}, "avatarUrl"),
        ({"avatarUrl": "https://img.example.com/a b.png"}, "avatarUrl"),
        ({"avatarUrl": "http://[::1"}, "avatarUrl"),  # urlsplit refuses it (was not caught)
        ({"birthDate": "1850-01-01"}, "birthDate"),
        ({"birthDate": "2999-01-01"}, "birthDate"),
    ],
)
async def test_update_profile_rejects_bad_input(
    gql: GraphQLClient, db: SharedConnectionDatabase, changes: dict[str, Any], field: str
) -> None:
    user = await create_user(db)
    payload = (await gql.execute(UPDATE, {"input": changes}, token=gql.token_for(user)))[
        "updateProfile"
    ]
    assert _codes(payload) == [("VALIDATION_ERROR", field)]
    assert payload["user"] is None


async def test_update_profile_taken_names(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    await create_user(db, username="taken", email="taken@example.com")
    user = await create_user(db, username="mine", email="mine@example.com")
    token = gql.token_for(user)
    for changes, field in (
        ({"username": "TAKEN"}, "username"),
        ({"email": "Taken@example.com"}, "email"),
    ):
        payload = (await gql.execute(UPDATE, {"input": changes}, token=token))["updateProfile"]
        assert _codes(payload) == [("ALREADY_EXISTS", field)]
    # changing only the case of your own name is fine
    payload = (await gql.execute(UPDATE, {"input": {"username": "MINE"}}, token=token))[
        "updateProfile"
    ]
    assert payload["errors"] == []


async def test_update_profile_needs_sign_in(gql: GraphQLClient) -> None:
    body = await gql.raw(UPDATE, {"input": {"bio": "x"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_change_password_revokes_other_sessions(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="changer")
    other = (await gql.execute(LOGIN, {"login": "changer", "password": PASSWORD}))["login"]
    mine = (await gql.execute(LOGIN, {"login": "changer", "password": PASSWORD}))["login"]
    payload = (
        await gql.execute(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": PASSWORD, "newPassword": "brand-new-secret"}},
            token=mine["accessToken"],
        )
    )["changePassword"]
    assert payload["errors"] == []
    assert payload["user"] == {"username": "changer"}
    for old in (other["refreshToken"], mine["refreshToken"]):
        result = (await gql.execute(REFRESH, {"token": old}))["refreshToken"]
        assert [e["code"] for e in result["errors"]] == ["INVALID_TOKEN"]
    result = (await gql.execute(REFRESH, {"token": payload["refreshToken"]}))["refreshToken"]
    assert result["errors"] == []
    assert (await gql.execute(ME_QUERY, token=payload["accessToken"]))["me"]
    old_login = (await gql.execute(LOGIN, {"login": "changer", "password": PASSWORD}))["login"]
    assert [e["code"] for e in old_login["errors"]] == ["INVALID_CREDENTIALS"]
    new_login = (await gql.execute(LOGIN, {"login": "changer", "password": "brand-new-secret"}))[
        "login"
    ]
    assert new_login["errors"] == []


ME_QUERY = "{ me { id } }"


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        ("wrong-password", "brand-new-secret", [("INVALID_CREDENTIALS", "currentPassword")]),
        (PASSWORD, "short", [("VALIDATION_ERROR", "newPassword")]),
        (PASSWORD, "n" * 129, [("VALIDATION_ERROR", "newPassword")]),
        (PASSWORD, PASSWORD, [("VALIDATION_ERROR", "newPassword")]),
    ],
)
async def test_change_password_rejects(
    gql: GraphQLClient,
    db: SharedConnectionDatabase,
    current: str,
    new: str,
    expected: list[tuple[str, str]],
) -> None:
    user = await create_user(db)
    payload = (
        await gql.execute(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": current, "newPassword": new}},
            token=gql.token_for(user),
        )
    )["changePassword"]
    assert _codes(payload) == expected
    assert payload["accessToken"] is None


async def test_set_user_role(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, username="root", role="ADMIN")
    user = await create_user(db, username="promoted")
    gid = to_global_id("User", user.id)
    payload = (
        await gql.execute(
            SET_ROLE, {"input": {"userId": gid, "role": "MANAGER"}}, token=gql.token_for(admin)
        )
    )["setUserRole"]
    assert payload == {
        "user": {"id": gid, "username": "promoted", "role": "MANAGER"},
        "errors": [],
    }
    # the new role takes effect at once (it is read from the database on each request)
    me = await gql.execute("{ me { role } }", token=gql.token_for(user))
    assert me["me"]["role"] == "MANAGER"


async def test_set_user_role_errors(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, role="ADMIN")
    manager = await create_user(db, role="MANAGER")
    user = await create_user(db)
    gid = to_global_id("User", user.id)
    variables = {"input": {"userId": gid, "role": "ADMIN"}}
    body = await gql.raw(SET_ROLE, variables)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for who in (user, manager):
        body = await gql.raw(SET_ROLE, variables, token=gql.token_for(who))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    token = gql.token_for(admin)
    cases = [
        ({"userId": to_global_id("User", 10**9), "role": "ADMIN"}, ("NOT_FOUND", "userId")),
        (
            {"userId": to_global_id("Movie", user.id), "role": "ADMIN"},
            ("VALIDATION_ERROR", "userId"),
        ),
        ({"userId": "garbage", "role": "ADMIN"}, ("VALIDATION_ERROR", "userId")),
        (
            {"userId": to_global_id("User", admin.id), "role": "CUSTOMER"},
            ("VALIDATION_ERROR", "role"),
        ),
    ]
    for case, expected in cases:
        payload = (await gql.execute(SET_ROLE, {"input": case}, token=token))["setUserRole"]
        assert _codes(payload) == [expected], case
    body = await gql.raw(SET_ROLE, {"input": {"userId": gid, "role": "KING"}}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_set_user_active(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, role="ADMIN")
    await create_user(db, username="suspended")
    session = (await gql.execute(LOGIN, {"login": "suspended", "password": PASSWORD}))["login"]
    target = await db.scalar(_user_id("suspended"))
    gid = to_global_id("User", target)
    token = gql.token_for(admin)
    payload = (
        await gql.execute(SET_ACTIVE, {"input": {"userId": gid, "isActive": False}}, token=token)
    )["setUserActive"]
    assert payload == {"user": {"username": "suspended"}, "isActive": False, "errors": []}
    body = await gql.raw(ME_QUERY, token=session["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    result = (await gql.execute(REFRESH, {"token": session["refreshToken"]}))["refreshToken"]
    assert [e["code"] for e in result["errors"]] == ["INVALID_TOKEN"]
    # reactivated: may sign in again
    await gql.execute(SET_ACTIVE, {"input": {"userId": gid, "isActive": True}}, token=token)
    again = (await gql.execute(LOGIN, {"login": "suspended", "password": PASSWORD}))["login"]
    assert again["errors"] == []
    # an admin cannot lock themself out
    own = to_global_id("User", admin.id)
    payload = (
        await gql.execute(SET_ACTIVE, {"input": {"userId": own, "isActive": False}}, token=token)
    )["setUserActive"]
    assert _codes(payload) == [("VALIDATION_ERROR", "isActive")]


def _user_id(username: str) -> Any:
    return select(User.id).where(User.username == username)


async def test_users_connection_for_admins(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, username="boss", role="ADMIN")
    for n in range(5):
        await create_user(db, username=f"member{n}")
    token = gql.token_for(admin)
    page = (await gql.execute(USERS, {"first": 4}, token=token))["users"]
    assert page["totalCount"] == 6
    assert [e["node"]["username"] for e in page["edges"]] == [
        "boss",
        "member0",
        "member1",
        "member2",
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql.execute(USERS, {"first": 4, "after": page["pageInfo"]["endCursor"]}, token=token)
    )["users"]
    assert [e["node"]["username"] for e in rest["edges"]] == ["member3", "member4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    found = (await gql.execute(USERS, {"search": "MEMBER3"}, token=token))["users"]
    assert [e["node"]["username"] for e in found["edges"]] == ["member3"]
    admins = (await gql.execute(USERS, {"role": "ADMIN"}, token=token))["users"]
    assert admins["totalCount"] == 1
    none = (await gql.execute(USERS, {"search": "%"}, token=token))["users"]
    assert none["totalCount"] == 0


async def test_users_search_takes_underscore_and_percent_literally(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, username="boss", role="ADMIN")
    await create_user(db, username="ann_lee")
    await create_user(db, username="annxlee")  # `_` as a LIKE wildcard would match this too
    token = gql.token_for(admin)
    found = (await gql.execute(USERS, {"search": "n_l"}, token=token))["users"]
    assert [e["node"]["username"] for e in found["edges"]] == ["ann_lee"]
    assert found["totalCount"] == 1
    none = (await gql.execute(USERS, {"search": "n%l"}, token=token))["users"]
    assert none["totalCount"] == 0


async def test_users_search_ignores_accents_in_names_and_has_a_length_limit(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    """As the movie search does: "zoe" finds "Zoë Mañas" and "ZOË" too; a search text
    over 200 characters is refused with a code, not run."""
    admin = await create_user(db, username="boss_accents", role="ADMIN")
    zoe = await create_user(db, username="zm_user")
    await create_user(db, username="zed_user")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == zoe.id).values(full_name="Zoë Mañas"))
    token = gql.token_for(admin)
    for search in ("zoe", "ZOË", "manas", "Zoë Mañ"):
        found = (await gql.execute(USERS, {"search": search}, token=token))["users"]
        assert [e["node"]["username"] for e in found["edges"]] == ["zm_user"], search
    body = await gql.raw(USERS, {"search": "z" * 201}, token=token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "search"}
    assert body["data"] is None
    at_limit = (await gql.execute(USERS, {"search": "z" * 200}, token=token))["users"]
    assert at_limit["totalCount"] == 0


async def test_users_first_over_100_is_bad_user_input(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    body = await gql.raw(USERS, {"first": 101}, token=gql.token_for(admin))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "first"
    body = await gql.raw(USERS, {"first": 5, "after": "bogus!"}, token=gql.token_for(admin))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_users_is_for_admins_only(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    manager = await create_user(db, role="MANAGER")
    body = await gql.raw(USERS, {"first": 5}, token=gql.token_for(manager))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


@pytest.mark.parametrize("page", [5, 50])
async def test_users_page_statement_count_does_not_grow(
    gql: GraphQLClient, db: SharedConnectionDatabase, page: int
) -> None:
    admin = await create_user(db, role="ADMIN")
    async with db.transaction() as session:  # one insert: hashing 50 passwords is slow
        await session.execute(
            insert(User),
            [
                {"username": f"bulk{n}", "email": f"bulk{n}@example.com", "password_hash": "x"}
                for n in range(page)
            ],
        )
    query = """
    query ($n: Int) {
      users(first: $n) { totalCount edges { cursor node { id username role createdAt } } }
    }
    """
    with capture_statements() as statements:
        data = await gql.execute(query, {"n": page}, token=gql.token_for(admin))
    assert len(data["users"]["edges"]) == page
    # the viewer, the count, the page: whatever the page size
    assert len(statements) == 3, "\n\n".join(statements)


async def test_change_password_ends_earlier_access_tokens(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db)
    earlier = _token_issued_seconds_ago(gql, user.id, 5)
    payload = (
        await gql.execute(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": PASSWORD, "newPassword": "brand-new-secret"}},
            token=earlier,
        )
    )["changePassword"]
    assert payload["errors"] == []
    body = await gql.raw(ME_QUERY, token=earlier)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql.execute(ME_QUERY, token=payload["accessToken"]))["me"]
