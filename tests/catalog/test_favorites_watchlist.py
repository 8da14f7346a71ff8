"""Favorites and the watchlist: idempotent mutations, viewer flags, `me` connections."""

from __future__ import annotations

from typing import Any

from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_genre, create_movie, create_user

ADD = """
mutation ($input: FavoriteInput!) {
  addFavorite(input: $input) { movie { id isFavorite } errors { code field } }
}
"""
REMOVE = """
mutation ($input: FavoriteInput!) {
  removeFavorite(input: $input) { movie { id isFavorite } errors { code field } }
}
"""
SET_STATUS = """
mutation ($input: SetWatchlistStatusInput!) {
  setWatchlistStatus(input: $input) {
    movie { id watchlistStatus } entry { status movie { title } } errors { code field }
  }
}
"""
REMOVE_WATCH = """
mutation ($input: RemoveFromWatchlistInput!) {
  removeFromWatchlist(input: $input) { movie { watchlistStatus } entry { status } errors { code } }
}
"""
ME_LISTS = """
query ($status: WatchlistStatus) {
  me {
    favorites(first: 10) { totalCount edges { node { title isFavorite } } }
    watchlist(status: $status) { totalCount edges { node { status movie { title } } } }
  }
}
"""
SIMILAR = """
query ($id: ID!) { movie(id: $id) { similar(first: 3) { title } } }
"""


def _movie_input(pk: int) -> dict[str, Any]:
    return {"input": {"movieId": to_global_id("Movie", pk)}}


async def test_favorites_are_idempotent_and_listed(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    token = gql.token_for(user)
    a = await create_movie(db, title="Alpha")
    b = await create_movie(db, title="Beta")
    for _ in range(2):
        payload = (await gql.execute(ADD, _movie_input(a), token=token))["addFavorite"]
        assert payload == {
            "movie": {"id": to_global_id("Movie", a), "isFavorite": True},
            "errors": [],
        }
    await gql.execute(ADD, _movie_input(b), token=token)
    me = (await gql.execute(ME_LISTS, token=token))["me"]
    assert me["favorites"]["totalCount"] == 2
    assert {e["node"]["title"] for e in me["favorites"]["edges"]} == {"Alpha", "Beta"}
    assert all(e["node"]["isFavorite"] for e in me["favorites"]["edges"])
    for _ in range(2):
        payload = (await gql.execute(REMOVE, _movie_input(a), token=token))["removeFavorite"]
        assert payload["movie"]["isFavorite"] is False
        assert payload["errors"] == []
    me = (await gql.execute(ME_LISTS, token=token))["me"]
    assert [e["node"]["title"] for e in me["favorites"]["edges"]] == ["Beta"]


async def test_favorite_errors(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    token = gql.token_for(user)
    body = await gql.raw(ADD, _movie_input(1))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    missing = (await gql.execute(ADD, _movie_input(987_654), token=token))["addFavorite"]
    assert missing["errors"] == [{"code": "NOT_FOUND", "field": "movieId"}]
    for bad in ("???", to_global_id("Genre", 1)):
        payload = (await gql.execute(ADD, {"input": {"movieId": bad}}, token=token))["addFavorite"]
        assert payload["errors"] == [{"code": "VALIDATION_ERROR", "field": "movieId"}]


async def test_watchlist_status_changes_and_filter(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    token = gql.token_for(user)
    a = await create_movie(db, title="Alpha")
    b = await create_movie(db, title="Beta")

    async def set_status(pk: int, status: str) -> dict[str, Any]:
        variables = {"input": {"movieId": to_global_id("Movie", pk), "status": status}}
        result: dict[str, Any] = (await gql.execute(SET_STATUS, variables, token=token))[
            "setWatchlistStatus"
        ]
        return result

    payload = await set_status(a, "WANT_TO_WATCH")
    assert payload["movie"]["watchlistStatus"] == "WANT_TO_WATCH"
    assert payload["entry"] == {"status": "WANT_TO_WATCH", "movie": {"title": "Alpha"}}
    assert (await set_status(a, "WANT_TO_WATCH"))["errors"] == []
    assert (await set_status(a, "WATCHED"))["movie"]["watchlistStatus"] == "WATCHED"
    await set_status(b, "WATCHING")
    me = (await gql.execute(ME_LISTS, token=token))["me"]
    assert me["watchlist"]["totalCount"] == 2
    me = (await gql.execute(ME_LISTS, {"status": "WATCHED"}, token=token))["me"]
    assert [e["node"]["movie"]["title"] for e in me["watchlist"]["edges"]] == ["Alpha"]

    for _ in range(2):
        removed = (await gql.execute(REMOVE_WATCH, _movie_input(a), token=token))[
            "removeFromWatchlist"
        ]
        assert removed == {"movie": {"watchlistStatus": None}, "entry": None, "errors": []}

    body = await gql.raw(
        SET_STATUS,
        {"input": {"movieId": to_global_id("Movie", a), "status": "LOVED"}},
        token=token,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_similar_shares_genres_and_fans(gql: GraphQLClient, db: Database) -> None:
    scifi = await create_genre(db, "Science Fiction")
    drama = await create_genre(db, "Drama")
    base = await create_movie(db, title="Alien", genre_ids=[scifi])
    aliens = await create_movie(db, title="Aliens", genre_ids=[scifi], popularity=5)
    fans_pick = await create_movie(db, title="Heat", genre_ids=[drama])
    await create_movie(db, title="Unrelated", genre_ids=[drama])
    await create_movie(db, title="Gone", genre_ids=[scifi], is_active=False)
    fan = await create_user(db)
    for pk in (base, fans_pick):
        await gql.execute(ADD, _movie_input(pk), token=gql.token_for(fan))
    data = await gql.execute(SIMILAR, {"id": to_global_id("Movie", base)})
    assert [m["title"] for m in data["movie"]["similar"]] == ["Heat", "Aliens"]
    assert aliens
