"""GraphQL types of the accounts domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from db.accounts.codes import AccountErrorCode, Gender, Role
from graph.relay import Node, to_global_id

strawberry.enum(Role, description="What a user may do.")
strawberry.enum(Gender, description="Gender, as the user chose to give it.")
strawberry.enum(AccountErrorCode, description="Codes of account mutation errors.")


@strawberry.type(description="A person with an account.")
class User(Node):
    pk: strawberry.Private[int]
    username: str = strawberry.field(description="Unique, case-insensitive handle.")
    full_name: str | None = strawberry.field(description="Full name.")
    avatar_url: str | None = strawberry.field(description="Avatar image URL.")
    bio: str | None = strawberry.field(description="A short text about the user.")
    role: Role = strawberry.field(description="CUSTOMER, MANAGER or ADMIN.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            pk=row.id,
            username=row.username,
            full_name=row.full_name,
            avatar_url=row.avatar_url,
            bio=row.bio,
            role=Role(row.role),
            created_at=row.created_at,
        )


@strawberry.type(description="The signed-in user, with private fields.")
class Me(User):
    email: str = strawberry.field(description="E-mail address (private).")
    birth_date: date | None = strawberry.field(description="Birth date (private).")
    gender: Gender | None = strawberry.field(description="Gender (private).")
    is_active: bool = strawberry.field(description="Whether the account may sign in.")
    loyalty_points: int = strawberry.field(description="Loyalty points earned by purchases.")
    total_spent: Decimal = strawberry.field(description="Total paid for orders.")

    @classmethod
    def from_row(cls, row: Any) -> Me:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            pk=row.id,
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
        )


@strawberry.type(description="An expected failure of an account mutation.")
class AccountError:
    code: AccountErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of register, login and refreshToken.")
class AuthPayload:
    access_token: str | None = strawberry.field(description="JWT for `Authorization: Bearer`.")
    refresh_token: str | None = strawberry.field(description="Opaque token for refreshToken.")
    user: Me | None = strawberry.field(description="The signed-in user.")
    errors: list[AccountError] = strawberry.field(description="Empty on success.")
