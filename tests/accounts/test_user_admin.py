"""User administration: updateUser, deleteUser and deleteMyAccount (erasure by
anonymisation: the row stays for orders and reviews, the personal data goes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from db.session import SharedConnectionDatabase
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    create_bookable_showtime,
    create_movie,
    create_review,
    create_user,
)

UPDATE = """
mutation ($input: UpdateUserInput!) { updateUser(input: $input) {
  user { username phone role fullName } isActive errors { code field } } }
"""
DELETE = """
mutation ($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code field } } }
"""
DELETE_ME = """
mutation ($p: String!) { deleteMyAccount(input: {password: $p}) {
  deletedUserId errors { code field } } }
"""
LOGIN = """
mutation ($l: String!) { login(input: {login: $l, password: "correct-horse-battery"}) {
  accessToken refreshToken errors { code } } }
"""
REFRESH = """
mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) {
  accessToken errors { code } } }
"""
ME = "{ me { username } }"


def gid(pk: int) -> str:
    return to_global_id("User", pk)


async def _row(db: SharedConnectionDatabase, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).one()


async def _sign_in(gql: GraphQLClient, login: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.execute(LOGIN, {"l": login}))["login"]
    assert payload["errors"] == []
    return payload


async def _order_for(db: SharedConnectionDatabase, user_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO orders (number, user_id, status, currency, subtotal, total, "
                "expires_at) VALUES (:n, :u, 'PENDING_PAYMENT', 'EUR', 10, 10, "
                "now() + interval '1 hour')"
            ),
            {"n": f"T-ERASE-{user_id}", "u": user_id},
        )


async def _check_erased(
    gql: GraphQLClient, db: SharedConnectionDatabase, user_id: int, tokens: dict[str, Any]
) -> None:
    row = await _row(
        db,
        "SELECT username, email, phone, full_name, avatar_url, bio, birth_date, is_active "
        "FROM users WHERE id = :id",
        id=user_id,
    )
    assert row.username == f"deleted-{user_id}"
    assert row.email == f"deleted-{user_id}@deleted.invalid"
    assert (row.phone, row.full_name, row.avatar_url, row.bio, row.birth_date) == (None,) * 5
    assert row.is_active is False
    review = await _row(db, "SELECT is_anonymous FROM reviews WHERE user_id = :id", id=user_id)
    assert review.is_anonymous is True
    orders = await _row(db, "SELECT count(*) AS n FROM orders WHERE user_id = :id", id=user_id)
    assert orders.n == 1
    # Old tokens are dead, and nobody signs in as the account any more.
    me = await gql.raw(ME, token=tokens["accessToken"])
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = (await gql.execute(REFRESH, {"t": tokens["refreshToken"]}))["refreshToken"]
    assert refreshed["errors"] == [{"code": "INVALID_TOKEN"}]
    for login in (f"deleted-{user_id}", f"deleted-{user_id}@deleted.invalid"):
        failed = (await gql.execute(LOGIN, {"l": login}))["login"]
        assert failed["errors"] != []


async def _victim(db: SharedConnectionDatabase, gql: GraphQLClient, name: str) -> Any:
    user = await create_user(db, username=name, phone="+33612345678")
    profile = """mutation { updateProfile(input: {fullName: "Ada L", bio: "Films.",
      avatarUrl: "https://img.example.com/a.png", birthDate: "1990-01-01"}) { errors { code } } }"""
    await gql.execute(profile, token=gql.token_for(user))
    await create_review(db, user_id=user.id, movie_id=await create_movie(db))
    await _order_for(db, user.id)
    return user


async def test_admin_deletes_a_user_by_anonymising_it(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    ada = await _victim(db, gql, "ada")
    tokens = await _sign_in(gql, "ada")
    token = gql.token_for(admin)
    result = (await gql.execute(DELETE, {"id": gid(ada.id)}, token=token))["deleteUser"]
    assert result == {"deletedUserId": gid(ada.id), "errors": []}
    await _check_erased(gql, db, ada.id, tokens)
    # Idempotent; the number, name and e-mail are free again.
    again = (await gql.execute(DELETE, {"id": gid(ada.id)}, token=token))["deleteUser"]
    assert again == {"deletedUserId": gid(ada.id), "errors": []}
    await create_user(db, username="ada", phone="+33612345678")


async def test_erasure_drops_favorites_watchlist_and_unpaid_holds(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    """What the account kept for itself goes with it: favorites, the watchlist, and seats it
    held without checking out are free again at once (the order awaiting payment stays)."""
    admin = await create_user(db, role="ADMIN")
    eve = await _victim(db, gql, "eve")
    token = gql.token_for(eve)
    movie = to_global_id("Movie", await create_movie(db))
    mine = """mutation ($m: ID!, $s: ID!, $seats: [ID!]!) {
      addFavorite(input: {movieId: $m}) { errors { code } }
      setWatchlistStatus(input: {movieId: $m, status: WANT_TO_WATCH}) { errors { code } }
      holdSeats(input: {showtimeId: $s, seatIds: $seats}) { errors { code } } }"""
    show = await create_bookable_showtime(db)
    seats = [to_global_id("Seat", pk) for pk in show.seat_ids[:2]]
    done = await gql.execute(
        mine,
        {"m": movie, "s": to_global_id("Showtime", show.id), "seats": seats},
        token=token,
    )
    assert [done[k]["errors"] for k in done] == [[], [], []]
    count = (
        "SELECT (SELECT count(*) FROM favorites WHERE user_id = :id) AS favorites,"
        " (SELECT count(*) FROM watchlist_entries WHERE user_id = :id) AS watchlist,"
        " (SELECT count(*) FROM seat_holds WHERE user_id = :id) AS holds,"
        " (SELECT count(*) FROM seat_occupancy WHERE showtime_id = :st) AS taken"
    )
    before = await _row(db, count, id=eve.id, st=show.id)
    assert tuple(before) == (1, 1, 1, 2)
    result = await gql.execute(DELETE, {"id": gid(eve.id)}, token=gql.token_for(admin))
    assert result["deleteUser"]["errors"] == []
    after = await _row(db, count, id=eve.id, st=show.id)
    assert tuple(after) == (0, 0, 0, 0)
    orders = await _row(db, "SELECT count(*) AS n FROM orders WHERE user_id = :id", id=eve.id)
    assert orders.n == 1


async def test_delete_user_rules(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, role="ADMIN")
    token = gql.token_for(admin)
    own = (await gql.execute(DELETE, {"id": gid(admin.id)}, token=token))["deleteUser"]
    assert own["errors"] == [{"code": "VALIDATION_ERROR", "field": "userId"}]
    missing = (await gql.execute(DELETE, {"id": gid(999999)}, token=token))["deleteUser"]
    assert missing["errors"] == [{"code": "NOT_FOUND", "field": "userId"}]
    for role in ("CUSTOMER", "MANAGER"):
        other = await create_user(db, role=role)
        body = await gql.raw(DELETE, {"id": gid(admin.id)}, token=gql.token_for(other))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        body = await gql.raw(
            UPDATE,
            {"input": {"userId": gid(admin.id), "role": "CUSTOMER"}},
            token=gql.token_for(other),
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_delete_my_account(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    bob = await _victim(db, gql, "bob")
    tokens = await _sign_in(gql, "bob")
    wrong = await gql.execute(DELETE_ME, {"p": "wrong-password"}, token=tokens["accessToken"])
    assert wrong["deleteMyAccount"]["errors"] == [
        {"code": "INVALID_CREDENTIALS", "field": "password"}
    ]
    done = await gql.execute(DELETE_ME, {"p": "correct-horse-battery"}, token=tokens["accessToken"])
    assert done["deleteMyAccount"] == {"deletedUserId": gid(bob.id), "errors": []}
    await _check_erased(gql, db, bob.id, tokens)
    anonymous = await gql.raw(DELETE_ME, {"p": "x"})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_last_admin_cannot_delete_their_account(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    async with db.transaction() as session:
        await session.execute(text("UPDATE users SET role = 'CUSTOMER' WHERE role = 'ADMIN'"))
    admin = await create_user(db, role="ADMIN")
    token = gql.token_for(admin)
    refused = await gql.execute(DELETE_ME, {"p": "correct-horse-battery"}, token=token)
    assert refused["deleteMyAccount"]["errors"] == [
        {"code": "VALIDATION_ERROR", "field": "password"}
    ]
    await create_user(db, role="ADMIN")
    done = await gql.execute(DELETE_ME, {"p": "correct-horse-battery"}, token=token)
    assert done["deleteMyAccount"]["errors"] == []


async def test_delete_my_account_is_rate_limited(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    user = await create_user(db)
    token = gql.token_for(user)
    limit = gql.settings.login_rate_per_minute
    codes = []
    for _ in range(limit + 1):
        body = await gql.raw(DELETE_ME, {"p": "wrong-password"}, token=token)
        codes.append(body["errors"][0]["extensions"]["code"] if body.get("errors") else "OK")
    assert codes[-1] == "RATE_LIMITED"
    assert codes[:limit] == ["OK"] * limit


async def test_update_user(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    admin = await create_user(db, role="ADMIN")
    token = gql.token_for(admin)
    ada = await create_user(db, username="ada2")
    await create_user(db, username="taken", email="taken@example.com", phone="+46701234567")
    tokens = await _sign_in(gql, "ada2")

    async def update(**fields: Any) -> dict[str, Any]:
        payload = {"userId": gid(ada.id), **fields}
        result: dict[str, Any] = (await gql.execute(UPDATE, {"input": payload}, token=token))[
            "updateUser"
        ]
        return result

    ok = await update(fullName="Ada B", phone="+33 6 12 34 56 78", role="MANAGER")
    assert ok == {
        "user": {
            "username": "ada2",
            "phone": "+33612345678",
            "role": "MANAGER",
            "fullName": "Ada B",
        },
        "isActive": True,
        "errors": [],
    }
    assert (await update(email="TAKEN@example.com"))["errors"] == [
        {"code": "ALREADY_EXISTS", "field": "email"}
    ]
    assert (await update(phone="+46 70 123 45 67"))["errors"] == [
        {"code": "ALREADY_EXISTS", "field": "phone"}
    ]
    assert (await update(phone="12", email="nope"))["errors"] == [
        {"code": "VALIDATION_ERROR", "field": "email"},
        {"code": "VALIDATION_ERROR", "field": "phone"},
    ]
    missing = await gql.execute(
        UPDATE, {"input": {"userId": gid(999999), "fullName": "x"}}, token=token
    )
    assert missing["updateUser"]["errors"] == [{"code": "NOT_FOUND", "field": "userId"}]
    own = await gql.execute(
        UPDATE, {"input": {"userId": gid(admin.id), "role": "CUSTOMER"}}, token=token
    )
    assert own["updateUser"]["errors"] == [{"code": "VALIDATION_ERROR", "field": "role"}]
    # Deactivation ends the sessions.
    off = await update(isActive=False)
    assert (off["isActive"], off["errors"]) == (False, [])
    me = await gql.raw(ME, token=tokens["accessToken"])
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = (await gql.execute(REFRESH, {"t": tokens["refreshToken"]}))["refreshToken"]
    assert refreshed["errors"] == [{"code": "INVALID_TOKEN"}]
