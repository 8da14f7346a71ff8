"""Ticket QR codes (segno): the same code for a payload everywhere, as an SVG document
(`Ticket.qrSvg`) and as a PNG image (the order confirmation e-mail).

Error correction M restores about 15% of the code (a scratched print, a cracked phone
screen) and keeps the code small enough for phone cameras: a ticket payload (118 ASCII
characters) is a version 7 code, 45 by 45 modules.

The data mask is fixed (`QR_MASK`) instead of chosen per code. The standard's choice scores
all eight masks and took 7.4 ms of CPU per code, against 1.5 ms with one mask: with
segno's PNG writer (2.0 ms more), the codes of a two-ticket order confirmation took 19 ms,
more than the whole purchase in the server and PostgreSQL, so the e-mail sender fell
behind a busy sale (bench/README.md, "Issues 10, 11 and 14: the sale's e-mails counted").
Any mask decodes; the penalty only steers a code away from large blocks and finder-like
patterns, which a payload that is mostly a signature (random bytes) rarely has under any
mask. Mask 2 is the one the scoring picks most often for ticket payloads (60 of 150
sampled; the next, 24)."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import segno

QR_ERROR_LEVEL = "m"
QR_MASK = 2
# PNG: 5 pixels a module (265 pixels square with the quiet zone for a ticket payload).
PNG_SCALE = 5
BORDER = 4  # the quiet zone, in modules


def ticket_qr(payload: str) -> segno.QRCode:
    """The payload as a QR code (not a Micro QR code; error level M, never raised)."""
    return segno.make_qr(payload, error=QR_ERROR_LEVEL, boost_error=False, mask=QR_MASK)


# A customer's wallet shows the same few tickets again and again; a code costs about
# 2.5 ms of CPU on the event loop, its SVG about 3.4 KB. 512 of them: under 2 MB a worker.
@lru_cache(maxsize=512)
def qr_svg(payload: str) -> str:
    """A standalone SVG document with a viewBox and no fixed size, so it scales to any box;
    black modules on a white background with the 4-module quiet zone the standard asks for.
    The same payload always gives the same document, so it is kept (LRU)."""
    out = io.BytesIO()
    ticket_qr(payload).save(
        out,
        kind="svg",
        border=BORDER,
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
    """A PNG image with the 4-module quiet zone, `PNG_SCALE` pixels a module: 1-bit
    greyscale, one IDAT chunk, no filtering.

    Written here from segno's module matrix rather than by segno's own PNG writer, which
    builds the image pixel by pixel in Python: 2.0-2.8 ms of CPU for a version 7 code at
    this scale (more than half of the code's cost in the e-mail), against about 0.5 ms this
    way. It is the smallest image PNG (ISO/IEC 15948) allows: signature, IHDR, one IDAT,
    IEND; the tests read it back module by module with a reader of their own. zlib at its
    default level 6: the same 736 bytes as level 9 for a ticket's code, in half the time
    (0.16 against 0.33 ms)."""
    matrix = ticket_qr(payload).matrix
    side = len(matrix) + 2 * BORDER
    width = side * PNG_SCALE
    padding = -width % 8
    quiet = b"\x00" + (b"\xff" * ((width + padding) // 8))  # filter byte 0, then white
    rows = [quiet] * (BORDER * PNG_SCALE)
    light, dark = "1" * PNG_SCALE, "0" * PNG_SCALE  # 0 is black in greyscale
    margin = light * BORDER
    for modules in matrix:
        bits = margin + "".join(dark if m else light for m in modules) + margin + "1" * padding
        row = b"\x00" + int(bits, 2).to_bytes((width + padding) // 8, "big")
        rows.extend([row] * PNG_SCALE)
    rows.extend([quiet] * (BORDER * PNG_SCALE))
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
