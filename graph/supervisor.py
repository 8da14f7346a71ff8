"""Runs uvicorn workers as child processes, replaces a worker whose event loop stops
beating, and stops every worker within a bounded time on SIGINT, SIGTERM or SIGHUP.

uvicorn's own multiprocess supervisor pings workers over a pipe that a thread answers, so
a worker whose event loop is stuck (a CPU-bound loop, a blocking call) still looks alive.
Here each worker's event loop writes `time.monotonic()` into a shared double every
second; the supervisor SIGKILLs a worker silent for longer than `worker_timeout` seconds
and starts another on the same listening socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
CHECK_SECONDS = 0.25
# A worker that has not beaten yet is importing the app and starting up.
STARTUP_GRACE_SECONDS = 60.0
# uvicorn's graceful shutdown (open connections, WebSockets) gets this long in a worker...
GRACEFUL_SHUTDOWN_SECONDS = 5
# ...and the supervisor SIGKILLs any worker still there after this long, so that stopping
# (the embedded PostgreSQL included) ends well within 10 seconds even with a hung worker.
KILL_AFTER_SECONDS = 6.0
# While stopping, a worker whose loop has not beaten for this long is hung: killed at once.
HUNG_AT_SHUTDOWN_SECONDS = 3 * HEARTBEAT_SECONDS
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_spawn = multiprocessing.get_context("spawn")


class WorkerBootError(RuntimeError):
    """A worker exited before its event loop ever ran: the app cannot start."""


class _WorkerServer(uvicorn.Server):
    """A uvicorn server whose event loop beats into shared memory while it serves."""

    def __init__(self, config: uvicorn.Config, beat: ctypes.c_double, parent: int) -> None:
        super().__init__(config)
        self._beat = beat
        self._parent = parent

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        task = asyncio.create_task(self._heartbeat())
        try:
            await super().serve(sockets)
        finally:
            task.cancel()

    async def _heartbeat(self) -> None:
        while True:
            self._beat.value = time.monotonic()
            # An orphan (the supervisor was SIGKILLed) stops instead of serving forever.
            if os.getppid() != self._parent:
                self.should_exit = True
            await asyncio.sleep(HEARTBEAT_SECONDS)


def _worker_main(
    config: uvicorn.Config, sock: socket.socket, beat: ctypes.c_double, parent: int
) -> None:
    # Until uvicorn installs its handlers, Ctrl-C (sent to the whole foreground process
    # group) is left to the supervisor, which stops workers with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        _WorkerServer(config, beat, parent).run(sockets=[sock])


@dataclass
class _Worker:
    process: BaseProcess
    beat: ctypes.c_double
    spawned_at: float = field(default_factory=time.monotonic)

    def silent_for(self, now: float) -> float | None:
        """Seconds since the last beat, or None while it has not beaten yet."""
        last = self.beat.value
        return None if last == 0.0 else now - last

    def kill(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(5)


class Supervisor:
    """Binds the socket once and keeps `workers` healthy worker processes on it until a
    stop signal arrives; `run` returns the signal that stopped it."""

    def __init__(
        self,
        config: uvicorn.Config,
        workers: int,
        worker_timeout: float,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.count = max(1, workers)
        self.worker_timeout = worker_timeout
        # Called once, when the event loop of every worker has beaten: each is serving, or
        # finishing its start-up (a request sent now waits in the socket until it serves).
        self.on_ready = on_ready
        self.workers: list[_Worker] = []
        self._stop = threading.Event()
        self.stop_signal: int | None = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = self.stop_signal or signum
        self._stop.set()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        # Set explicitly: a background job of a non-interactive shell starts with SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler of its own.
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _spawn(self, sock: socket.socket) -> _Worker:
        # Without a lock: a worker SIGKILLed while holding one would block the supervisor.
        beat = _spawn.RawValue(ctypes.c_double, 0.0)
        process = _spawn.Process(
            target=_worker_main,
            args=(self.config, sock, beat, os.getpid()),
            name="marquee-worker",
            daemon=False,
        )
        process.start()
        log.info("worker %s started", process.pid)
        return _Worker(process, beat)

    def _check(self, sock: socket.socket) -> None:
        now = time.monotonic()
        for i, worker in enumerate(self.workers):
            silent = worker.silent_for(now)
            if not worker.process.is_alive():
                if silent is None:
                    raise WorkerBootError(
                        f"worker {worker.process.pid} exited with {worker.process.exitcode} "
                        "before serving"
                    )
                log.warning(
                    "worker %s exited with %s; starting another",
                    worker.process.pid,
                    worker.process.exitcode,
                )
            elif silent is None and now - worker.spawned_at > max(
                STARTUP_GRACE_SECONDS, self.worker_timeout
            ):
                log.warning("worker %s did not start in time; replacing it", worker.process.pid)
                worker.kill()
            elif silent is not None and silent > self.worker_timeout:
                log.warning(
                    "worker %s: event loop silent for %.1f s; killing and replacing it",
                    worker.process.pid,
                    silent,
                )
                worker.kill()
            else:
                continue
            if not self._stop.is_set():
                self.workers[i] = self._spawn(sock)

    def _shutdown(self) -> None:
        for worker in self.workers:
            if worker.process.pid is not None and worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        while True:
            now = time.monotonic()
            running = [w for w in self.workers if w.process.is_alive()]
            if not running:
                return
            for worker in running:
                silent = worker.silent_for(now)
                # A worker whose event loop is stuck will never act on SIGTERM: no waiting.
                if now > deadline or (silent is not None and silent > HUNG_AT_SHUTDOWN_SECONDS):
                    log.warning("worker %s did not stop; killing it", worker.process.pid)
                    worker.kill()
            time.sleep(0.05)

    def run(self) -> int | None:
        with self._signals():
            sock = self.config.bind_socket()
            # Listening from here on: a connection made while a worker starts (or is replaced)
            # waits in the backlog instead of being refused.
            sock.listen(self.config.backlog)
            try:
                self.workers = [self._spawn(sock) for _ in range(self.count)]
                while not self._stop.wait(CHECK_SECONDS):
                    self._check(sock)
                    if self.on_ready is not None and all(w.beat.value for w in self.workers):
                        self.on_ready()
                        self.on_ready = None
            finally:
                # Still under our handlers: a second signal cannot cut this bounded wait short.
                self._shutdown()
                sock.close()
        return self.stop_signal


def serve(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    worker_timeout: float,
    forwarded_allow_ips: str,
    ws_max_size: int = 16 * 1024 * 1024,
    on_ready: Callable[[], None] | None = None,
) -> int | None:
    """Serve the ASGI app factory `app` ("module:function") until a stop signal;
    `on_ready` is called once every worker serves."""
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        # X-Forwarded-For is believed only from the proxies named in the setting.
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Frames larger than this close the connection before the app reads them.
        ws_max_size=ws_max_size,
    )
    return Supervisor(config, workers, worker_timeout, on_ready).run()
