"""The `marquee` command: serve, migrate, seed, create-admin, export-schema,
rotate-ticket-key, and the commands of domains (import-tmdb, persisted-queries)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from db import demo
from db.accounts import actions
from db.demo.accounts import DEMO_PASSWORD
from db.demo.config import DemoSettings
from db.errors import DomainError
from db.migrate import in_transaction, run_migrations
from db.orders import signing
from graph import persisted_cli
from graph.catalog import cli as catalog_cli
from graph.database import database_url, embedded_server
from graph.logs import configure_logging
from graph.progress import Progress, Stopwatch, counted, summary
from graph.schema import export_sdl
from graph.settings import Settings, get_settings
from graph.supervisor import STOP_SIGNALS, WorkerBootError, serve
from graph.web import demo as demo_page

__all__ = ["main", "run_migrations"]


# The seat-map demo page (graph/web/demo.py), served whatever the settings.


def _seed(url: str, only_if_empty: bool) -> list[tuple[str, str]]:
    """Load the demo data (with progress on stderr, then its lines and a summary on
    stdout), unless `only_if_empty` and the database has users; returns the demo logins
    the database has."""
    # The settings the demo data quotes (the refund policy page quotes the cutoff).
    demo_settings = DemoSettings(
        cancellation_cutoff_minutes=get_settings().cancellation_cutoff_minutes
    )
    progress = Progress("seed")
    clock = Stopwatch()

    async def run(session: Any) -> tuple[list[str] | None, dict[str, int], list[tuple[str, str]]]:
        if only_if_empty and not await demo.is_empty(session):
            return None, {}, await demo.demo_logins(session)
        before = await demo.counts(session)
        lines = await demo.seed(session, demo_settings, progress)
        after = await demo.counts(session)
        added = {name: after[name] - before[name] for name in after}
        return lines, added, await demo.demo_logins(session)

    try:
        lines, added, logins = asyncio.run(in_transaction(url, run))
    finally:
        progress.close()
    if lines is None:
        print("seed: the database already has users; no demo data added (--force adds it)")
        return logins
    for line in lines:
        print(line)
    print(summary("seed", f"created {counted(added)}", clock.seconds), flush=True)
    return logins


def _display_host(host: str) -> str:
    """The host to put in a URL a person opens on this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def banner(host: str, port: int, *, graphiql: bool, logins: list[tuple[str, str]]) -> str:
    """What `marquee serve` prints once it serves: where to go, and how to sign in to the
    demo data (`logins`: username and role of the demo accounts, when there are any)."""
    base = f"http://{_display_host(host)}:{port}"
    lines = [
        f"Marquee is serving {base}",
        f"  GraphQL   {base}/graphql" + ("  (GraphiQL in a browser)" if graphiql else ""),
        f"  demo page {base}{demo_page.PATH}",
    ]
    if logins:
        accounts = ", ".join(f"{username} ({role.lower()})" for username, role in logins)
        lines.append(f"  sign in as {accounts}; password '{DEMO_PASSWORD}'")
    return "\n".join(lines)


def cmd_migrate(args: argparse.Namespace) -> None:
    run_migrations(database_url(), args.revision)


def cmd_seed(args: argparse.Namespace) -> None:
    url = database_url()
    run_migrations(url)
    _seed(url, only_if_empty=not args.force)


def cmd_create_admin(args: argparse.Namespace) -> None:
    password = args.password or os.environ.get("MARQUEE_ADMIN_PASSWORD") or getpass.getpass()
    url = database_url()
    run_migrations(url)

    async def run(session: Any) -> object:
        return await actions.create_admin(
            session,
            username=args.username,
            email=args.email,
            password=password,
        )

    try:
        asyncio.run(in_transaction(url, run))
    except DomainError as exc:
        sys.exit(f"create-admin failed: {exc}")
    print(f"admin '{args.username}' is ready")


def cmd_export_schema(args: argparse.Namespace) -> None:
    sys.stdout.write(export_sdl())


def cmd_rotate_ticket_key(args: argparse.Namespace) -> None:
    if not args.print:
        settings = get_settings()
        if settings.ticket_signing_key is None:
            key_id = settings.rotate_ticket_key()
            print(
                f"ticket key {key_id} is now current in {settings.ticket_key_directory}; "
                "the earlier keys still verify. Restart running servers to sign with it."
            )
            return
    # The key is in the settings (production): print the new settings for the operator to
    # set. Read without the production check, so that it also makes the very first key.
    settings = Settings(env="development")
    configured = settings.ticket_signing_key is not None
    retired = settings.ticket_signer().public_keys() if configured else []
    key = signing.generate_signing_key()
    key_id = signing.key_id_for(key.public_key())
    retired_json = json.dumps(
        [{"kid": k["kid"], "x": k["x"]} for k in retired], separators=(",", ":")
    )
    print(
        "# A new ticket signing key: set these and restart. Tickets signed with the earlier\n"
        "# keys still verify (their public keys are in the retired list).\n"
        f"MARQUEE_TICKET_SIGNING_KEY={signing.private_key_seed(key)}\n"
        f"MARQUEE_TICKET_SIGNING_KEY_ID={key_id}\n"
        f"MARQUEE_TICKET_RETIRED_PUBLIC_KEYS='{retired_json}'"
    )


class _Stop(BaseException):
    """A stop signal arrived before the workers were running."""


class _StopSignals:
    """Until the supervisor takes over, a stop signal unwinds `marquee serve` through its
    `finally` (which stops the embedded PostgreSQL); while PostgreSQL is starting, the
    signal is held and acted on as soon as the start is complete, so that a half-started
    server is never left behind."""

    def __init__(self) -> None:
        self._holding = False
        self._pending: int | None = None

    def install(self, signals: tuple[signal.Signals, ...]) -> None:
        # Explicitly: a background job of a non-interactive shell starts with SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler.
        for sig in signals:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self._holding:
            self._pending = signum
        else:
            raise _Stop(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._pending is not None:
            raise _Stop(self._pending)


def cmd_serve(args: argparse.Namespace) -> None:
    stops = _StopSignals()
    stops.install(STOP_SIGNALS)
    settings = get_settings()
    configure_logging(args.log_level.upper())
    os.environ["MARQUEE_LOG_LEVEL"] = args.log_level
    try:
        with stops.held():
            url = database_url(settings)
        run_migrations(url)
        logins = _seed(url, only_if_empty=True) if args.demo else []
        if args.demo:
            # The workers read their settings from the environment: /demo may show hints.
            os.environ.setdefault("MARQUEE_DEMO_HINTS", "1")
        # Workers inherit the resolved URL, so only this process manages the embedded server.
        os.environ["DATABASE_URL"] = url
        workers = args.workers or settings.workers
        host, port = args.host or settings.host, args.port or settings.port
        # The workers' settings too: links in e-mails and the sandbox's webhook are built
        # from them (`Settings.base_url`, `webhook_url`), and were still :8000 under --port.
        os.environ["MARQUEE_HOST"], os.environ["MARQUEE_PORT"] = host, str(port)
        ready = banner(host, port, graphiql=settings.graphiql, logins=logins)
        serve(
            args.app,
            host=host,
            port=port,
            workers=workers,
            worker_timeout=settings.worker_timeout_seconds,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            ws_max_size=settings.max_body_bytes,
            on_ready=lambda: print(ready, flush=True),
        )
    except _Stop:
        pass
    except WorkerBootError as exc:
        sys.exit(f"marquee serve: {exc}")
    finally:
        # Stopping the database is bounded (pg_ctl with timeouts); no signal interrupts it.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if not settings.database_url:
            embedded_server(settings).release()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="marquee", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate and serve /graphql")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--demo", action="store_true", help="load demo data if the database is empty")
    p.add_argument("--log-level", default="info")
    # The ASGI app factory each worker runs; the stopping tests pass one that can hang.
    p.add_argument("--app", default="graph.app:create_server_app", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply migrations (alembic upgrade)")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load demo data (once; --force to add again)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("create-admin", help="create the first administrator")
    p.add_argument("--username", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="or MARQUEE_ADMIN_PASSWORD, or asked for")
    p.set_defaults(func=cmd_create_admin)

    p = sub.add_parser("export-schema", help="print the GraphQL SDL")
    p.set_defaults(func=cmd_export_schema)

    p = sub.add_parser(
        "rotate-ticket-key",
        help="make a new current ticket signing key; the earlier ones keep verifying",
        description="Development (no MARQUEE_TICKET_SIGNING_KEY): add a key to "
        "<data_dir>/ticket-keys/. With the key in the settings, or with --print: print new "
        "values of MARQUEE_TICKET_SIGNING_KEY, _KEY_ID and _RETIRED_PUBLIC_KEYS to set.",
    )
    p.add_argument(
        "--print", action="store_true", help="print new settings instead of writing a key file"
    )
    p.set_defaults(func=cmd_rotate_ticket_key)

    # Other domains add their commands (e.g. import-tmdb) here.
    for register in EXTRA_COMMANDS:
        register(sub)

    args = parser.parse_args(argv)
    args.func(args)


EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    catalog_cli.register,
    persisted_cli.register,
]


if __name__ == "__main__":
    main()
