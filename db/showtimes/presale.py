"""Presale waves of a showtime, as staff set them: validation and replacement.

General sale opens at `showtimes.sales_open_at` (NULL: at once). Each wave opens earlier for
one audience: LOYALTY_MEMBERS (at least `min_loyalty_points`) or PROMO_CODE (holders of a
promo code). Who may hold seats when is decided by the hold itself, in SQL
(`marquee_sales_opening`, migration 0013_presale); this module only keeps the waves sane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.cinemas.codes import CinemaErrorCode
from db.errors import Validator
from db.shop.models import PromoCode
from db.showtimes.codes import MAX_PRESALE_WAVES, PresaleAudience
from db.showtimes.models import PresaleWave

C = CinemaErrorCode
NAME_LENGTH = 100


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """A presale wave as staff give it; `promo_code` is the code's text."""

    name: str
    opens_at: datetime
    audience: str
    min_loyalty_points: int | None = None
    promo_code: str | None = None


@dataclass(frozen=True, slots=True)
class WaveRow:
    """A validated wave, ready to insert."""

    name: str
    opens_at: datetime
    audience: str
    min_loyalty_points: int | None
    promo_code_id: int | None


async def validate_presale(
    session: AsyncSession,
    *,
    sales_open_at: datetime | None,
    starts_at: datetime,
    waves: Sequence[WaveSpec],
    v: Validator,
) -> list[WaveRow]:
    """Check the resulting sale opening and waves of a showtime (what it will have after
    the change) and resolve the waves' promo codes; failures go to `v`.

    Rules: general sale opens before the showtime starts; waves need a general sale to open
    before (a wave opens strictly before `sales_open_at`); a LOYALTY_MEMBERS wave has
    `minLoyaltyPoints` >= 0 and no code, a PROMO_CODE wave a known code (active or not: it
    may be switched on later) and no points; at most MAX_PRESALE_WAVES waves."""
    if sales_open_at is not None:
        if sales_open_at.tzinfo is None:
            v.add("salesOpenAt", "A time needs a UTC offset.")
            sales_open_at = None
        elif sales_open_at >= starts_at:
            v.add("salesOpenAt", "Sales must open before the showtime starts.")
    if not waves:
        return []
    if sales_open_at is None:
        v.add(
            "presaleWaves",
            "Presale waves open before general sale: set salesOpenAt too.",
        )
    if len(waves) > MAX_PRESALE_WAVES:
        v.add("presaleWaves", f"At most {MAX_PRESALE_WAVES} presale waves per showtime.")
        return []
    wanted = {w.promo_code.strip().lower() for w in waves if w.promo_code and w.promo_code.strip()}
    known: dict[str, int] = {}
    if wanted:
        rows = await session.execute(
            select(func.lower(PromoCode.code), PromoCode.id).where(
                func.lower(PromoCode.code).in_(wanted)
            )
        )
        known = {code: int(pk) for code, pk in rows.all()}
    out: list[WaveRow] = []
    for i, w in enumerate(waves):
        where = f"presaleWaves[{i}]"
        name = w.name.strip()
        v.check(
            0 < len(name) <= NAME_LENGTH,
            f"{where}.name",
            f"A wave needs a name of at most {NAME_LENGTH} characters.",
        )
        if w.opens_at.tzinfo is None:
            v.add(f"{where}.opensAt", "A time needs a UTC offset.")
        elif sales_open_at is not None and sales_open_at.tzinfo is not None:
            v.check(
                w.opens_at < sales_open_at,
                f"{where}.opensAt",
                "A presale wave opens before general sale (salesOpenAt).",
            )
        code = (w.promo_code or "").strip()
        promo_code_id: int | None = None
        if w.audience == PresaleAudience.LOYALTY_MEMBERS:
            if w.min_loyalty_points is None:
                v.add(f"{where}.minLoyaltyPoints", "A loyalty wave needs minLoyaltyPoints.")
            else:
                v.check(
                    w.min_loyalty_points >= 0,
                    f"{where}.minLoyaltyPoints",
                    "minLoyaltyPoints is 0 or more.",
                )
            v.check(
                w.promo_code is None,
                f"{where}.promoCode",
                "A loyalty wave has no promo code.",
            )
        elif w.audience == PresaleAudience.PROMO_CODE:
            if not code:
                v.add(f"{where}.promoCode", "A promo code wave needs promoCode.")
            else:
                found = known.get(code.lower())
                if found is None:
                    v.add(f"{where}.promoCode", "No such promo code.", C.PROMO_CODE_INVALID)
                promo_code_id = found
            v.check(
                w.min_loyalty_points is None,
                f"{where}.minLoyaltyPoints",
                "A promo code wave has no minLoyaltyPoints.",
            )
        else:
            v.add(f"{where}.audience", "LOYALTY_MEMBERS or PROMO_CODE.")
        out.append(
            WaveRow(
                name=name,
                opens_at=w.opens_at,
                audience=w.audience,
                min_loyalty_points=w.min_loyalty_points
                if w.audience == PresaleAudience.LOYALTY_MEMBERS
                else None,
                promo_code_id=promo_code_id,
            )
        )
    return out


async def current_waves(session: AsyncSession, showtime_id: int) -> list[WaveSpec]:
    """The showtime's waves as specs (to check them against a new sale opening)."""
    rows = await session.execute(
        select(
            PresaleWave.name,
            PresaleWave.opens_at,
            PresaleWave.audience,
            PresaleWave.min_loyalty_points,
            PromoCode.code,
        )
        .outerjoin(PromoCode, PromoCode.id == PresaleWave.promo_code_id)
        .where(PresaleWave.showtime_id == showtime_id)
        .order_by(PresaleWave.opens_at, PresaleWave.id)
    )
    return [
        WaveSpec(r.name, r.opens_at, r.audience, r.min_loyalty_points, r.code) for r in rows.all()
    ]


async def replace_waves(session: AsyncSession, showtime_id: int, waves: Sequence[WaveRow]) -> None:
    await session.execute(delete(PresaleWave).where(PresaleWave.showtime_id == showtime_id))
    if waves:
        await session.execute(
            insert(PresaleWave),
            [
                {
                    "showtime_id": showtime_id,
                    "name": w.name,
                    "opens_at": w.opens_at,
                    "audience": w.audience,
                    "min_loyalty_points": w.min_loyalty_points,
                    "promo_code_id": w.promo_code_id,
                }
                for w in waves
            ],
        )
