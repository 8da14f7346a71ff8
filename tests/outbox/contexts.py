"""Template contexts as the orders code will pass them (JSON: money and times as strings)."""

from __future__ import annotations

from typing import Any


def order_confirmation(tickets: int = 2, **overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "order_number": "MQ-100042",
        "customer_name": "Ada Lovelace",
        "movie_title": "Metropolis",
        "cinema_name": "Marquee Mitte",
        "hall_name": "Hall 2",
        "starts_at": "2026-06-12T17:30:00+00:00",
        "time_zone": "Europe/Berlin",
        "total": f"{12.5 * tickets + 1.5:.2f}",
        "currency": "EUR",
        "lines": [
            {"description": "Adult ticket", "quantity": tickets, "total": f"{12.5 * tickets:.2f}"},
            {"description": "Booking fee", "quantity": 1, "total": "1.50"},
        ],
        "tickets": [
            {
                "booking_reference": f"K7Q2-{n:04d}",
                "seat_label": f"C{n}",
                "price": "12.50",
                "qr_payload": f"MQT1.{n}.K7Q2-{n:04d}.c2lnbmF0dXJlLW9mLXRpY2tldC0{n}",
            }
            for n in range(1, tickets + 1)
        ],
    }
    context.update(overrides)
    return context


def refund(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "order_number": "MQ-100042",
        "customer_name": "Ada Lovelace",
        "amount": "25.00",
        "currency": "EUR",
        "movie_title": "Metropolis",
        "starts_at": "2026-06-12T19:30:00+02:00",
        "reason": "Requested by the customer",
    }
    context.update(overrides)
    return context


def showtime_cancelled(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "order_number": "MQ-100042",
        "customer_name": "Ada Lovelace",
        "movie_title": "Metropolis",
        "cinema_name": "Marquee Mitte",
        "starts_at": "2026-06-12T19:30:00+02:00",
        "refund_amount": "26.50",
        "currency": "EUR",
    }
    context.update(overrides)
    return context


def _password_link(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "customer_name": "Ada Lovelace",
        "username": "ada",
        "expires_at": "2026-06-12T19:30:00+00:00",
        "secret_link": "http://marquee.example/account/password#token=abc",
    }
    context.update(overrides)
    return context


set_password = _password_link
password_reset = _password_link
