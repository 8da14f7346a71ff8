"""TMDb import: JSON files and a local HTTP server standing in for the TMDb API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from db.catalog import tmdb
from db.session import Database
from graph.relay import to_global_id
from tests.conftest import ROOT, GraphQLClient

MATRIX: dict[str, Any] = {
    "id": 603,
    "title": "The Matrix",
    "original_title": "The Matrix",
    "overview": "Set in the 22nd century, The Matrix tells the story of a computer hacker...",
    "tagline": "Welcome to the Real World.",
    "release_date": "1999-03-31",
    "runtime": 136,
    "budget": 63000000,
    "revenue": 463517383,
    "popularity": 81.5,
    "poster_path": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
    "genres": [{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}],
    "production_countries": [
        {"iso_3166_1": "US", "name": "United States of America"},
        {"iso_3166_1": "AU", "name": "Australia"},
    ],
    "credits": {
        "cast": [
            {"name": "Carrie-Anne Moss", "order": 2},
            {"name": "Keanu Reeves", "order": 0},
            {"name": "Laurence Fishburne", "order": 1},
        ],
        "crew": [
            {"name": "Lana Wachowski", "job": "Director"},
            {"name": "Lilly Wachowski", "job": "Director"},
            {"name": "Joel Silver", "job": "Producer"},
        ],
    },
    "videos": {"results": [{"site": "YouTube", "type": "Trailer", "key": "vKQi3bBA1y8"}]},
    "release_dates": {"results": [{"iso_3166_1": "US", "release_dates": [{"certification": "R"}]}]},
}
AMELIE: dict[str, Any] = {
    "id": 194,
    "title": "Amélie",
    "original_title": "Le Fabuleux Destin d'Amélie Poulain",
    "overview": "At a tiny Parisian café, the adorable yet painfully shy Amélie...",
    "release_date": "2001-04-25",
    "runtime": 122,
    "genres": [{"id": 35, "name": "Comedy"}, {"id": 10749, "name": "Romance"}],
    "production_countries": [{"iso_3166_1": "FR", "name": "France"}],
}

MOVIE = """
query ($id: ID!) {
  movie(id: $id) {
    tmdbId title year durationMinutes director cast countries country ageRating
    budget { amount } boxOffice { amount } posterUrl trailerUrl genres { name }
  }
}
"""


async def _movie_id(db: Database, tmdb_id: int) -> int:
    return int(await db.scalar(text(f"SELECT id FROM movies WHERE tmdb_id = {tmdb_id}")))


async def test_import_files_upserts_by_tmdb_id(
    gql: GraphQLClient, db: Database, tmp_path: Path
) -> None:
    (tmp_path / "matrix.json").write_text(json.dumps(MATRIX))
    (tmp_path / "list.json").write_text(json.dumps({"page": 1, "results": [AMELIE]}))
    async with db.transaction() as session:
        report = await tmdb.import_movies(session, tmdb.read_path(tmp_path))
    assert (report.created, report.updated, report.skipped) == (2, 0, [])

    pk = await _movie_id(db, 603)
    movie = (await gql.execute(MOVIE, {"id": to_global_id("Movie", pk)}))["movie"]
    assert movie == {
        "tmdbId": 603,
        "title": "The Matrix",
        "year": 1999,
        "durationMinutes": 136,
        "director": "Lana Wachowski, Lilly Wachowski",
        "cast": ["Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss"],
        "countries": ["United States of America", "Australia"],
        "country": "United States of America",
        "ageRating": "R",
        "budget": {"amount": "63000000.00"},
        "boxOffice": {"amount": "463517383.00"},
        "posterUrl": "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
        "trailerUrl": "https://www.youtube.com/watch?v=vKQi3bBA1y8",
        "genres": [{"name": "Action"}, {"name": "Science Fiction"}],
    }

    changed = {**MATRIX, "tagline": "Free your mind.", "genres": [{"id": 28, "name": "Action"}]}
    (tmp_path / "matrix.json").write_text(json.dumps(changed))
    async with db.transaction() as session:
        report = await tmdb.import_movies(session, tmdb.read_path(tmp_path / "matrix.json"))
    assert (report.created, report.updated) == (0, 1)
    assert await db.scalar(text("SELECT count(*) FROM movies")) == 2
    assert await db.scalar(text("SELECT tagline FROM movies WHERE tmdb_id = 603")) == (
        "Free your mind."
    )
    assert await db.scalar(text("SELECT count(*) FROM genres")) == 4
    data = await gql.execute(MOVIE, {"id": to_global_id("Movie", pk)})
    assert data["movie"]["genres"] == [{"name": "Action"}]


async def test_import_skips_bad_items(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps([{"id": "x", "title": "Bad id"}, {"id": 5}, {"id": 0, "title": "Zero"}, AMELIE])
    )
    async with db.transaction() as session:
        report = await tmdb.import_movies(session, tmdb.read_path(bad))
    assert report.created == 1
    assert len(report.skipped) == 3
    assert report.movie_ids == [await _movie_id(db, 194)]
    bad.write_text("{not json")
    with pytest.raises(tmdb.TmdbError):
        tmdb.read_path(bad)


async def test_import_without_tmdb_id_matches_title_and_release_date(
    db: Database, tmp_path: Path
) -> None:
    # A film whose TMDb id is unknown (the demo data has a few): no `id`, upserted by title
    # and release date.
    brother = {"title": "Brother", "original_title": "Брат", "release_date": "1997-12-12"}
    path = tmp_path / "films.json"
    path.write_text(json.dumps([MATRIX, {**brother, "runtime": 99}]))
    async with db.transaction() as session:
        first = await tmdb.import_movies(session, tmdb.read_path(path))
    assert (first.created, first.updated, first.skipped) == (2, 0, [])
    matrix_pk = await _movie_id(db, 603)
    assert first.movie_ids[0] == matrix_pk
    row = (
        await db.fetch(
            text("SELECT id, tmdb_id, original_title FROM movies WHERE title = 'Brother'")
        )
    )[0]
    assert first.movie_ids == [matrix_pk, row.id]
    assert (row.tmdb_id, row.original_title) == (None, "Брат")

    # Again, changed, with an id-less remake of another year and a list in between.
    remake = {**brother, "release_date": "2000-05-11"}
    path.write_text(json.dumps([{**brother, "runtime": 100}, remake, MATRIX]))
    async with db.transaction() as session:
        again = await tmdb.import_movies(session, tmdb.read_path(path))
    assert (again.created, again.updated, again.skipped) == (1, 2, [])
    assert again.movie_ids[0] == row.id
    assert again.movie_ids[2] == matrix_pk
    assert await db.scalar(text("SELECT count(*) FROM movies")) == 3
    runtimes = await db.fetch(
        text("SELECT duration_minutes FROM movies WHERE title = 'Brother' ORDER BY year")
    )
    assert [r.duration_minutes for r in runtimes] == [100, None]


class _FakeTmdb(BaseHTTPRequestHandler):
    movies: dict[int, dict[str, Any]] = {}
    requests: list[str] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        type(self).requests.append(self.path)
        query = parse_qs(parts.query)
        movie_id = parts.path.rsplit("/", 1)[-1]
        if query.get("api_key") != ["test-key"]:
            self.send_response(401)
            self.end_headers()
            return
        movie = self.movies.get(int(movie_id)) if movie_id.isdigit() else None
        body = json.dumps(movie or {"status_code": 34}).encode()
        self.send_response(200 if movie else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def fake_tmdb() -> Iterator[str]:
    _FakeTmdb.movies = {603: MATRIX, 194: AMELIE}
    _FakeTmdb.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeTmdb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/3"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_fetch_from_api(db: Database, fake_tmdb: str) -> None:
    items = await tmdb.fetch_from_api([603, 194], base_url=fake_tmdb, api_key="test-key")
    assert [i["id"] for i in items] == [603, 194]
    assert _FakeTmdb.requests[0].startswith("/3/movie/603?")
    assert "append_to_response=credits%2Cvideos%2Crelease_dates" in _FakeTmdb.requests[0]
    async with db.transaction() as session:
        report = await tmdb.import_movies(session, items)
    assert report.created == 2
    with pytest.raises(tmdb.TmdbError, match="HTTP 404"):
        await tmdb.fetch_from_api([1], base_url=fake_tmdb, api_key="test-key")
    with pytest.raises(tmdb.TmdbError, match="HTTP 401"):
        await tmdb.fetch_from_api([603], base_url=fake_tmdb, api_key="wrong")


def _cli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graph.cli", "import-tmdb", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _titles(url: str) -> list[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT title FROM movies ORDER BY title"))).all()
    await engine.dispose()
    return [r.title for r in rows]


def test_cli_files_and_api(make_database: Any, tmp_path: Path, fake_tmdb: str) -> None:
    url = make_database("tmdb_cli")
    (tmp_path / "amelie.json").write_text(json.dumps(AMELIE))
    done = _cli(url, str(tmp_path / "amelie.json"))
    assert done.returncode == 0, done.stderr
    # Progress on stderr (plain lines: not a terminal), the summary last on stdout.
    assert "import-tmdb: 1/1 Amélie" in done.stderr.splitlines()
    summary = done.stdout.splitlines()[-1]
    assert re.fullmatch(r"import-tmdb: 1 created, 0 updated, 0 skipped in \d+\.\d s", summary)
    assert asyncio.run(_titles(url)) == ["Amélie"]

    done = _cli(url, "--api", "603", "194", MARQUEE_TMDB_BASE_URL=fake_tmdb)
    assert done.returncode != 0
    assert "MARQUEE_TMDB_API_KEY" in done.stderr
    done = _cli(
        url,
        "--api",
        "603",
        "194",
        MARQUEE_TMDB_BASE_URL=fake_tmdb,
        MARQUEE_TMDB_API_KEY="test-key",
    )
    assert done.returncode == 0, done.stderr
    assert "1 created, 1 updated, 0 skipped in " in done.stdout
    progress = done.stderr.splitlines()
    assert progress[:2] == ["import-tmdb fetch: 1/2 movie 603", "import-tmdb fetch: 2/2 movie 194"]
    assert progress[2:] == ["import-tmdb: 1/2 The Matrix", "import-tmdb: 2/2 Amélie"]
    assert asyncio.run(_titles(url)) == ["Amélie", "The Matrix"]

    # An item that cannot be imported is counted as skipped, and named on stderr.
    (tmp_path / "bad.json").write_text(json.dumps([AMELIE, {"id": 5, "title": ""}]))
    done = _cli(url, str(tmp_path / "bad.json"))
    assert done.returncode == 0, done.stderr
    assert "0 created, 1 updated, 1 skipped in " in done.stdout
    assert any(line.startswith("skipped 5: ") for line in done.stderr.splitlines())
