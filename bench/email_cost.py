"""What an order confirmation e-mail costs to make: `python -m bench.email_cost`.

Renders and writes (`compose`, then the bytes an SMTP client sends) the confirmation of an
order of N tickets, each with a QR code of a ticket payload's size (118 characters), many
times in this process, and prints the CPU time per message and per step: the QR codes as
PNG, the templates (the QR codes included), the MIME structure, its bytes. The sender does
the same for every paid order, beside the sale (bench/README.md, "The e-mails").
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from db.outbox.compose import build_message, compose, render
from db.qr import qr_png

MESSAGE_ID = "<0123abcd@marquee.localhost>"
DATE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MAIL_FROM = "Marquee <tickets@marquee.localhost>"


def confirmation_context(tickets: int) -> dict[str, Any]:
    """The order confirmation's context as the sale writes it (db/orders), with payloads
    of a signed ticket's length."""
    return {
        "order_number": "MQ-7K3F9",
        "customer_name": "Ada Lovelace",
        "movie_title": "Metropolis",
        "cinema_name": "Marquee Mitte",
        "hall_name": "Hall 2",
        "starts_at": "2026-06-12T17:30:00+00:00",
        "time_zone": "Europe/Berlin",
        "total": f"{12.5 * tickets:.2f}",
        "currency": "EUR",
        "lines": [
            {"description": f"Ticket, seat C{n}", "quantity": 1, "total": "12.50"}
            for n in range(1, tickets + 1)
        ],
        "tickets": [
            {
                "booking_reference": f"K7Q2F{n:03d}",
                "seat_label": f"C{n}",
                "price": "12.50",
                "qr_payload": f"MQT1.{n:08d}." + "s" * 104,
            }
            for n in range(1, tickets + 1)
        ],
    }


def per_call(fn: Callable[[], object], n: int) -> float:
    for _ in range(n // 10):
        fn()
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.email_cost", description=__doc__)
    p.add_argument("--tickets", type=int, default=2, help="tickets in the order (2)")
    p.add_argument("--messages", type=int, default=400, help="messages per step (400)")
    args = p.parse_args(argv)
    context = confirmation_context(args.tickets)
    payload = context["tickets"][0]["qr_payload"]
    rendered = render("order_confirmation", context, message_id=MESSAGE_ID)
    message = build_message(
        rendered, mail_from=MAIL_FROM, to="ada@example.com", message_id=MESSAGE_ID, date=DATE
    )

    def whole() -> bytes:
        made = compose(
            "order_confirmation",
            context,
            mail_from=MAIL_FROM,
            to="ada@example.com",
            message_id=MESSAGE_ID,
            date=DATE,
        )
        return made.as_bytes()

    steps: list[tuple[str, Callable[[], object]]] = [
        (f"the whole message, {args.tickets} tickets", whole),
        ("one ticket's QR code as PNG", lambda: qr_png(payload)),
        (
            "the templates (QR codes included)",
            lambda: render("order_confirmation", context, message_id=MESSAGE_ID),
        ),
        (
            "the MIME structure",
            lambda: build_message(
                rendered,
                mail_from=MAIL_FROM,
                to="ada@example.com",
                message_id=MESSAGE_ID,
                date=DATE,
            ),
        ),
        ("its bytes", message.as_bytes),
    ]
    print(f"{len(whole())} bytes a message; CPU of this process per call:")
    for name, fn in steps:
        print(f"  {1000 * per_call(fn, args.messages):6.3f} ms  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
