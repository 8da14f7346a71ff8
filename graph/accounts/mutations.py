"""Account mutations: thin shells around db.accounts.actions and db.accounts.tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Protocol

import strawberry

from db.accounts import actions, passwordtokens, tokens
from db.errors import DomainError
from db.session import Session
from graph.accounts.enums import AccountErrorCode
from graph.accounts.inputs import (
    ChangePasswordInput,
    CreateUserInput,
    DeleteMyAccountInput,
    DeleteUserInput,
    LoginInput,
    LogoutInput,
    RefreshTokenInput,
    RegisterInput,
    RequestPasswordResetInput,
    ResetPasswordInput,
    SetUserActiveInput,
    SetUserRoleInput,
    UpdateProfileInput,
    UpdateUserInput,
)
from graph.accounts.me import Me
from graph.accounts.ratelimit import (
    enforce_login,
    enforce_password_check,
    enforce_password_redeem,
    enforce_password_reset,
    enforce_profile_change,
    enforce_register,
    login_succeeded,
)
from graph.accounts.types import (
    AccountError,
    AuthPayload,
    ChangePasswordPayload,
    CreateUserPayload,
    DeleteAccountPayload,
    LogoutPayload,
    RequestPasswordResetPayload,
    SetUserActivePayload,
    SetUserRolePayload,
    UpdateProfilePayload,
    UpdateUserPayload,
    User,
)
from graph.auth import IsAdmin, IsAuthenticated, Viewer, create_access_token
from graph.context import Context, Info
from graph.errors import payload_errors, unauthenticated
from graph.relay import decode_id, to_global_id


class _SignedInUser(Protocol):
    """What the actions return of a user who just signed in (its users row)."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


def _errors(exc: DomainError) -> list[AccountError]:
    return payload_errors(exc, AccountError, AccountErrorCode)


def _signed_in(ctx: Context, user: _SignedInUser, token: tokens.IssuedToken) -> AuthPayload:
    ctx.set_viewer(Viewer(id=user.id, username=user.username, role=user.role))
    return AuthPayload(
        access_token=create_access_token(
            user.id, user.role, ctx.settings, session_id=token.family_id
        ),
        refresh_token=token.raw,
        user=Me.from_row(user),
    )


SignIn = Callable[[Session], Awaitable[tuple[_SignedInUser, tokens.IssuedToken]]]


async def _sign_in_by(ctx: Context, action: SignIn) -> AuthPayload:
    """Run an action that ends signed in (register, login, resetPassword) in one
    transaction: its errors, or the new session's tokens."""
    try:
        async with ctx.db.transaction() as session:
            user, refresh = await action(session)
    except DomainError as exc:
        return AuthPayload(errors=_errors(exc))
    return _signed_in(ctx, user, refresh)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(
        self,
        info: Info,
        input: Annotated[
            RegisterInput,
            strawberry.argument(
                description="The new account's username, e-mail, password, and optionally "
                "full name and phone number."
            ),
        ],
    ) -> AuthPayload:
        ctx = info.context
        await enforce_register(ctx, input.email)
        return await _sign_in_by(
            ctx,
            lambda session: actions.sign_up(
                session,
                username=input.username,
                email=input.email,
                password=input.password,
                full_name=input.full_name,
                phone=input.phone,
                phone_region=ctx.settings.default_phone_region,
                refresh_ttl_days=ctx.settings.refresh_token_ttl_days,
            ),
        )

    @strawberry.mutation(
        description="Sign in with a username, e-mail or phone number and a password."
    )
    async def login(
        self,
        info: Info,
        input: Annotated[
            LoginInput,
            strawberry.argument(
                description="The username, e-mail or phone number, and the password."
            ),
        ],
    ) -> AuthPayload:
        ctx = info.context
        backoff_key = await enforce_login(ctx, input.login)
        payload = await _sign_in_by(
            ctx,
            lambda session: actions.login(
                session,
                login=input.login,
                password=input.password,
                refresh_ttl_days=ctx.settings.refresh_token_ttl_days,
                phone_region=ctx.settings.default_phone_region,
            ),
        )
        if not payload.errors:
            await login_succeeded(ctx, backoff_key)
        return payload

    @strawberry.mutation(
        description="Trade a refresh token for a new access token and a new refresh token. "
        "Each refresh token works once; re-using one ends its session."
    )
    async def refresh_token(
        self,
        info: Info,
        input: Annotated[
            RefreshTokenInput, strawberry.argument(description="The refresh token to trade.")
        ],
    ) -> AuthPayload:
        ctx = info.context
        # The rotation commits even when it fails: a re-used token's family stays revoked.
        async with ctx.db.transaction() as session:
            rotation = await tokens.rotate_refresh_token(
                session, input.refresh_token, ttl_days=ctx.settings.refresh_token_ttl_days
            )
        if rotation.error is not None:
            return AuthPayload(errors=_errors(rotation.error))
        assert rotation.user is not None
        assert rotation.token is not None
        return _signed_in(ctx, rotation.user, rotation.token)

    @strawberry.mutation(
        description="End a session (its refresh token) or all sessions; the access tokens of "
        "the ended sessions stop working too. Ending all sessions needs a signed-in viewer or "
        "a live (unused, unexpired) refresh token."
    )
    async def logout(
        self,
        info: Info,
        input: Annotated[
            LogoutInput,
            strawberry.argument(
                description="The session to end (by its refresh token), or all of them."
            ),
        ],
    ) -> LogoutPayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if input.all_sessions and viewer is None and input.refresh_token is None:
            raise unauthenticated("Sign in or give a refresh token to end all sessions.")
        try:
            async with ctx.db.transaction() as session:
                count = await tokens.logout(
                    session,
                    viewer_id=viewer.id if viewer else None,
                    refresh_token=input.refresh_token,
                    all_sessions=input.all_sessions,
                )
        except DomainError as exc:
            return LogoutPayload(errors=_errors(exc))
        return LogoutPayload(sessions_ended=count)

    @strawberry.mutation(
        description="Change the signed-in user's profile.",
        permission_classes=[IsAuthenticated],
    )
    async def update_profile(
        self,
        info: Info,
        input: Annotated[
            UpdateProfileInput, strawberry.argument(description="The profile fields to change.")
        ],
    ) -> UpdateProfilePayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        changes: dict[str, Any] = {
            key: getattr(input, key)
            for key in actions.PROFILE_FIELDS
            if getattr(input, key) is not strawberry.UNSET
        }
        if "email" in changes or "username" in changes or "phone" in changes:
            await enforce_profile_change(ctx, viewer.id, changes.get("email"))
        try:
            async with ctx.db.transaction() as session:
                user = await actions.update_profile(
                    session,
                    user_id=viewer.id,
                    changes=changes,
                    phone_region=ctx.settings.default_phone_region,
                )
        except DomainError as exc:
            return UpdateProfilePayload(errors=_errors(exc))
        ctx.reset_loaders()
        return UpdateProfilePayload(user=Me.from_row(user))

    @strawberry.mutation(
        description="Change the password. Every other session is signed out; this one gets "
        "new tokens in the payload.",
        permission_classes=[IsAuthenticated],
    )
    async def change_password(
        self,
        info: Info,
        input: Annotated[
            ChangePasswordInput,
            strawberry.argument(description="The current and the new password."),
        ],
    ) -> ChangePasswordPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            async with ctx.db.transaction() as session:
                user, refresh = await actions.change_password(
                    session,
                    user_id=viewer.id,
                    current_password=input.current_password,
                    new_password=input.new_password,
                    refresh_ttl_days=ctx.settings.refresh_token_ttl_days,
                )
        except DomainError as exc:
            return ChangePasswordPayload(errors=_errors(exc))
        return ChangePasswordPayload(
            access_token=create_access_token(
                user.id, user.role, ctx.settings, session_id=refresh.family_id
            ),
            refresh_token=refresh.raw,
            user=Me.from_row(user),
        )

    @strawberry.mutation(
        description="Give a user a role (administrators only).", permission_classes=[IsAdmin]
    )
    async def set_user_role(
        self,
        info: Info,
        input: Annotated[
            SetUserRoleInput, strawberry.argument(description="The user and their new role.")
        ],
    ) -> SetUserRolePayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            pk = decode_id(input.user_id, "User", "userId")
            async with ctx.db.transaction() as session:
                user = await actions.set_user_role(
                    session, actor_id=viewer.id, user_id=pk, role=input.role.value
                )
        except DomainError as exc:
            return SetUserRolePayload(errors=_errors(exc))
        ctx.reset_loaders()
        return SetUserRolePayload(user=User.from_row(user, viewer))

    @strawberry.mutation(
        description="Activate or deactivate an account (administrators only). A deactivated "
        "user cannot sign in, and their tokens stop working at their next request.",
        permission_classes=[IsAdmin],
    )
    async def set_user_active(
        self,
        info: Info,
        input: Annotated[
            SetUserActiveInput,
            strawberry.argument(description="The user and whether their account is active."),
        ],
    ) -> SetUserActivePayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            pk = decode_id(input.user_id, "User", "userId")
            async with ctx.db.transaction() as session:
                user = await actions.set_user_active(
                    session, actor_id=viewer.id, user_id=pk, is_active=input.is_active
                )
        except DomainError as exc:
            return SetUserActivePayload(errors=_errors(exc))
        ctx.reset_loaders()
        return SetUserActivePayload(user=User.from_row(user, viewer), is_active=user.is_active)

    @strawberry.mutation(
        description="Change a user's full name, e-mail, phone, role or active flag "
        "(administrators only). Omitted fields stay. An administrator cannot demote or "
        "deactivate themself; deactivation signs the user out everywhere.",
        permission_classes=[IsAdmin],
    )
    async def update_user(
        self,
        info: Info,
        input: Annotated[
            UpdateUserInput, strawberry.argument(description="The user and the fields to change.")
        ],
    ) -> UpdateUserPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        changes: dict[str, Any] = {
            key: getattr(input, key)
            for key in actions.ADMIN_FIELDS
            if getattr(input, key) is not strawberry.UNSET
        }
        if changes.get("role") is not None:
            changes["role"] = changes["role"].value
        try:
            pk = decode_id(input.user_id, "User", "userId")
            async with ctx.db.transaction() as session:
                user = await actions.update_user(
                    session,
                    actor_id=viewer.id,
                    user_id=pk,
                    changes=changes,
                    phone_region=ctx.settings.default_phone_region,
                )
        except DomainError as exc:
            return UpdateUserPayload(errors=_errors(exc))
        ctx.reset_loaders()
        return UpdateUserPayload(user=User.from_row(user, viewer), is_active=user.is_active)

    @strawberry.mutation(
        description="Erase a user's account (administrators only): name, e-mail, phone, "
        "avatar and bio are wiped, the account can no longer sign in and its sessions end; "
        "its reviews stay as anonymous ones and its orders stay for accounting. Idempotent. "
        "Not for your own account (deleteMyAccount).",
        permission_classes=[IsAdmin],
    )
    async def delete_user(
        self,
        info: Info,
        input: Annotated[DeleteUserInput, strawberry.argument(description="The user to erase.")],
    ) -> DeleteAccountPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            pk = decode_id(input.user_id, "User", "userId")
            async with ctx.db.transaction() as session:
                user = await actions.delete_user(session, actor_id=viewer.id, user_id=pk)
        except DomainError as exc:
            return DeleteAccountPayload(errors=_errors(exc))
        ctx.reset_loaders()
        return DeleteAccountPayload(deleted_user_id=strawberry.ID(to_global_id("User", user.id)))

    @strawberry.mutation(
        description="Erase your own account, like deleteUser; confirmed with your password "
        "(rate-limited like sign-in). Every session ends.",
        permission_classes=[IsAuthenticated],
    )
    async def delete_my_account(
        self,
        info: Info,
        input: Annotated[
            DeleteMyAccountInput, strawberry.argument(description="Your current password.")
        ],
    ) -> DeleteAccountPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        await enforce_password_check(ctx, viewer.id)
        try:
            async with ctx.db.transaction() as session:
                user = await actions.delete_own_account(
                    session, user_id=viewer.id, password=input.password
                )
        except DomainError as exc:
            return DeleteAccountPayload(errors=_errors(exc))
        ctx.reset_loaders()
        return DeleteAccountPayload(deleted_user_id=strawberry.ID(to_global_id("User", user.id)))

    @strawberry.mutation(
        description="Create an account (administrators only). It has no password: an "
        "e-mail with a one-time link to choose one goes to its address "
        "(MARQUEE_PASSWORD_SET_TTL_HOURS, 72 by default).",
        permission_classes=[IsAdmin],
    )
    async def create_user(
        self,
        info: Info,
        input: Annotated[CreateUserInput, strawberry.argument(description="The new account.")],
    ) -> CreateUserPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        s = ctx.settings
        try:
            async with ctx.db.transaction() as session:
                user, _ = await actions.create_user(
                    session,
                    username=input.username,
                    email=input.email,
                    full_name=input.full_name,
                    phone=input.phone,
                    role=input.role.value,
                    base_url=s.base_url(),
                    ttl=timedelta(hours=s.password_set_ttl_hours),
                    phone_region=s.default_phone_region,
                )
        except DomainError as exc:
            return CreateUserPayload(errors=_errors(exc))
        return CreateUserPayload(user=User.from_row(user, viewer))

    @strawberry.mutation(
        description="Forgot your password? A one-time link to choose a new one goes to the "
        "e-mail of the account the login names (valid MARQUEE_PASSWORD_RESET_TTL_MINUTES, "
        "60 by default; only the latest link works). The answer is the same whether or not "
        "such an account exists. Rate-limited per client address and per login."
    )
    async def request_password_reset(
        self,
        info: Info,
        input: Annotated[
            RequestPasswordResetInput,
            strawberry.argument(description="The account's username, e-mail or phone."),
        ],
    ) -> RequestPasswordResetPayload:
        ctx = info.context
        s = ctx.settings
        await enforce_password_reset(ctx, input.login)
        async with ctx.db.transaction() as session:
            await actions.request_password_reset(
                session,
                login=input.login,
                base_url=s.base_url(),
                ttl=timedelta(minutes=s.password_reset_ttl_minutes),
                phone_region=s.default_phone_region,
            )
        return RequestPasswordResetPayload(accepted=True)

    @strawberry.mutation(
        description="Choose a password with a password link's token (from createUser or "
        "requestPasswordReset). The link is spent, every session of the account ends, and "
        "you are signed in: the payload has new tokens."
    )
    async def reset_password(
        self,
        info: Info,
        input: Annotated[
            ResetPasswordInput,
            strawberry.argument(description="The link's token and the new password."),
        ],
    ) -> AuthPayload:
        ctx = info.context
        await enforce_password_redeem(ctx)
        return await _sign_in_by(
            ctx,
            lambda session: passwordtokens.redeem(
                session,
                raw=input.token,
                new_password=input.new_password,
                refresh_ttl_days=ctx.settings.refresh_token_ttl_days,
            ),
        )
