"""Ticket QR codes (zxing-cpp, which encodes with zint): the same code for a payload
everywhere, as an SVG document (`Ticket.qrSvg`) and as a PNG image (the order confirmation
e-mail).

Error correction M restores about 15% of the code (a scratched print, a cracked phone
screen) and keeps the code small enough for phone cameras: a ticket payload (118 ASCII
characters) is a version 6 code, 41 by 41 modules. The encoder picks the data mask the
standard's way (the lowest penalty of the eight), in C++: 0.44 ms of CPU a code, where segno
(pure Python) took 8.9 ms with the standard's choice and 1.8 ms with one fixed mask, which
is what this module did until zxing-cpp replaced it (bench/README.md). The QR codes were
most of an order confirmation's cost, and the e-mail senders run beside the sale.

The library gives the code's modules; the PNG and the SVG are written here from them, so
both show exactly that code, in the shape this project wants (a PNG as small as the format
allows, an SVG that scales to any box)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import zxingcpp

QR_ERROR_LEVEL = "M"
# PNG: 5 pixels a module (245 pixels square with the quiet zone for a ticket payload).
PNG_SCALE = 5
BORDER = 4  # the quiet zone, in modules

# The encoder's image is 8-bit grey, 0 for a dark module and 255 for a light one.
_DARK = bytes([1] + [0] * 255)
# A module (1 dark, 0 light) as a PNG digit (0 black, 1 white).
_DIGIT = bytes.maketrans(b"\x00\x01", b"10")


@dataclass(frozen=True)
class QrCode:
    """A QR code's modules, row by row: one byte a module, 1 dark, 0 light."""

    rows: tuple[bytes, ...]
    error_level: str

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def version(self) -> int:
        return (self.size - 17) // 4


def ticket_qr(payload: str) -> QrCode:
    """The payload as a QR code (not a Micro QR code; error level M, never raised)."""
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=QR_ERROR_LEVEL)
    image = code.to_image(scale=1, add_quiet_zones=False)
    size = image.shape[0]
    # The image has the buffer protocol; zxing-cpp's type stubs do not say so.
    modules = bytes(memoryview(cast(Any, image))).translate(_DARK)
    return QrCode(tuple(modules[i * size : (i + 1) * size] for i in range(size)), code.ec_level)


# A customer's wallet shows the same few tickets again and again; its SVG is about 3 KB.
# 512 of them: under 2 MB a worker.
@lru_cache(maxsize=512)
def qr_svg(payload: str) -> str:
    """A standalone SVG document with a viewBox and no fixed size, so it scales to any box;
    black modules on a white background with the 4-module quiet zone the standard asks for.
    The dark modules are one stroked path, a line through the middle of each row's dark
    runs: `M x y.5` (absolute) starts a row, `m gap 0` skips light modules, `h n` draws n
    dark ones. The same payload always gives the same document, so it is kept (LRU)."""
    code = ticket_qr(payload)
    side = code.size + 2 * BORDER
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}"'
        ' shape-rendering="crispEdges"><title>Ticket QR code</title>'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path stroke="#000" d="'
    ]
    for y, row in enumerate(code.rows, start=BORDER):
        x = row.find(1)
        at = None  # where the pen is in this row, after the last run
        while x >= 0:
            end = row.find(0, x)
            end = code.size if end < 0 else end
            if at is None:
                parts.append(f"M{x + BORDER} {y}.5h{end - x}")
            else:
                parts.append(f"m{x - at} 0h{end - x}")
            at = end
            x = row.find(1, end)
    parts.append('"/></svg>')
    return "".join(parts)


def qr_png(payload: str) -> bytes:
    """A PNG image with the 4-module quiet zone, `PNG_SCALE` pixels a module: 1-bit
    greyscale, one IDAT chunk. It is the smallest image PNG (ISO/IEC 15948) allows:
    signature, IHDR, one IDAT, IEND; the tests read it back module by module with a reader
    of their own and decode it. A row of pixels that repeats the one above (a module is
    `PNG_SCALE` rows tall) is written with the Up filter, all zeros, and the others with
    none: for a ticket's code zlib (default level 6) then takes 0.14 ms instead of 0.20 and
    makes 528 bytes instead of 538 (`level 9` made the same bytes in twice the time)."""
    code = ticket_qr(payload)
    side = code.size + 2 * BORDER
    width = side * PNG_SCALE
    padding = -width % 8
    stride = (width + padding) // 8
    quiet = b"\x00" + (b"\xff" * stride)  # filter byte 0, then white
    same = b"\x02" + bytes(stride)  # filter byte 2 (Up): the row above again
    rows = [quiet, *([same] * (BORDER * PNG_SCALE - 1))]
    # A row's pixels as the digits of one binary number, 1 white and 0 black: a module's
    # byte (1 dark) becomes its digit, each digit PNG_SCALE of them, in C (bytes methods).
    margin = b"1" * (PNG_SCALE * BORDER)
    tail = margin + b"1" * padding
    light, dark = b"1" * PNG_SCALE, b"0" * PNG_SCALE
    repeats = [same] * (PNG_SCALE - 1)
    for modules in code.rows:
        digits = modules.translate(_DIGIT).replace(b"1", light).replace(b"0", dark)
        rows.append(b"\x00" + int(margin + digits + tail, 2).to_bytes(stride, "big"))
        rows.extend(repeats)
    rows.extend([quiet, *([same] * (BORDER * PNG_SCALE - 1))])
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
