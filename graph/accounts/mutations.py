"""Account mutations: thin shells around db.accounts.actions."""

from __future__ import annotations

import strawberry

from db.accounts import actions
from db.accounts.codes import AccountErrorCode
from db.errors import DomainError
from graph.accounts.types import AccountError, AuthPayload, Me
from graph.auth import Viewer, create_access_token
from graph.context import Info
from graph.errors import payload_errors


@strawberry.input(description="A new account.")
class RegisterInput:
    username: str = strawberry.field(description="3 to 32 of a-z, 0-9, '_' and '.'.")
    email: str = strawberry.field(description="E-mail address.")
    password: str = strawberry.field(description="8 to 128 characters.")
    full_name: str | None = strawberry.field(default=None, description="Full name.")


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                user = await actions.register(
                    session,
                    username=input.username,
                    email=input.email,
                    password=input.password,
                    full_name=input.full_name,
                )
        except DomainError as exc:
            return AuthPayload(
                access_token=None,
                refresh_token=None,
                user=None,
                errors=payload_errors(exc, AccountError, AccountErrorCode),
            )
        ctx.set_viewer(Viewer(id=user.id, username=user.username, role=user.role))
        return AuthPayload(
            access_token=create_access_token(user.id, user.role, ctx.settings),
            refresh_token=None,  # TODO(accounts): issue a refresh token family
            user=Me.from_row(user),
            errors=[],
        )
