"""`searchTmdb` and `importMovieFromTmdb` through the real app, against a local HTTP server
serving recorded TMDb responses (never the internet)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from db.catalog import tmdb as db_tmdb
from db.session import Database
from graph.catalog import tmdb as graph_tmdb
from graph.relay import to_global_id
from graph.settings import Settings
from tests.catalog.test_tmdb import AMELIE, MATRIX
from tests.conftest import GraphQLClient, _client
from tests.factories import create_movie, create_user

# Recorded from `GET /3/search/movie?query=matrix&include_adult=false` (trimmed), with a
# result lacking a title and a repeated one added: both are left out.
MATRIX_SEARCH: dict[str, Any] = {
    "page": 1,
    "results": [
        {
            "adult": False,
            "backdrop_path": "/ncEsesgOJDNrTUED89hYbA117wo.jpg",
            "genre_ids": [28, 878],
            "id": 603,
            "original_language": "en",
            "original_title": "The Matrix",
            "overview": "Set in the 22nd century, The Matrix tells the story of a computer "
            "hacker who joins a group of underground insurgents fighting the vast and "
            "powerful computers who now rule the earth.",
            "popularity": 81.5,
            "poster_path": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
            "release_date": "1999-03-31",
            "title": "The Matrix",
            "video": False,
            "vote_average": 8.2,
            "vote_count": 26000,
        },
        {
            "adult": False,
            "genre_ids": [12, 28, 53, 878],
            "id": 604,
            "original_language": "en",
            "original_title": "The Matrix Reloaded",
            "overview": "  Six months after the events depicted in The Matrix...  ",
            "popularity": 40.1,
            "poster_path": "/9TGHDvWrqKBzwDxDodHYXEmOE6J.jpg",
            "release_date": "2003-05-15",
            "title": "The Matrix Reloaded",
            "video": False,
        },
        {
            "adult": False,
            "id": 624860,
            "original_title": "The Matrix Resurrections",
            "overview": "",
            "poster_path": None,
            "release_date": "",
            "title": "The Matrix Resurrections",
        },
        {"id": 9999999, "title": "", "overview": "no title"},
        {"id": "604", "title": "A string id"},
        {"id": 603, "title": "The Matrix (again)"},
    ],
    "total_pages": 1,
    "total_results": 6,
}
EMPTY_SEARCH: dict[str, Any] = {"page": 1, "results": [], "total_pages": 0, "total_results": 0}

SEARCH = """
query ($q: String!) {
  searchTmdb(query: $q) {
    tmdbId title originalTitle releaseDate overview posterUrl movie { id title }
  }
}
"""
IMPORT = """
mutation ($id: Int!) {
  importMovieFromTmdb(input: {tmdbId: $id}) {
    movie { id tmdbId title year director genres { name } }
    errors { code field message }
  }
}
"""


class _Recorded(BaseHTTPRequestHandler):
    movies: dict[int, dict[str, Any]] = {}
    searches: dict[str, dict[str, Any]] = {}
    requests: list[str] = []
    status: int | None = None  # answer every request with this status
    delay = 0.0

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if self.status is not None:
            return self._send(self.status, {"status_code": 11})
        if query.get("api_key") != ["test-key"]:
            return self._send(401, {"status_code": 7, "status_message": "Invalid API key"})
        if parts.path == "/3/search/movie":
            text = (query.get("query") or [""])[0].lower()
            return self._send(200, self.searches.get(text, EMPTY_SEARCH))
        movie_id = parts.path.rsplit("/", 1)[-1]
        movie = self.movies.get(int(movie_id)) if movie_id.isdigit() else None
        if movie is None:
            return self._send(404, {"status_code": 34})
        return self._send(200, movie)

    def _send(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def tmdb_server() -> Iterator[str]:
    _Recorded.movies = {603: MATRIX, 194: AMELIE}
    _Recorded.searches = {"matrix": MATRIX_SEARCH}
    _Recorded.requests = []
    _Recorded.status = None
    _Recorded.delay = 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/3"
    server.shutdown()
    server.server_close()
    thread.join()


@asynccontextmanager
async def _api(db: Database, settings: Settings, **update: Any) -> AsyncIterator[GraphQLClient]:
    configured = settings.model_copy(update=update)
    async with _client(db, configured) as http:
        yield GraphQLClient(http, configured)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/3"


async def _staff_token(gql: GraphQLClient, db: Database) -> str:
    return gql.token_for(await create_user(db, role="MANAGER"))


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_search_marks_movies_in_the_catalog(
    db: Database, settings: Settings, tmdb_server: str
) -> None:
    pk = await create_movie(db, title="The Matrix", tmdb_id=603)
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        token = await _staff_token(gql, db)
        found = (await gql.execute(SEARCH, {"q": "  Matrix "}, token=token))["searchTmdb"]
        assert found == [
            {
                "tmdbId": 603,
                "title": "The Matrix",
                "originalTitle": "The Matrix",
                "releaseDate": "1999-03-31",
                "overview": MATRIX_SEARCH["results"][0]["overview"],
                "posterUrl": "https://image.tmdb.org/t/p/w342/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
                "movie": {"id": to_global_id("Movie", pk), "title": "The Matrix"},
            },
            {
                "tmdbId": 604,
                "title": "The Matrix Reloaded",
                "originalTitle": "The Matrix Reloaded",
                "releaseDate": "2003-05-15",
                "overview": "Six months after the events depicted in The Matrix...",
                "posterUrl": "https://image.tmdb.org/t/p/w342/9TGHDvWrqKBzwDxDodHYXEmOE6J.jpg",
                "movie": None,
            },
            {
                "tmdbId": 624860,
                "title": "The Matrix Resurrections",
                "originalTitle": "The Matrix Resurrections",
                "releaseDate": None,
                "overview": None,
                "posterUrl": None,
                "movie": None,
            },
        ]
        request = urlsplit(_Recorded.requests[-1])
        assert request.path == "/3/search/movie"
        assert parse_qs(request.query) == {
            "api_key": ["test-key"],
            "query": ["Matrix"],
            "include_adult": ["false"],
        }
        none = await gql.execute(SEARCH, {"q": "zzz"}, token=token)
        assert none["searchTmdb"] == []

        for bad in ("", "   ", "x" * 201, "a\x00b"):
            body = await gql.raw(SEARCH, {"q": bad}, token=token)
            assert _codes(body) == ["BAD_USER_INPUT"], body
        assert len(_Recorded.requests) == 2


async def test_search_keeps_at_most_20(db: Database, settings: Settings, tmdb_server: str) -> None:
    many = [{"id": n, "title": f"Film {n}"} for n in range(1, 31)]
    _Recorded.searches["film"] = {"page": 1, "results": many}
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        token = await _staff_token(gql, db)
        found = (await gql.execute(SEARCH, {"q": "film"}, token=token))["searchTmdb"]
    assert [c["tmdbId"] for c in found] == list(range(1, 21))


async def test_import_creates_then_updates(
    db: Database, settings: Settings, tmdb_server: str
) -> None:
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        token = await _staff_token(gql, db)
        first = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert first["errors"] == []
        movie = first["movie"]
        assert movie["tmdbId"] == 603
        assert movie["title"] == "The Matrix"
        assert movie["year"] == 1999
        assert movie["director"] == "Lana Wachowski, Lilly Wachowski"
        assert movie["genres"] == [{"name": "Action"}, {"name": "Science Fiction"}]
        assert "append_to_response=credits%2Cvideos%2Crelease_dates" in _Recorded.requests[-1]

        # TMDb changed its record: the same movie is updated.
        _Recorded.movies[603] = {**MATRIX, "title": "The Matrix (1999)"}
        again = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert again["errors"] == []
        assert again["movie"]["id"] == movie["id"]
        assert again["movie"]["title"] == "The Matrix (1999)"

        found = (await gql.execute(SEARCH, {"q": "matrix"}, token=token))["searchTmdb"]
        assert found[0]["movie"] == {"id": movie["id"], "title": "The Matrix (1999)"}


async def test_import_errors(db: Database, settings: Settings, tmdb_server: str) -> None:
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        token = await _staff_token(gql, db)
        for tmdb_id, code in ((1, "NOT_FOUND"), (0, "VALIDATION_ERROR")):
            payload = (await gql.execute(IMPORT, {"id": tmdb_id}, token=token))[
                "importMovieFromTmdb"
            ]
            assert payload["movie"] is None
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "tmdbId")]
        # TMDb answers with data that is no movie (no title): nothing is written.
        _Recorded.movies[5] = {"id": 5, "title": ""}
        payload = (await gql.execute(IMPORT, {"id": 5}, token=token))["importMovieFromTmdb"]
        assert [e["code"] for e in payload["errors"]] == ["VALIDATION_ERROR"]
        # TMDb failing (a server error, or refusing the key): unavailable.
        _Recorded.status = 503
        payload = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert [e["code"] for e in payload["errors"]] == ["TMDB_UNAVAILABLE"]
        body = await gql.raw(SEARCH, {"q": "matrix"}, token=token)
        assert _codes(body) == ["TMDB_UNAVAILABLE"]
        assert body["data"] is None
    async with _api(db, settings, tmdb_api_key="wrong-key", tmdb_base_url=tmdb_server) as gql:
        _Recorded.status = None
        payload = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert [e["code"] for e in payload["errors"]] == ["TMDB_UNAVAILABLE"]
        assert "wrong-key" not in json.dumps(payload)


async def test_not_configured_and_unreachable(db: Database, settings: Settings) -> None:
    async with _api(db, settings, tmdb_api_key=None) as gql:
        token = await _staff_token(gql, db)
        payload = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert [e["code"] for e in payload["errors"]] == ["TMDB_NOT_CONFIGURED"]
        body = await gql.raw(SEARCH, {"q": "matrix"}, token=token)
        assert _codes(body) == ["TMDB_NOT_CONFIGURED"]
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=_closed_port_url()) as gql:
        payload = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        assert [e["code"] for e in payload["errors"]] == ["TMDB_UNAVAILABLE"]
        body = await gql.raw(SEARCH, {"q": "matrix"}, token=token)
        assert _codes(body) == ["TMDB_UNAVAILABLE"]


async def test_timeout_is_unavailable(
    db: Database, settings: Settings, tmdb_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_tmdb, "REQUEST_TIMEOUT", 0.2)
    _Recorded.delay = 1.0
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        token = await _staff_token(gql, db)
        started = time.monotonic()
        payload = (await gql.execute(IMPORT, {"id": 603}, token=token))["importMovieFromTmdb"]
        body = await gql.raw(SEARCH, {"q": "matrix"}, token=token)
    assert [e["code"] for e in payload["errors"]] == ["TMDB_UNAVAILABLE"]
    assert _codes(body) == ["TMDB_UNAVAILABLE"]
    assert time.monotonic() - started < 2


async def test_staff_only(db: Database, settings: Settings, tmdb_server: str) -> None:
    async with _api(db, settings, tmdb_api_key="test-key", tmdb_base_url=tmdb_server) as gql:
        customer = gql.token_for(await create_user(db))
        for token, code in ((customer, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
            body = await gql.raw(SEARCH, {"q": "matrix"}, token=token)
            assert _codes(body) == [code]
            body = await gql.raw(IMPORT, {"id": 603}, token=token)
            assert _codes(body) == [code]
    assert _Recorded.requests == []


def test_search_api_parses_defensively() -> None:
    assert db_tmdb.parse_candidate(["not", "an", "object"]) is None
    assert db_tmdb.parse_candidate({"id": True, "title": "Bool id"}) is None
    candidate = db_tmdb.parse_candidate(
        {"id": 7, "title": " T ", "overview": "x" * 5000, "poster_path": "http://evil/x.jpg"}
    )
    assert candidate is not None
    assert (candidate.title, candidate.poster_path) == ("T", None)
    assert candidate.overview == "x" * db_tmdb.SEARCH_OVERVIEW
