"""The signed-in user's own view of their account: `me`, and the user of the sign-in payloads."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from db.orders.queries import spending_currency
from graph.accounts.enums import Gender, Role
from graph.accounts.types import User, display_name
from graph.catalog.loader_futures import deferred
from graph.catalog.queries import viewer_favorites, viewer_watchlist
from graph.orders.queries import viewer_orders, viewer_tickets
from graph.pagination import Connection, PageArgs
from graph.relay import to_global_id
from graph.reviews import loaders as review_loaders
from graph.scalars import Money

if TYPE_CHECKING:
    from graph.auth import Viewer
    from graph.catalog.enums import WatchlistStatus
    from graph.catalog.types import Movie, WatchlistEntry
    from graph.orders.enums import OrderStatus
    from graph.orders.types import Order, Ticket
    from graph.reviews.types import Review


@strawberry.type(description="The signed-in user, with private fields.")
class Me(User):
    username: str = strawberry.field(description="Unique, case-insensitive handle.")
    role: Role = strawberry.field(description="CUSTOMER, MANAGER or ADMIN.")
    created_at: datetime = strawberry.field(description="When the account was created.")
    email: str = strawberry.field(description="E-mail address (private).")
    birth_date: date | None = strawberry.field(description="Birth date (private).")
    gender: Gender | None = strawberry.field(description="Gender (private).")
    is_active: bool = strawberry.field(description="Whether the account may sign in.")
    sms_opt_in: bool = strawberry.field(
        description="Whether booking confirmations and showtime-cancelled notices also go "
        "to your phone by SMS (private; set with updateProfile)."
    )
    loyalty_points: int = strawberry.field(description="Loyalty points earned by purchases.")
    spent: strawberry.Private[Decimal]
    updated_at: datetime = strawberry.field(description="When the account last changed.")
    last_login_at: datetime | None = strawberry.field(description="When the user last signed in.")

    @strawberry.field(
        description="Total paid for orders, less refunds, in the currency of your latest "
        "order (MARQUEE_CURRENCY before any): amounts are summed as paid, not converted."
    )
    async def total_spent(self, info: strawberry.Info) -> Money:
        currency = await spending_currency(info.context.db, self.pk)
        return Money(amount=self.spent, currency=currency or info.context.settings.currency)

    @strawberry.field(description="Your orders, newest first.")
    async def orders(
        self,
        info: strawberry.Info,
        status: Annotated[
            Annotated[OrderStatus, strawberry.lazy("graph.orders.enums")] | None,
            strawberry.argument(description="Only orders with this status."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Order, strawberry.lazy("graph.orders.types")]]:
        return await viewer_orders(info, self.pk, status, first, after)

    @strawberry.field(description="Your tickets, newest first.")
    async def tickets(
        self,
        info: strawberry.Info,
        upcoming: Annotated[
            bool | None,
            strawberry.argument(
                description="true: showtimes not over yet; false: past ones; null: all."
            ),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Ticket, strawberry.lazy("graph.orders.types")]]:
        return await viewer_tickets(info, self.pk, upcoming, first, after)

    # Catalog lists of the signed-in user (owned by the catalog domain: graph/catalog/queries).
    @strawberry.field(description="Favorite movies, most recently added first.")
    async def favorites(
        self,
        info: strawberry.Info,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Movie, strawberry.lazy("graph.catalog.types")]]:
        return await viewer_favorites(info, self.pk, first, after)

    @strawberry.field(description="Watchlist entries, most recently changed first.")
    async def watchlist(
        self,
        info: strawberry.Info,
        status: Annotated[
            Annotated[WatchlistStatus, strawberry.lazy("graph.catalog.enums")] | None,
            strawberry.argument(description="Only entries with this status."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[WatchlistEntry, strawberry.lazy("graph.catalog.types")]]:
        return await viewer_watchlist(info, self.pk, status, first, after)

    @strawberry.field(
        description="Your reviews, newest first: all of them, including those a moderator "
        "hid and those published anonymously (`User.reviews` lists only what anyone may see)."
    )
    def reviews(
        self,
        info: strawberry.Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (at most 100).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Review, strawberry.lazy("graph.reviews.types")]]:
        offset, limit = PageArgs(first=first, after=after).window()
        loader = info.context.loader(review_loaders.ReviewsByUserIdLoader)
        return cast("Connection[Review]", deferred(loader.load((self.pk, True, offset, limit))))

    @classmethod
    def from_row(cls, row: Any, viewer: Viewer | None = None) -> Me:
        """Only ever built for the signed-in user themself (`viewer` is not consulted)."""
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            pk=row.id,
            display_name=display_name(row.full_name),
            username=row.username,
            full_name=row.full_name,
            avatar_url=row.avatar_url,
            bio=row.bio,
            phone=row.phone,
            role=Role(row.role),
            created_at=row.created_at,
            email=row.email,
            birth_date=row.birth_date,
            gender=Gender(row.gender) if row.gender else None,
            is_active=row.is_active,
            sms_opt_in=row.sms_opt_in,
            loyalty_points=row.loyalty_points,
            spent=row.total_spent,
            updated_at=row.updated_at,
            last_login_at=row.last_login_at,
        )
