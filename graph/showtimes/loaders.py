"""Loaders of showtimes: by id, prices, availability, and batched nested pages.

`graph.showtimes.types` resolves its relations through these loaders and these loaders build
its types: each module imports the other as a module object (read at call time), so either
can be imported first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from db.accounts import queries as account_queries
from db.cinemas.codes import SeatType
from db.showtimes import queries
from db.showtimes.codes import PresaleAudience
from db.showtimes.queries import Parent, ShowtimeSpec
from graph.errors import bad_input
from graph.loaders import ContextLoader
from graph.pagination import DEFAULT_PAGE, Connection, PageArgs, build_connection, decode_cursor
from graph.relay import query_id
from graph.scalars import Money
from graph.showtimes import types as showtime_types
from graph.showtimes.inputs import ShowtimeFilter

if TYPE_CHECKING:
    from graph.context import Info
    from graph.showtimes.types import PresaleWave, Showtime, ShowtimePrice

MAX_LOCAL_DAYS = 31
_SEAT_TYPE_ORDER = {t: i for i, t in enumerate(SeatType)}


def spec_from_filter(f: ShowtimeFilter | None) -> ShowtimeSpec:
    """Validate a ShowtimeFilter (bad IDs are BAD_USER_INPUT errors)."""
    if f is None:
        return ShowtimeSpec(upcoming_only=True)
    for name in ("starts_after", "starts_before"):
        value = getattr(f, name)
        if value is not None and value.tzinfo is None:
            raise bad_input("Times need a UTC offset.", name)
    return ShowtimeSpec(
        movie_pk=query_id(f.movie_id, "Movie", "movieId") if f.movie_id else None,
        cinema_pk=query_id(f.cinema_id, "Cinema", "cinemaId") if f.cinema_id else None,
        city=f.city.strip() if f.city else None,
        starts_after=f.starts_after,
        starts_before=f.starts_before,
        format=f.format or None,
        language=f.language or None,
        status=f.status.value if f.status is not None else None,
        upcoming_only=f.starts_after is None and f.starts_before is None,
    )


class ShowtimeByIdLoader(ContextLoader[int, "Showtime | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Showtime | None]:
        rows = await queries.showtimes_by_ids(self.context.db, keys)
        found = {row.id: showtime_types.Showtime.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class ShowtimeWithSeatStatusesByIdLoader(ContextLoader[int, "Showtime | None"]):
    """Showtimes by id with their compact seat maps for this request's viewer, from one
    statement (`queries.showtimes_with_seat_states`): for `showtime(id:)` when it selects
    `seatStatuses`. Primes ShowtimeByIdLoader and PackedSeatStatesByShowtimeLoader, so the
    field resolves without a statement of its own."""

    typed = False

    async def batch_load_fn(self, keys: list[int]) -> list[Showtime | None]:
        viewer = await self.context.viewer()
        rows = await queries.showtimes_with_seat_states(
            self.context.db, keys, viewer.id if viewer else None, typed=self.typed
        )
        by_id = self.context.loader(ShowtimeByIdLoader)
        packed = self.context.loader(PackedSeatStatesByShowtimeLoader)
        typed = self.context.loader(SeatStatesByShowtimeLoader) if self.typed else None
        prices = self.context.loader(PricesByShowtimeLoader) if self.typed else None
        found: dict[int, Showtime] = {}
        for row, states in rows:
            found[row.id] = showtime = showtime_types.Showtime.from_row(row)
            by_id.prime(row.id, showtime)
            packed.prime(row.id, states)
            if typed is not None and prices is not None:
                typed.prime(row.id, states)
                prices.prime(
                    row.id,
                    _prices(
                        zip(
                            row.price_types or (),
                            row.price_amounts or (),
                            row.price_currencies or (),
                            strict=True,
                        )
                    ),
                )
        return [found.get(k) for k in keys]


class ShowtimeWithSeatMapByIdLoader(ShowtimeWithSeatStatusesByIdLoader):
    """The same for `showtime(id:)` when it selects `seatMap`: the showtime, its seats with
    their states and its prices in one statement; primes SeatStatesByShowtimeLoader and
    PricesByShowtimeLoader too."""

    typed = True


class PricesByShowtimeLoader(ContextLoader[int, "list[ShowtimePrice]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ShowtimePrice]]:
        found: dict[int, list[tuple[str, Decimal, str]]] = defaultdict(list)
        for row in await queries.prices_by_showtime_ids(self.context.db, keys):
            found[row.showtime_id].append((row.seat_type, row.amount, row.currency))
        return [_prices(found.get(k, ())) for k in keys]


def _prices(items: Iterable[tuple[str, Decimal, str]]) -> list[ShowtimePrice]:
    """(seat type, amount, currency) as prices, in seat type order."""
    order = _SEAT_TYPE_ORDER
    return [
        showtime_types.ShowtimePrice(
            seat_type=SeatType(kind), price=Money(amount=amount, currency=currency)
        )
        for kind, amount, currency in sorted(items, key=lambda i: order.get(SeatType(i[0]), 99))
    ]


class _SeatStatesLoader(ContextLoader[int, "queries.SeatStates | None"]):
    """Seat states of each showtime for this request's viewer, one statement for any
    number of showtimes; None for a hall without seats. (`requested`: for
    AvailableSeatCountByShowtimeLoader.)"""

    read = staticmethod(queries.seat_states)

    async def batch_load_fn(self, keys: list[int]) -> list[queries.SeatStates | None]:
        viewer = await self.context.viewer()
        states = await self.read(self.context.db, keys, viewer.id if viewer else None)
        found = {s.showtime_id: s for s in states}
        return [found.get(k) for k in keys]


class SeatStatesByShowtimeLoader(_SeatStatesLoader):
    """Every seat with its status, the typed seat map (`queries.seat_states`)."""


class PackedSeatStatesByShowtimeLoader(_SeatStatesLoader):
    """The compact seat map (`queries.packed_seat_states`: no row labels, numbers, types)."""

    read = staticmethod(queries.packed_seat_states)


class AvailableSeatCountByShowtimeLoader(ContextLoader[int, int]):
    """Available seats per showtime: one grouped statement, or none for the showtimes whose
    seat map the same request reads anyway (typed or packed): counted from those states,
    which are the same snapshot as the map the client gets."""

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        found: dict[int, int] = {}
        read = [
            loader
            for loader in (
                self.context.loader_if_used(SeatStatesByShowtimeLoader),
                self.context.loader_if_used(PackedSeatStatesByShowtimeLoader),
            )
            if loader is not None
        ]
        for key in keys:
            for loader in read:
                if key in loader.requested:
                    states = await loader.requested[key]
                    found[key] = states.available if states is not None else 0
                    break
        rest = [k for k in keys if k not in found]
        if rest:
            for row in await queries.available_seat_counts(self.context.db, rest):
                found[row.id] = int(row.available)
        return [found.get(k, 0) for k in keys]


# --- presale waves and who may buy when ----------------------------------------------------


class PresaleWavesByShowtimeLoader(ContextLoader[int, "list[PresaleWave]"]):
    """Waves by opening time; the codes of PROMO_CODE waves for staff viewers only."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[PresaleWave]]:
        viewer = await self.context.viewer()
        from_row = showtime_types.PresaleWave.from_row
        found: dict[int, list[PresaleWave]] = defaultdict(list)
        for row in await queries.presale_waves_by_showtime_ids(self.context.db, keys):
            found[row.showtime_id].append(from_row(row, viewer))
        return [found.get(k, []) for k in keys]


class PromoCodeIdByCodeLoader(ContextLoader[str, int | None]):
    """Active promo codes by lower-case code (presale access: validity dates don't matter)."""

    async def batch_load_fn(self, keys: list[str]) -> list[int | None]:
        rows = await queries.active_promo_code_ids(self.context.db, keys)
        found = {row.code: int(row.id) for row in rows}
        return [found.get(k) for k in keys]


@dataclass(frozen=True, slots=True)
class OpeningKey:
    """A showtime before its general sale, and the presale code the viewer passed."""

    showtime_pk: int
    sales_open_at: datetime
    promo_code: str | None


class SalesOpeningByShowtimeLoader(ContextLoader[OpeningKey, datetime]):
    """When the sale opens for this request's viewer, for showtimes whose general sale is
    ahead: the earliest of general sale and the presale waves the viewer belongs to (the
    rule of the hold's SQL function `marquee_sales_opening`, migration 0013_presale).
    Anonymous viewers: general sale. The viewer's loyalty points come from the users row
    read with the token; waves and codes are batched."""

    async def batch_load_fn(self, keys: list[OpeningKey]) -> list[datetime]:
        ctx = self.context
        viewer = await ctx.viewer()
        if viewer is None:
            return [k.sales_open_at for k in keys]
        row = ctx.viewer_row
        if row is None:  # the viewer was set by a sign-in mutation, not read with a token
            row = await account_queries.user_row(ctx.db, viewer.id)
        points = int(row.loyalty_points) if row is not None else 0
        waves = await ctx.loader(PresaleWavesByShowtimeLoader).load_many(
            [k.showtime_pk for k in keys]
        )
        codes = sorted({k.promo_code for k in keys if k.promo_code})
        found = await ctx.loader(PromoCodeIdByCodeLoader).load_many(codes)
        active = dict(zip(codes, found, strict=True))
        out: list[datetime] = []
        for key, key_waves in zip(keys, waves, strict=True):
            opening = key.sales_open_at
            for wave in key_waves:
                if wave.opens_at >= opening:
                    continue
                if wave.audience == PresaleAudience.LOYALTY_MEMBERS:
                    qualifies = wave.min_loyalty_points is not None and (
                        points >= wave.min_loyalty_points
                    )
                else:
                    qualifies = (
                        key.promo_code is not None
                        and wave.code_text is not None
                        and wave.code_text.lower() == key.promo_code
                        and active.get(key.promo_code) is not None
                    )
                if qualifies:
                    opening = wave.opens_at
            out.append(opening)
        return out


async def viewer_sales_opening(
    info: Info, showtime: Showtime, promo_code: str | None
) -> datetime | None:
    """When the sale opens for this request's viewer, None once it has opened: their
    opening (`SalesOpeningByShowtimeLoader`), and not before the sales window. Showtimes on
    general sale cost no statement."""
    ctx = info.context
    now = datetime.now(UTC)
    opening = showtime.starts_at - timedelta(days=ctx.settings.sales_window_days)
    sales_open_at = showtime.sales_open_at
    if sales_open_at is not None and sales_open_at > now:
        code = (promo_code or "").strip().lower() or None
        key = OpeningKey(showtime.pk, sales_open_at, code)
        opening = max(opening, await ctx.loader(SalesOpeningByShowtimeLoader).load(key))
    return opening if opening > now else None


# --- nested pages (Cinema.showtimes, Movie.showtimes) ---------------------------------------


@dataclass(frozen=True, slots=True)
class PageKey:
    """One parent's page: the parent ('cinema' or 'movie') and its pk, the filter, the window."""

    parent: Parent
    parent_pk: int
    spec: ShowtimeSpec
    offset: int
    limit: int


class ShowtimePageLoader(ContextLoader[PageKey, "Connection[Showtime]"]):
    """Pages of nested showtime connections, one statement per distinct (filter, window)."""

    async def batch_load_fn(self, keys: list[PageKey]) -> list[Connection[Showtime]]:
        db = self.context.db
        from_row = showtime_types.Showtime.from_row
        groups: dict[tuple[Parent, ShowtimeSpec, int, int], list[int]] = defaultdict(list)
        for k in keys:
            groups[(k.parent, k.spec, k.offset, k.limit)].append(k.parent_pk)
        results: dict[tuple[Parent, ShowtimeSpec, int, int], dict[int, Connection[Showtime]]] = {}
        for group, pks in groups.items():
            parent, spec, offset, limit = group
            if limit > 0:
                rows = await queries.showtime_pages(db, parent, pks, spec, offset, limit)
                totals = {}
            else:
                rows = []
                totals = {
                    r.parent_pk: int(r.total)
                    for r in await queries.showtime_totals(db, parent, pks, spec)
                }
            items: dict[int, list[Showtime]] = defaultdict(list)
            for row in rows:
                items[row.parent_pk].append(from_row(row))
                totals[row.parent_pk] = int(row.total)
            results[group] = {
                pk: build_connection(items.get(pk, []), offset, totals.get(pk, 0)) for pk in pks
            }
        return [results[(k.parent, k.spec, k.offset, k.limit)][k.parent_pk] for k in keys]


def _window(first: int | None, after: str | None) -> tuple[int, int]:
    PageArgs(first=first, after=after)  # validates
    offset = decode_cursor(after, "after") + 1 if after is not None else 0
    return offset, DEFAULT_PAGE if first is None else first


async def nested_page(
    info: Info,
    parent: Parent,
    parent_pk: int,
    spec: ShowtimeSpec,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    offset, limit = _window(first, after)
    key = PageKey(parent, parent_pk, spec, offset, limit)
    return await info.context.loader(ShowtimePageLoader).load(key)


async def cinema_showtimes(
    info: Info,
    cinema_pk: int,
    from_: date | None,
    to: date | None,
    movie_id: str | None,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    if from_ is not None and to is not None:
        if to < from_:
            raise bad_input("`to` is before `from`.", "to")
        if (to - from_).days >= MAX_LOCAL_DAYS:
            raise bad_input(f"At most {MAX_LOCAL_DAYS} days at a time.", "to")
    if from_ is None and to is not None:
        raise bad_input("Give `from` together with `to`.", "from")
    spec = ShowtimeSpec(
        movie_pk=query_id(movie_id, "Movie", "movieId") if movie_id else None,
        local_from=from_,
        local_to=to,
        local_days=True,
    )
    return await nested_page(info, "cinema", cinema_pk, spec, first, after)


async def movie_showtimes(
    info: Info,
    movie_pk: int,
    filter: ShowtimeFilter | None,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    """For `Movie.showtimes(filter)` (the catalog's Movie type delegates here)."""
    spec = replace(spec_from_filter(filter), movie_pk=None)
    return await nested_page(info, "movie", movie_pk, spec, first, after)
