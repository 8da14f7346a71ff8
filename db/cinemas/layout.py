"""Hall layouts: the compact row description expanded to seats, layout validation, and the
grouping and version hash every view of a layout shares."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from db.cinemas.codes import SeatType
from db.errors import Validator

MAX_ROWS = 100
MAX_SEATS_PER_ROW = 100
MAX_SEATS = 2000
# The seats of all rows of a hall together are at most MAX_ROWS x this (the API's query cost
# counts a nested list of seats as rows x seats per row).
MEAN_SEATS_PER_ROW = MAX_SEATS // MAX_ROWS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowSpec:
    """A row: `seats` seats numbered 1..n from the left; `gaps` are empty positions
    (1-based, counted over seats and gaps together, e.g. an aisle); `blocked` are seat
    numbers that cannot be sold."""

    label: str
    seats: int
    seat_type: str = SeatType.STANDARD
    gaps: Sequence[int] = ()
    blocked: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class SeatSpec:
    """One seat, with its drawing position (x = column, y = row, in seat units)."""

    row_label: str
    number: int
    x: int
    y: int
    seat_type: str = SeatType.STANDARD
    is_blocked: bool = False


def _check_label(v: Validator, label: str, where: str) -> None:
    v.check(
        0 < len(label.strip()) <= 8 and label == label.strip(),
        where,
        "A row label has 1 to 8 characters without surrounding spaces.",
    )


def expand_rows(rows: Sequence[RowSpec], v: Validator, prefix: str = "rows") -> list[SeatSpec]:
    """Seats of a compact description; rows are drawn top to bottom (y = 1, 2, ...)."""
    v.check(len(rows) <= MAX_ROWS, prefix, f"At most {MAX_ROWS} rows.")
    seen: set[str] = set()
    out: list[SeatSpec] = []
    for i, row in enumerate(rows):
        where = f"{prefix}[{i}]"
        _check_label(v, row.label, f"{where}.label")
        v.check(row.label not in seen, f"{where}.label", f"Row '{row.label}' appears twice.")
        seen.add(row.label)
        v.check(row.seat_type in SeatType.__members__, f"{where}.seatType", "Unknown seat type.")
        if not 0 < row.seats <= MAX_SEATS_PER_ROW:
            v.add(f"{where}.seats", f"A row has 1 to {MAX_SEATS_PER_ROW} seats.")
            continue
        width = row.seats + len(row.gaps)
        gaps = set(row.gaps)
        if len(gaps) != len(row.gaps) or any(not 0 < g <= width for g in gaps):
            v.add(f"{where}.gaps", f"Gaps are distinct positions between 1 and {width}.")
            continue
        if any(not 0 < b <= row.seats for b in row.blocked):
            v.add(f"{where}.blocked", f"Blocked seats are numbers between 1 and {row.seats}.")
            continue
        blocked = set(row.blocked)
        number = 0
        for x in range(1, width + 1):
            if x in gaps:
                continue
            number += 1
            out.append(
                SeatSpec(
                    row_label=row.label,
                    number=number,
                    x=x,
                    y=i + 1,
                    seat_type=row.seat_type,
                    is_blocked=number in blocked,
                )
            )
    return out


def validate_seats(seats: Sequence[SeatSpec], v: Validator, prefix: str = "seats") -> None:
    """A layout has seats, each (row, number) and each position once, within limits."""
    if not seats:
        v.add(prefix, "A hall needs at least one seat.", "HALL_WITHOUT_SEATS")
        return
    v.check(len(seats) <= MAX_SEATS, prefix, f"At most {MAX_SEATS} seats.")
    keys: set[tuple[str, int]] = set()
    spots: set[tuple[int, int]] = set()
    for i, s in enumerate(seats):
        where = f"{prefix}[{i}]"
        _check_label(v, s.row_label, f"{where}.rowLabel")
        v.check(s.number > 0, f"{where}.number", "Seat numbers start at 1.")
        v.check(s.x >= 0 and s.y >= 0, f"{where}.x", "Positions are not negative.")
        v.check(s.seat_type in SeatType.__members__, f"{where}.seatType", "Unknown seat type.")
        key = (s.row_label, s.number)
        v.check(key not in keys, where, f"Seat {s.row_label}{s.number} appears twice.")
        v.check((s.x, s.y) not in spots, where, f"Two seats at position ({s.x}, {s.y}).")
        keys.add(key)
        spots.add((s.x, s.y))


def build_layout(
    rows: Sequence[RowSpec] | None, seats: Sequence[SeatSpec] | None, v: Validator
) -> list[SeatSpec]:
    """Exactly one of `rows` (compact) or `seats` (seat by seat) describes a layout."""
    if rows and seats:
        v.add("rows", "Give either rows or seats, not both.")
        return []
    if rows:
        out = expand_rows(rows, v)
        if not v.details:
            validate_seats(out, v, "rows")
        return out
    out = list(seats or [])
    validate_seats(out, v)
    return out


def group_rows(items: Sequence[T], label: Callable[[T], str]) -> list[tuple[str, list[T]]]:
    """Group seats (already in drawing order) by row label, rows in order of appearance.
    The seat map, the layout and the packed statuses all use this one grouping."""
    rows: dict[str, list[T]] = {}
    for item in items:
        rows.setdefault(label(item), []).append(item)
    return list(rows.items())


def layout_text(seats: Sequence[tuple[int, str, int, str, int, int, bool]]) -> str:
    """What a layout's version hashes: (id, row, number, type, x, y, blocked) of every seat
    in drawing order. PostgreSQL's `marquee_layout_version` builds the same text (a test
    compares the two versions)."""
    return "".join(
        f"{pk},{row},{number},{kind},{x},{y},{int(blocked)};"
        for pk, row, number, kind, x, y, blocked in seats
    )


def layout_version(text: str) -> str:
    """The version of a layout from its `layout_text`: 16 hex digits of its SHA-256, as
    PostgreSQL's `marquee_layout_version` computes it into `halls.layout_version`
    (migration 0023_layout_versions)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
