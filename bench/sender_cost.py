"""What the e-mail sender's loop costs per message: `python -m bench.sender_cost`.

On an embedded PostgreSQL of its own (under `.marquee/bench-sender`, migrated), each round
writes N order confirmations into the outbox (the context of `bench.email_cost`, with QR
payloads of a signed ticket's length: the signing itself is not counted), then drains them
with the server's `EmailSender` and its development transport (`.eml` files in a fresh
directory), one round of the loop after another, and prints per message: this process's CPU
(claiming, making, writing and recording each message), PostgreSQL's backends' CPU, and the
wall time. Making and writing alone are `python -m bench.email_cost`; the rest is the loop.

One process, nothing else running: costs, not queueing. Under `checkout_pay` two such senders
run beside the sale (bench/README.md, "The e-mails").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import uvloop

from bench.cpu import _children, _process_cpu
from bench.email_cost import MAIL_FROM, confirmation_context
from bench.server import ROOT
from db.embedded import EmbeddedPostgres
from db.migrate import run_migrations
from db.outbox import actions
from db.outbox.models import OutboxMessage
from db.outbox.transport import FileTransport
from db.outbox.worker import EmailSender
from db.session import Database, create_engine


def _postgres_cpu(data_dir: Path) -> float:
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    return sum(_process_cpu(pid) for pid in [postmaster, *_children(postmaster)])


async def measure(data_dir: Path, url: str, messages: int, tickets: int, rounds: int) -> None:
    engine = create_engine(url, pool_size=4)
    db = Database(engine, kept=2)
    context = confirmation_context(tickets)
    try:
        for r in range(rounds):
            async with db.transaction() as session:
                await session.execute(OutboxMessage.__table__.delete())
                for n in range(messages):
                    await actions.enqueue_email(
                        session,
                        template="order_confirmation",
                        to="ada@example.com",
                        context=context,
                        dedupe_key=f"bench-sender:{r}:{n}",
                    )
            with tempfile.TemporaryDirectory() as out:
                sender = EmailSender(db, FileTransport(Path(out)), mail_from=MAIL_FROM)
                cpu, pg_cpu, wall = time.process_time(), _postgres_cpu(data_dir), time.monotonic()
                sent = 0
                while (result := await sender.run_once()).claimed:
                    sent += result.sent
                cpu = time.process_time() - cpu
                pg_cpu = _postgres_cpu(data_dir) - pg_cpu
                wall = time.monotonic() - wall
            per = 1000 / max(1, sent)
            print(
                f"round {r + 1}: {sent} messages of {tickets} tickets; per message"
                f" {cpu * per:.2f} ms of this process's CPU, {pg_cpu * per:.2f} ms of"
                f" PostgreSQL's, {wall * per:.2f} ms wall",
                flush=True,
            )
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sender_cost", description=__doc__)
    p.add_argument("--messages", type=int, default=1500, help="messages per round (1500)")
    p.add_argument("--tickets", type=int, default=2, help="tickets per order (2)")
    p.add_argument("--rounds", type=int, default=2, help="rounds (2)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".marquee" / "bench-sender",
        help="the embedded PostgreSQL's directory (default .marquee/bench-sender)",
    )
    args = p.parse_args(argv)
    pg = EmbeddedPostgres(args.data_dir)
    pg.start()
    try:
        pg.ensure_database("marquee")
        url = pg.url("marquee")
        run_migrations(url)  # alembic runs its own event loop
        uvloop.run(measure(args.data_dir, url, args.messages, args.tickets, args.rounds))
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
