"""Ticket QR codes (db/qr.py): the PNG of the confirmation e-mail read back pixel by pixel
is the code of the payload, with error correction M in its format information, and a QR
reader (zxing-cpp's, not the encoder) decodes it to the payload; the SVG of `Ticket.qrSvg`
is the same code."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib

import zxingcpp

from db.orders.signing import MAX_ID, TicketSigner, generate_signing_key
from db.qr import PNG_SCALE, qr_png, qr_svg, ticket_qr

SIGNER = TicketSigner(generate_signing_key(), "k1")
# The longest payload there is: the largest ids and a key id of 32 characters.
LONGEST = TicketSigner(generate_signing_key(), "K" * 32).sign(MAX_ID, MAX_ID, MAX_ID)
BORDER = 4

_LEVEL_BITS = {"L": 0b01, "M": 0b00, "Q": 0b11, "H": 0b10}


def _format_word(level: str, mask: int) -> int:
    """The 15 bits of format information (ISO/IEC 18004, 7.9): level and mask, BCH(15,5),
    XOR 101010000010010."""
    data = _LEVEL_BITS[level] << 3 | mask
    remainder = data << 10
    for bit in range(14, 9, -1):
        if remainder >> bit & 1:
            remainder ^= 0b10100110111 << (bit - 10)
    return ((data << 10) | remainder) ^ 0b101010000010010


_FORMATS = {_format_word(level, mask): (level, mask) for level in "LMQH" for mask in range(8)}
# Where the first copy sits, most significant bit first: along row 8, then up column 8.
_FORMAT_CELLS = [(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [(r, 8) for r in (7, 5, 4, 3, 2, 1, 0)]


def _format_of(modules: list[list[int]]) -> tuple[str, int] | None:
    word = 0
    for row, column in _FORMAT_CELLS:
        word = word << 1 | modules[row][column]
    return _FORMATS.get(word)


def _png_pixels(png: bytes) -> list[list[int]]:
    """The pixels of a 1-bit greyscale PNG without interlacing, 1 = black."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, header = 8, b"", b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert (
            zlib.crc32(kind + body)
            == struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0]
        )
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(data)
    stride = (width + 7) // 8 + 1
    rows, prior = [], bytes(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        if kind == 1:  # Sub (one byte a pixel group at depth 1)
            for x in range(1, len(line)):
                line[x] = (line[x] + line[x - 1]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prior, strict=True))
        else:
            assert kind == 0, f"filter {kind}"
        prior = bytes(line)
        bits = "".join(f"{byte:08b}" for byte in line)[:width]
        rows.append([1 - int(b) for b in bits])  # 0 is black in greyscale
    return rows


def _modules_of_png(png: bytes) -> list[list[int]]:
    pixels = _png_pixels(png)
    size = len(pixels) // PNG_SCALE - 2 * BORDER
    assert len(pixels) == len(pixels[0]) == (size + 2 * BORDER) * PNG_SCALE
    modules = []
    for row in range(-BORDER, size + BORDER):
        cells = []
        for column in range(-BORDER, size + BORDER):
            y, x = (row + BORDER) * PNG_SCALE, (column + BORDER) * PNG_SCALE
            block = {pixels[y + dy][x + dx] for dy in range(PNG_SCALE) for dx in range(PNG_SCALE)}
            assert len(block) == 1, "a module is one colour"
            cells.append(block.pop())
        if 0 <= row < size:
            modules.append(cells[BORDER:-BORDER])
        else:
            assert set(cells) == {0}, "the quiet zone is white"
    return modules


def _decoded(pixels: list[list[int]]) -> str:
    """What a QR reader makes of an image (1 = black), as a camera would see it."""
    height, width = len(pixels), len(pixels[0])
    grey = bytes(0 if p else 255 for row in pixels for p in row)
    found = zxingcpp.read_barcode(
        zxingcpp.ImageView(grey, width, height, zxingcpp.ImageFormat.Lum),
        formats=zxingcpp.BarcodeFormat.QRCode,
    )
    assert found is not None, "no QR code found"
    return str(found.text)


def test_the_png_is_the_code_of_the_payload_with_level_m_and_reads_back() -> None:
    for payload in (SIGNER.sign(1, 2, 3), LONGEST):
        png = qr_png(payload)
        modules = _modules_of_png(png)
        code = ticket_qr(payload)
        assert modules == [list(row) for row in code.rows]
        level, mask = _format_of(modules) or ("?", -1)
        assert level == "M"
        assert code.error_level == "M"
        assert 0 <= mask < 8
        assert _decoded(_png_pixels(png)) == payload
    # A payload with ids of everyday size is a version 6 code (41 modules); the longest
    # there can be, version 8 (49), the error level never raised to fit.
    assert ticket_qr(SIGNER.sign(123_456, 4_567, 89_012)).version == 6
    assert ticket_qr(LONGEST).version == 8
    assert len(_modules_of_png(qr_png(LONGEST))) == 49


def test_the_encoder_chooses_the_mask_per_code() -> None:
    """The standard's mask choice (the lowest penalty of the eight), not one fixed mask:
    over a few payloads more than one mask is chosen."""
    masks = set()
    for ticket in range(1, 25):
        level, mask = _format_of(
            [list(row) for row in ticket_qr(SIGNER.sign(ticket, 7, 9)).rows]
        ) or (
            "?",
            -1,
        )
        assert level == "M"
        masks.add(mask)
    assert len(masks) > 1


def _modules_of_svg(svg: str) -> list[list[int]]:
    """The SVG draws each row's dark runs as one stroked path: `M x y` or `m dx dy` moves
    (y at a row's middle), `h n` draws n modules to the right."""
    root = ET.fromstring(svg)
    _, _, width, height = (int(v) for v in root.attrib["viewBox"].split())
    cells = [[0] * width for _ in range(height)]
    (path,) = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("stroke")]
    x = y = 0.0
    for command, first, second in re.findall(
        r"([MmHh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.attrib["d"]
    ):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            run = float(first)
            for column in range(int(x), int(x + run)):
                cells[int(y)][column] = 1
            x += run
    assert all(set(row) == {0} for row in cells[:BORDER] + cells[height - BORDER :])
    return [row[BORDER : width - BORDER] for row in cells[BORDER : height - BORDER]]


def test_svg_and_png_show_one_code() -> None:
    payload = SIGNER.sign(5, 6, 7)
    svg = qr_svg(payload)
    code = ticket_qr(payload)
    side = code.size + 2 * BORDER
    assert svg.startswith("<svg")
    assert f'viewBox="0 0 {side} {side}"' in svg
    assert _modules_of_svg(svg) == [list(row) for row in code.rows]
    assert _modules_of_png(qr_png(payload)) == [list(row) for row in code.rows]
