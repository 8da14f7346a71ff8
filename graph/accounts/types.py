"""GraphQL types of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from graph.accounts.enums import AccountErrorCode, Role
from graph.catalog.loader_futures import deferred
from graph.pagination import Connection, PageArgs
from graph.relay import Node, to_global_id
from graph.reviews import loaders as review_loaders

if TYPE_CHECKING:
    from graph.accounts.me import Me
    from graph.auth import Viewer
    from graph.reviews.types import Review

# `Me` lives in graph/accounts/me.py: its catalog lists need graph.catalog, which needs
# `User` from here; so the payloads below refer to it lazily.


# What others see of a user who gave no full name (the username is private).
ANONYMOUS_DISPLAY_NAME = "Marquee member"


def display_name(full_name: str | None) -> str:
    return (full_name or "").strip() or ANONYMOUS_DISPLAY_NAME


class _Attributes:
    """An object's attributes read like a row's mapping (`m["name"]`)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __getitem__(self, name: str) -> Any:
        return getattr(self.obj, name)


@strawberry.type(
    description="A person with an account. Everyone sees the public profile (displayName, "
    "fullName, avatarUrl); username, phone, role, bio and createdAt are shown only to the "
    "user themself and to staff, and are null for everyone else."
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
    phone: str | None = strawberry.field(
        description="Phone number in E.164 form, such as +33612345678, or null when none is "
        "given (the user themself and staff only). Unique: one account per number; it can "
        "be used to sign in."
    )
    role: Role | None = strawberry.field(
        description="CUSTOMER, MANAGER or ADMIN (the user themself and staff only)."
    )
    created_at: datetime | None = strawberry.field(
        description="When the account was created (the user themself and staff only)."
    )

    @strawberry.field(
        description="The user's reviews that anyone may see, newest first: published ones "
        "not posted anonymously (to everyone, signed in or not; `me { reviews }` lists all "
        "of your own)."
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
        return cast("Connection[Review]", deferred(loader.load((self.pk, False, offset, limit))))

    @classmethod
    def from_row(cls, row: Any, viewer: Viewer | None = None) -> User:
        """The user as `viewer` may see them: private fields only for the user themself and
        for staff (decided here, once per object, so the fields stay plain attributes)."""
        # A row's mapping when it has one (by name: much faster than attributes, see
        # db/session.py Record); an ORM instance (mutations) by attribute.
        m = getattr(row, "_mapping", None)
        if m is None:
            m = _Attributes(row)
        pk = m["id"]
        private = viewer is not None and (viewer.is_staff or viewer.id == pk)
        full_name = m["full_name"]
        return cls(
            id=strawberry.ID(to_global_id("User", pk)),
            pk=pk,
            display_name=display_name(full_name),
            full_name=full_name,
            avatar_url=m["avatar_url"],
            username=m["username"] if private else None,
            bio=m["bio"] if private else None,
            phone=m["phone"] if private else None,
            role=Role(m["role"]) if private else None,
            created_at=m["created_at"] if private else None,
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
    user: Annotated[Me, strawberry.lazy("graph.accounts.me")] | None = strawberry.field(
        default=None, description="The signed-in user."
    )
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
    user: Annotated[Me, strawberry.lazy("graph.accounts.me")] | None = strawberry.field(
        default=None, description="The updated account."
    )
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
    user: Annotated[Me, strawberry.lazy("graph.accounts.me")] | None = strawberry.field(
        default=None, description="The account."
    )
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


@strawberry.type(description="Result of updateUser.")
class UpdateUserPayload:
    user: User | None = strawberry.field(default=None, description="The changed user.")
    is_active: bool | None = strawberry.field(
        default=None, description="Whether the account may now sign in."
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(
    description="Result of deleteUser and deleteMyAccount: the account's personal data is "
    "erased, its reviews stay as anonymous ones and its orders stay for accounting."
)
class DeleteAccountPayload:
    deleted_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global ID of the erased account."
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(description="Result of createUser.")
class CreateUserPayload:
    user: User | None = strawberry.field(
        default=None,
        description="The new account. It cannot sign in until its owner has chosen a "
        "password through the link e-mailed to them.",
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )


@strawberry.type(
    description="Result of requestPasswordReset. The answer is the same whether or not an "
    "account matched (nobody learns which logins exist)."
)
class RequestPasswordResetPayload:
    accepted: bool = strawberry.field(
        default=False,
        description="True when the request was taken: if the login names an active "
        "account, a reset link is on its way to the account's e-mail.",
    )
    errors: list[AccountError] = strawberry.field(
        default_factory=list, description="Empty on success."
    )
