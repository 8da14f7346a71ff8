"""GraphQL types of the accounts domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from graph.accounts.enums import AccountErrorCode, Gender, Role
from graph.pagination import Connection
from graph.relay import Node, to_global_id

if TYPE_CHECKING:
    from graph.auth import Viewer
    from graph.catalog.enums import WatchlistStatus
    from graph.catalog.types import Movie, WatchlistEntry


# What others see of a user who gave no full name (the username is private).
ANONYMOUS_DISPLAY_NAME = "Marquee member"


def display_name(full_name: str | None) -> str:
    return (full_name or "").strip() or ANONYMOUS_DISPLAY_NAME


@strawberry.type(
    description="A person with an account. Everyone sees the public profile (displayName, "
    "fullName, avatarUrl); username, role, bio and createdAt are shown only to the user "
    "themself and to staff, and are null for everyone else."
)
class User(Node):
    pk: strawberry.Private[int]
    display_name: str = strawberry.field(
        description="The name shown with the user's reviews: the full name, or a neutral "
        f'"{ANONYMOUS_DISPLAY_NAME}" when none is given.'
    )
    full_name: str | None = strawberry.field(description="Full name (public).")
    avatar_url: str | None = strawberry.field(description="Avatar image URL (public).")
    username: str | None = strawberry.field(
        description="Unique, case-insensitive handle (the user themself and staff only)."
    )
    bio: str | None = strawberry.field(
        description="A short text about the user (the user themself and staff only)."
    )
    role: Role | None = strawberry.field(
        description="CUSTOMER, MANAGER or ADMIN (the user themself and staff only)."
    )
    created_at: datetime | None = strawberry.field(
        description="When the account was created (the user themself and staff only)."
    )

    @classmethod
    def from_row(cls, row: Any, viewer: Viewer | None = None) -> User:
        """The user as `viewer` may see them: private fields only for the user themself and
        for staff (decided here, once per object, so the fields stay plain attributes)."""
        private = viewer is not None and (viewer.is_staff or viewer.id == row.id)
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            pk=row.id,
            display_name=display_name(row.full_name),
            full_name=row.full_name,
            avatar_url=row.avatar_url,
            username=row.username if private else None,
            bio=row.bio if private else None,
            role=Role(row.role) if private else None,
            created_at=row.created_at if private else None,
        )


@strawberry.type(description="The signed-in user, with private fields.")
class Me(User):
    username: str = strawberry.field(description="Unique, case-insensitive handle.")
    role: Role = strawberry.field(description="CUSTOMER, MANAGER or ADMIN.")
    created_at: datetime = strawberry.field(description="When the account was created.")
    email: str = strawberry.field(description="E-mail address (private).")
    birth_date: date | None = strawberry.field(description="Birth date (private).")
    gender: Gender | None = strawberry.field(description="Gender (private).")
    is_active: bool = strawberry.field(description="Whether the account may sign in.")
    loyalty_points: int = strawberry.field(description="Loyalty points earned by purchases.")
    total_spent: Decimal = strawberry.field(description="Total paid for orders.")
    updated_at: datetime = strawberry.field(description="When the account last changed.")
    last_login_at: datetime | None = strawberry.field(description="When the user last signed in.")

    # Catalog lists of the signed-in user (owned by the catalog domain: graph/catalog/queries).
    @strawberry.field(description="Favorite movies, most recently added first.")
    async def favorites(
        self,
        info: strawberry.Info,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Movie, strawberry.lazy("graph.catalog.types")]]:
        from graph.catalog.queries import viewer_favorites

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
        from graph.catalog.queries import viewer_watchlist

        return await viewer_watchlist(info, self.pk, status, first, after)

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
            role=Role(row.role),
            created_at=row.created_at,
            email=row.email,
            birth_date=row.birth_date,
            gender=Gender(row.gender) if row.gender else None,
            is_active=row.is_active,
            loyalty_points=row.loyalty_points,
            total_spent=row.total_spent,
            updated_at=row.updated_at,
            last_login_at=row.last_login_at,
        )


@strawberry.type(description="An expected failure of an account mutation.")
class AccountError:
    code: AccountErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of register, login and refreshToken.")
class AuthPayload:
    access_token: str | None = strawberry.field(
        default=None, description="JWT for `Authorization: Bearer` (short-lived)."
    )
    refresh_token: str | None = strawberry.field(
        default=None, description="Opaque token for refreshToken; single use, rotated."
    )
    user: Me | None = strawberry.field(default=None, description="The signed-in user.")
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="Result of logout.")
class LogoutPayload:
    sessions_ended: int = strawberry.field(
        default=0, description="Sessions signed out (0 if the session had already ended)."
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="Result of updateProfile.")
class UpdateProfilePayload:
    user: Me | None = strawberry.field(default=None, description="The updated account.")
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(
    description="Result of changePassword: every other session is ended, and this one "
    "gets fresh tokens."
)
class ChangePasswordPayload:
    access_token: str | None = strawberry.field(default=None, description="A new access token.")
    refresh_token: str | None = strawberry.field(
        default=None, description="A new refresh token (the old ones are revoked)."
    )
    user: Me | None = strawberry.field(default=None, description="The account.")
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="Result of setUserRole.")
class SetUserRolePayload:
    user: User | None = strawberry.field(default=None, description="The changed user.")
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="Result of setUserActive.")
class SetUserActivePayload:
    user: User | None = strawberry.field(default=None, description="The changed user.")
    is_active: bool | None = strawberry.field(
        default=None, description="Whether the account may now sign in."
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="One tick of the serverTime subscription.")
class ServerTick:
    tick: int = strawberry.field(description="1 for the first event, then +1.")
    time: datetime = strawberry.field(description="The server's clock.")
    viewer: User | None = strawberry.field(
        description="The user the connection is signed in as (connection_init), or null."
    )
