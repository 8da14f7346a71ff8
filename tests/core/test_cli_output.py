"""What the commands print for a person: progress (a bar on a terminal, plain lines
otherwise), a summary at the end, and the banner of `marquee serve`."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

import httpx
import pytest

from db.demo import SEEDERS, SETTINGS_SEEDERS
from db.demo.accounts import DEMO_PASSWORD, DEMO_USERS
from graph.cli import banner
from graph.progress import Progress
from tests.realtime.harness import ROOT, free_port

STEPS = len(SEEDERS) + len(SETTINGS_SEEDERS)


def test_plain_progress_is_a_line_per_step_of_a_short_job() -> None:
    out = io.StringIO()
    progress = Progress("seed", stream=out, tty=False)
    progress.start(3, "steps")
    for name in ("accounts", "catalog", "cinemas"):
        progress.advance(name)
    assert out.getvalue().splitlines() == [
        "seed: 1/3 accounts",
        "seed: 2/3 catalog",
        "seed: 3/3 cinemas",
    ]


def test_plain_progress_of_a_long_job_is_a_line_per_tenth() -> None:
    out = io.StringIO()
    progress = Progress("import-tmdb", stream=out, tty=False)
    progress.start(95, "movies")
    for i in range(95):
        progress.advance(f"movie {i}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "import-tmdb: 10/95 movie 9"
    assert lines[-1] == "import-tmdb: 95/95 movie 94"


def test_progress_on_a_terminal_is_a_bar_that_goes_away() -> None:
    out = io.StringIO()
    progress = Progress("seed", stream=out, tty=True, redraw_seconds=0)
    progress.start(4, "steps")
    progress.advance("accounts")
    drawn = out.getvalue()
    assert "\r" in drawn
    assert "seed:" in drawn
    assert "1/4" in drawn
    assert "seed: 1/4 accounts\n" not in drawn  # not the plain line
    for name in ("catalog", "cinemas", "shop"):
        progress.advance(name)
    assert "3/4" in out.getvalue()
    assert progress.bar is None  # closed at the last step, which wipes it
    assert out.getvalue().endswith("\r")


def test_banner_says_where_to_go_and_how_to_sign_in() -> None:
    logins = [(u, role) for u, _, _, role in DEMO_USERS]
    text = banner("0.0.0.0", 8000, graphiql=True, logins=logins)
    assert "http://127.0.0.1:8000/graphql  (GraphiQL in a browser)" in text
    assert "http://127.0.0.1:8000/demo" in text
    assert DEMO_PASSWORD in text
    for username, _, _, role in DEMO_USERS:
        assert f"{username} ({role.lower()})" in text
    plain = banner("::", 9000, graphiql=False, logins=[])
    assert "http://[::1]:9000/graphql" in plain
    assert "GraphiQL" not in plain
    assert "password" not in plain


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _until(lines: queue.Queue[str], pattern: str, timeout: float) -> list[str]:
    """The lines read until one matching `pattern` (inclusive)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"no line matching {pattern!r} in {seen}")


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "MARQUEE_ENV": "test",
        "MARQUEE_JWT_SECRET": "test-secret-not-for-production-0123456789",
        "MARQUEE_DB_POOL_SIZE": "3",
    }


@pytest.mark.slow
def test_serve_demo_seeds_with_progress_then_prints_the_banner(make_database: Any) -> None:
    """`make run` (`marquee serve --demo`) on an empty database, stdout and stderr pipes."""
    env = _env(make_database("serve_demo"))
    port = free_port()
    command = [sys.executable, "-m", "graph.cli", "serve", "--demo", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", "1", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    readers = [
        threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_lines, args=(proc.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        printed = _until(out, r"^Marquee is serving", timeout=180)
        # The seed's lines, then its summary with what it created, then the banner.
        summary = next(line for line in printed if line.startswith("seed: created"))
        assert re.search(
            r"^seed: created \d+ users, \d+ movies, .*\d+ showtimes, .* in \d+\.\d s$", summary
        ), summary
        banner_lines = printed[printed.index(summary) + 1 :] + _until(out, "sign in", 5)
        text = "\n".join(banner_lines)
        assert f"http://127.0.0.1:{port}/graphql" in text
        assert f"http://127.0.0.1:{port}/demo" in text
        assert f"password '{DEMO_PASSWORD}'" in text
        assert "admin (admin)" in text
        # Not a terminal: a plain progress line per seeding step, the last one included.
        progress = [line for line in _drain(err) if line.startswith("seed: ")]
        assert len(progress) == STEPS, progress
        assert progress[0] == f"seed: 1/{STEPS} accounts"
        assert progress[-1].startswith(f"seed: {STEPS}/{STEPS} ")
        # The banner comes once the server answers.
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=10
        )
        assert response.json()["data"] == {"__typename": "Query"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    # Again, as `marquee seed` without --force: the data is there, nothing is added.
    again = subprocess.run(
        [sys.executable, "-m", "graph.cli", "seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "already has users; no demo data added" in again.stdout
    assert "seed: 1/" not in again.stderr


def _drain(lines: queue.Queue[str]) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(lines.get_nowait())
        except queue.Empty:
            return out
