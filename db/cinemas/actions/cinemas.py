"""Staff actions on cinemas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.cinemas.codes import CinemaErrorCode
from db.cinemas.models import (
    Cinema,
)
from db.errors import DomainError, Validator

C = CinemaErrorCode
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UNSET: Any = object()


@dataclass(slots=True)
class CinemaFields:
    """Fields of a cinema; UNSET leaves a field unchanged on update."""

    name: Any = UNSET
    address: Any = UNSET
    city: Any = UNSET
    phone: Any = UNSET
    email: Any = UNSET
    latitude: Any = UNSET
    longitude: Any = UNSET
    time_zone: Any = UNSET
    opens_at: Any = UNSET
    closes_at: Any = UNSET
    description: Any = UNSET
    is_active: Any = UNSET

    def given(self) -> dict[str, Any]:
        return {
            k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not UNSET
        }


async def time_zone_exists(session: AsyncSession, name: str) -> bool:
    """PostgreSQL's own list decides: it is what `AT TIME ZONE` reads local dates with."""
    found = await session.scalar(
        select(exists().where(func.pg_timezone_names().table_valued("name").c.name == name))
    )
    return bool(found)


async def _validate_cinema(session: AsyncSession, values: dict[str, Any], v: Validator) -> None:
    for key, label, limit in (
        ("name", "name", 200),
        ("address", "address", 300),
        ("city", "city", 100),
    ):
        if key in values:
            text_value = values[key]
            ok = text_value is not None and 0 < len(text_value.strip()) <= limit
            v.check(ok, key, f"The {label} is required (at most {limit} characters).")
            if ok:
                values[key] = text_value.strip()
    if "latitude" in values:
        lat = values["latitude"]
        v.check(
            lat is not None and -90 <= lat <= 90,
            "latitude",
            "Latitude is between -90 and 90.",
            C.INVALID_COORDINATES,
        )
    if "longitude" in values:
        lon = values["longitude"]
        v.check(
            lon is not None and -180 <= lon <= 180,
            "longitude",
            "Longitude is between -180 and 180.",
            C.INVALID_COORDINATES,
        )
    if values.get("email"):
        v.check(bool(EMAIL_RE.match(values["email"])), "email", "Not an e-mail address.")
    if values.get("phone") is not None:
        v.check(len(values["phone"]) <= 40, "phone", "At most 40 characters.")
    if "time_zone" in values:
        tz = values["time_zone"]
        ok = bool(tz) and len(tz) <= 64 and await time_zone_exists(session, tz)
        v.check(ok, "timeZone", f"'{tz}' is not an IANA time zone.", C.INVALID_TIME_ZONE)
    for key in ("opens_at", "closes_at"):
        value = values.get(key)
        if value is not None and not isinstance(value, time):
            v.add(key, "Not a time of day.")


async def create_cinema(session: AsyncSession, fields: CinemaFields) -> int:
    values = fields.given()
    for required in ("name", "address", "city", "latitude", "longitude", "time_zone"):
        values.setdefault(required, None)
    v = Validator()
    await _validate_cinema(session, values, v)
    v.raise_if_any()
    result = await session.execute(insert(Cinema).values(**values).returning(Cinema.id))
    return int(result.scalar_one())


async def update_cinema(session: AsyncSession, cinema_id: int, fields: CinemaFields) -> int:
    values = fields.given()
    v = Validator()
    await _validate_cinema(session, values, v)
    if "is_active" in values and values["is_active"] is None:
        v.add("isActive", "isActive cannot be null.")
    v.raise_if_any()
    result = await session.execute(
        update(Cinema).where(Cinema.id == cinema_id).values(**values).returning(Cinema.id)
        if values
        else select(Cinema.id).where(Cinema.id == cinema_id)
    )
    if result.first() is None:
        raise DomainError(C.NOT_FOUND, "No such cinema.", "id")
    return cinema_id
