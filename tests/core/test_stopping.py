"""Stopping `marquee serve` (real processes, real signals): every way of stopping ends the
server within 10 s and leaves no PostgreSQL behind; a worker whose event loop hangs is
replaced; X-Forwarded-For is believed only from configured proxies; the embedded server
shared by several processes is stopped by the last one to leave."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.realtime.harness import ROOT, free_port

pytestmark = pytest.mark.slow

MARQUEE = Path(sys.executable).with_name("marquee")
STOP_WITHIN = 10.0


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(data_dir) in " ".join(cmdline):
            found.append(proc)
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One MARQUEE_DATA_DIR for the embedded-lifecycle tests (initdb happens once). Under
    the project's directory: as root, the server runs as a user that must reach it."""
    base = ROOT / ".marquee"
    base.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="stopping-", dir=base))
    tmp.chmod(0o755)
    yield tmp
    from db.embedded import EmbeddedPostgres

    if _postgres_processes(tmp / "pg"):
        EmbeddedPostgres(tmp / "pg").stop()
    shutil.rmtree(tmp, ignore_errors=True)


class Serve:
    """`marquee serve` in a session of its own on a free port."""

    def __init__(self, env: dict[str, str], *args: str, background: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.env = {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "MARQUEE_ENV": "test",
            "MARQUEE_JWT_SECRET": "test-secret-not-for-production-0123456789",
            "MARQUEE_DB_POOL_SIZE": "3",
            **env,
        }
        command = [str(MARQUEE), "serve", "--port", str(self.port), "--log-level", "warning"]
        command += args
        self.pidfile: Path | None = None
        if background:
            # A background job of a non-interactive shell: SIGINT starts out ignored.
            self.pidfile = Path(tempfile.mktemp(prefix="marquee-pid-"))
            script = '"$@" & echo $! > "$PIDFILE"; wait'
            self.env["PIDFILE"] = str(self.pidfile)
            command = ["sh", "-c", script, "sh", *command]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)

    @property
    def pid(self) -> int:
        if self.pidfile is None:
            return self.proc.pid
        return int(self.pidfile.read_text())

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"marquee serve exited with {self.proc.returncode}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("marquee serve did not become ready")

    def workers(self) -> list[int]:
        children = psutil.Process(self.pid).children()
        return [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]

    def all_pids(self) -> list[int]:
        return [self.pid] + [c.pid for c in psutil.Process(self.pid).children(recursive=True)]

    def block_a_worker(self) -> None:
        """GET /block: the worker that accepts it stops running its event loop."""

        def call() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.url}/block", timeout=60)

        threading.Thread(target=call, daemon=True).start()
        time.sleep(0.5)

    def wait_gone(self, pids: list[int], timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if not _alive(pids):
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"still running after {timeout} s: {_alive(pids)}")

    def close(self) -> None:
        with_pids = _alive(self.all_pids()) if self.proc.poll() is None else []
        for pid in with_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Serve] = []

    def start(env: dict[str, str], *args: str, background: bool = False) -> Serve:
        server = Serve(env, *args, background=background)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


STOP_CASES = [
    pytest.param("sigterm", 1, id="sigterm-1-worker"),
    pytest.param("ctrl-c", 1, id="ctrl-c-1-worker"),
    pytest.param("background-sigint", 2, id="background-sigint-2-workers"),
]


@pytest.mark.parametrize(("how", "workers"), STOP_CASES)
def test_every_way_of_stopping_stops_workers_and_postgres(
    serve: Any, data_dir: Path, how: str, workers: int
) -> None:
    server = serve(
        {"MARQUEE_DATA_DIR": str(data_dir)},
        "--workers",
        str(workers),
        background=how == "background-sigint",
    )
    server.wait_ready()
    assert _postgres_processes(data_dir / "pg"), "the embedded PostgreSQL is running"
    pids = server.all_pids()

    if how == "sigterm":
        os.kill(server.pid, signal.SIGTERM)
    elif how == "ctrl-c":  # the terminal signals the whole foreground process group
        os.killpg(os.getpgid(server.pid), signal.SIGINT)
    else:
        os.kill(server.pid, signal.SIGINT)

    server.wait_gone(pids, STOP_WITHIN)
    assert not _postgres_processes(data_dir / "pg"), "the embedded PostgreSQL was left running"


def test_the_workers_build_links_with_the_port_served(serve: Any, data_dir: Path) -> None:
    """`serve --port N`: a password-reset e-mail, made by a worker, links to port N (its
    settings said 8000, and so did the sandbox's webhook address)."""
    server = serve({"MARQUEE_DATA_DIR": str(data_dir), "MARQUEE_OUTBOX_INTERVAL_SECONDS": "0.2"})
    server.wait_ready()
    try:
        text = _reset_mail(server, f"porter{server.port}", data_dir / "outbox")
    finally:
        # Stopped as a person stops it, so that its PostgreSQL stops too (the fixture's
        # SIGKILL would leave it running for the next test of this module).
        pids = server.all_pids()
        os.kill(server.pid, signal.SIGTERM)
        server.wait_gone(pids, STOP_WITHIN)
    assert not _postgres_processes(data_dir / "pg"), "the embedded PostgreSQL was left running"
    assert f"http://127.0.0.1:{server.port}/account/password#token=" in text, text
    assert "127.0.0.1:8000" not in text


def _reset_mail(server: Serve, name: str, outbox: Path) -> str:
    """Register `name`, ask for a password reset, and return the text of the e-mail."""
    register = (
        "mutation ($i: RegisterInput!) { register(input: $i) { errors { code } } }",
        {"i": {"username": name, "email": f"{name}@example.com", "password": "a long passphrase"}},
    )
    reset = (
        "mutation ($i: RequestPasswordResetInput!)"
        " { requestPasswordReset(input: $i) { accepted } }",
        {"i": {"login": name}},
    )
    for query, variables in (register, reset):
        answer = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables})
        assert answer.status_code == 200, answer.text
        assert "errors" not in answer.json(), answer.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in outbox.glob("*.eml"):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if mail["To"] == f"{name}@example.com":
                for part in mail.walk():
                    if part.get_content_type() == "text/plain":
                        return str(part.get_content())
        time.sleep(0.2)
    raise AssertionError("no password-reset e-mail was written")


@pytest.mark.parametrize(
    ("signum", "background"),
    [
        pytest.param(signal.SIGHUP, False, id="sighup"),
        pytest.param(signal.SIGINT, True, id="background-sigint"),
    ],
)
def test_a_stop_while_starting_stops_postgres(
    serve: Any, data_dir: Path, signum: int, background: bool
) -> None:
    """A stop before the workers run (PostgreSQL starting, migrations) stops it too."""
    server = serve({"MARQUEE_DATA_DIR": str(data_dir)}, background=background)
    deadline = time.monotonic() + 60
    while not _postgres_processes(data_dir / "pg"):
        assert time.monotonic() < deadline, "the embedded PostgreSQL did not start"
        time.sleep(0.02)
    pids = server.all_pids()
    os.kill(server.pid, signum)
    server.wait_gone(pids, STOP_WITHIN)
    assert not _postgres_processes(data_dir / "pg"), "the embedded PostgreSQL was left running"


def test_a_hung_worker_is_replaced_and_cannot_hold_up_stopping(serve: Any, data_dir: Path) -> None:
    server = serve(
        {"MARQUEE_DATA_DIR": str(data_dir), "MARQUEE_WORKER_TIMEOUT_SECONDS": "1.5"},
        "--app",
        "tests.core.stopping_app:create_app",
    )
    server.wait_ready()
    [before] = server.workers()
    server.block_a_worker()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        workers = server.workers()
        if workers and before not in workers:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker {before} was not replaced")
    assert not _alive([before])
    server.wait_ready(timeout=30)

    # SIGTERM while the new worker hangs: it is killed, and PostgreSQL still stops.
    server.block_a_worker()
    pids = server.all_pids()
    os.kill(server.pid, signal.SIGTERM)
    server.wait_gone(pids, STOP_WITHIN)
    assert not _postgres_processes(data_dir / "pg"), "the embedded PostgreSQL was left running"


LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "not-the-password"}) { errors { code } }
}
"""


def _rate_limited(url: str, forwarded_for: str) -> bool:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": LOGIN, "variables": {"login": f"nobody-{uuid.uuid4().hex[:12]}"}},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    )
    errors = response.json().get("errors") or []
    return any(e.get("extensions", {}).get("code") == "RATE_LIMITED" for e in errors)


def test_forwarded_for_is_believed_only_from_configured_proxies(
    serve: Any, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url, "MARQUEE_LOGIN_RATE_PER_MINUTE": "2"}
    default = serve(env)
    trusting = serve({**env, "MARQUEE_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    default.wait_ready()
    trusting.wait_ready()

    # Default: the address is the TCP peer whatever the header says, so attempts "from"
    # five networks are one client, over its limit of two. (The limit's windows are whole
    # minutes: five attempts trip it even if a minute ends between two of them.)
    spoofed = ["192.0.2.1", "198.51.100.1", "203.0.113.1", "11.0.0.1", "12.0.0.1"]
    assert any(_rate_limited(default.url, ip) for ip in spoofed)

    # Trusting 127.0.0.1 as a proxy: each forwarded address is a client of its own.
    forwarded = ["10.9.0.1", "172.20.0.1", "100.70.0.1"]
    assert [_rate_limited(trusting.url, ip) for ip in forwarded] == [False, False, False]


def _hold(data_dir: Path) -> subprocess.Popen[str]:
    """A process that starts the embedded server and releases it when its stdin closes."""
    code = (
        "import sys; from pathlib import Path; from db.embedded import EmbeddedPostgres\n"
        f"pg = EmbeddedPostgres(Path({str(data_dir)!r}))\n"
        "pg.start(); print('started', flush=True); sys.stdin.read()\n"
        "print('stopped' if pg.release() else 'left', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    return proc


def _leave(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=30)
    return out.strip()


def test_shared_embedded_server_is_stopped_by_the_last_user(data_dir: Path) -> None:
    """What the test suite's pg_server fixture relies on: parallel runs share one server,
    and the run that ends last stops it (so `make test` leaves no process behind)."""
    pg = data_dir / "pg"
    first = _hold(pg)
    second = _hold(pg)
    assert _leave(first) == "left"
    assert _postgres_processes(pg)
    # A claim of a process that died without releasing does not keep the server alive.
    crashed = _hold(pg)
    crashed.kill()
    crashed.wait()
    assert _leave(second) == "stopped"
    assert not _postgres_processes(pg)
