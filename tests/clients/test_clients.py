"""Real clients scripted end to end against a live server (docs/clients.md): Apollo Client
with graphql-ws under node, and Python's gql over HTTPX and websockets. Each registers,
pages through the movies, opens a showtime, watches its seats, holds, checks out, pays, lists
its tickets and cancels, and exits non-zero on anything it did not expect.

The Apollo script needs node (18+) and npm: without them the test is skipped, except in CI
(MARQUEE_CI=1), where it fails."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from db.persisted.queries import list_documents
from db.session import Database
from graph.app import create_app
from graph.persisted import documents_of, sha256_hex
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_movie
from tests.realtime.harness import serve_in_process
from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
APOLLO = Path(__file__).resolve().parent / "apollo"
OPERATIONS = APOLLO.parent / "operations.graphql"
# Enough movies for several pages of the scripts' page size (4).
MOVIES = 10
CLIENT_TIMEOUT = 120.0


class Site:
    def __init__(self, url: str, movies: int) -> None:
        self.url = url
        self.movies = movies


@pytest.fixture
async def site(committed_db: Database, settings: Settings) -> AsyncIterator[Site]:
    """A live server over committed data: one bookable showtime (its movie, cinema, hall of
    3 x 6 seats, prices) a day ahead, past the cancellation cutoff, and more movies."""
    await create_bookable_showtime(
        committed_db, rows=3, seats_per_row=6, starts_in=timedelta(days=1)
    )
    for _ in range(MOVIES - 1):
        await create_movie(committed_db)
    live_settings = settings.model_copy(update={"hold_ttl_seconds": 600})
    app = create_app(live_settings, database=committed_db)
    async with serve_in_process(app) as url:
        await app.state.marquee.services["seat_hub"].connected.wait()
        yield Site(url, MOVIES)


def _node_version() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    try:
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return None


@pytest.fixture(scope="session")
def apollo_modules() -> Path:
    """The Apollo script's node_modules, installed with `npm ci` when missing or older than
    package-lock.json (a stamp holds the hash of the lock it was installed from)."""
    version = _node_version()
    require("node 18+", version is not None and version >= 18)
    npm = shutil.which("npm")
    require("npm", npm is not None)
    assert npm is not None
    lock = hashlib.sha256((APOLLO / "package-lock.json").read_bytes()).hexdigest()
    stamp = APOLLO / "node_modules" / ".marquee-lock-sha256"
    if not stamp.exists() or stamp.read_text().strip() != lock:
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=APOLLO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        stamp.write_text(lock)
    return APOLLO / "node_modules"


async def _run_client(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run a client script without blocking the loop the server runs in; fail the test
    with its output unless it exits 0."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{args[1]} did not finish in {CLIENT_TIMEOUT:g} s")
    text = output.decode()
    assert process.returncode == 0, f"{' '.join(args[:2])} exited {process.returncode}:\n{text}"
    return text


async def test_apollo_client_end_to_end(
    apollo_modules: Path, site: Site, committed_db: Database
) -> None:
    node = shutil.which("node")
    assert node is not None
    output = await _run_client([node, "client.mjs", site.url, str(site.movies)], cwd=APOLLO, env={})
    assert "apollo client: every step as expected" in output, output
    # What Apollo sent through automatic persisted queries is among the documents that
    # `marquee persisted-queries register` makes of the same file (docs/persisted-queries.md):
    # an allow-list built from the clients' documents admits the real client.
    learned = {row.sha256 for row in await list_documents(committed_db) if not row.registered}
    registrable = {sha256_hex(d) for d in documents_of(OPERATIONS.read_text())}
    assert learned, "Apollo's persisted query was not stored"
    assert learned <= registrable, "Apollo sent a document the register command does not make"


async def test_gql_client_end_to_end(site: Site) -> None:
    output = await _run_client(
        [sys.executable, "-m", "tests.clients.gql_client", site.url, str(site.movies)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert "gql client: every step as expected" in output, output
