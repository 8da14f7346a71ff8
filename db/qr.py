"""Ticket QR codes (segno): the same code for a payload everywhere, as an SVG document
(`Ticket.qrSvg`) and as a PNG image (the order confirmation e-mail).

Error correction M restores about 15% of the code (a scratched print, a cracked phone
screen) and keeps the code small enough for phone cameras: a ticket payload (118 ASCII
characters) is a version 7 code, 45 by 45 modules.

The data mask is fixed (`QR_MASK`) instead of chosen per code. The standard's choice scores
all eight masks and took 7.4 ms of CPU per code, against 1.5 ms with one mask: an order
confirmation of two tickets spent 16 ms on its codes, more than the whole purchase in the
server and PostgreSQL, so the e-mail sender fell behind a busy sale (bench/README.md, "The
e-mail of every paid order"). Any mask decodes; the penalty only steers a code away from
large blocks and finder-like patterns, which a payload that is mostly a signature (random
bytes) rarely has under any mask. Mask 2 is the one the scoring picks most often for
ticket payloads (60 of 150 sampled; the next, 24).
"""

from __future__ import annotations

import io

import segno

QR_ERROR_LEVEL = "m"
QR_MASK = 2
# PNG: 5 pixels a module (265 pixels square with the quiet zone for a ticket payload).
PNG_SCALE = 5


def ticket_qr(payload: str) -> segno.QRCode:
    """The payload as a QR code (not a Micro QR code; error level M, never raised)."""
    return segno.make_qr(payload, error=QR_ERROR_LEVEL, boost_error=False, mask=QR_MASK)


def qr_svg(payload: str) -> str:
    """A standalone SVG document with a viewBox and no fixed size, so it scales to any box;
    black modules on a white background with the 4-module quiet zone the standard asks for."""
    out = io.BytesIO()
    ticket_qr(payload).save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        omitsize=True,
        nl=False,
        dark="#000",
        light="#fff",
        title="Ticket QR code",
    )
    return out.getvalue().decode("utf-8")


def qr_png(payload: str) -> bytes:
    """A PNG image with the 4-module quiet zone, `PNG_SCALE` pixels a module."""
    out = io.BytesIO()
    ticket_qr(payload).save(out, kind="png", scale=PNG_SCALE, border=4)
    return out.getvalue()
