"""Inputs of the account mutations."""

from __future__ import annotations

from datetime import date

import strawberry

from graph.accounts.enums import Gender, Role

PHONE_INPUT = (
    "Optional phone number: international with '+' and the country code "
    "(+33 6 12 34 56 78), or national (the server's default region, "
    "MARQUEE_DEFAULT_PHONE_REGION, US unless configured). Spaces, dots, dashes and "
    "parentheses are ignored; it is stored in E.164 form (+33612345678) and must not "
    "belong to another account."
)


@strawberry.input(description="A new account.")
class RegisterInput:
    username: str = strawberry.field(description="3 to 32 of a-z, 0-9, '_' and '.'.")
    email: str = strawberry.field(description="E-mail address.")
    password: str = strawberry.field(description="8 to 128 characters.")
    full_name: str | None = strawberry.field(default=None, description="Full name.")
    phone: str | None = strawberry.field(
        default=None,
        description=PHONE_INPUT,
    )


@strawberry.input(description="Sign in with a username, an e-mail address or a phone number.")
class LoginInput:
    login: str = strawberry.field(
        description="Username or e-mail (case-insensitive), or phone number (any format "
        "accepted by `phone` in register, such as +33 6 12 34 56 78)."
    )
    password: str = strawberry.field(description="The password.")


@strawberry.input(description="Trade a refresh token for new tokens.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The latest refresh token of a session.")


@strawberry.input(description="End one session (by its refresh token) or all of them.")
class LogoutInput:
    refresh_token: str | None = strawberry.field(
        default=None, description="The refresh token of the session to end."
    )
    all_sessions: bool = strawberry.field(
        default=False,
        description="End every session of the user (needs a signed-in viewer or a refresh token).",
    )


@strawberry.input(description="Profile fields to change; omitted fields stay, null clears.")
class UpdateProfileInput:
    username: str | None = strawberry.field(
        default=strawberry.UNSET, description="New username (cannot be null)."
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="New e-mail address (cannot be null)."
    )
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=PHONE_INPUT + " Null or an empty string clears it (and the SMS opt-in).",
    )
    sms_opt_in: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Receive the booking confirmation and showtime-cancelled notices by SMS "
        "too (needs a phone: true without one is a VALIDATION_ERROR on smsOptIn); null or "
        "false opts out.",
    )
    full_name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    birth_date: date | None = strawberry.field(default=strawberry.UNSET, description="Birth date.")
    gender: Gender | None = strawberry.field(default=strawberry.UNSET, description="Gender.")
    avatar_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="An http(s) URL of an image."
    )
    bio: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 2000 characters."
    )


@strawberry.input(description="Change the password; other sessions are signed out.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password in use now.")
    new_password: str = strawberry.field(description="8 to 128 characters.")


@strawberry.input(description="Give a user a role (administrators only).")
class SetUserRoleInput:
    user_id: strawberry.ID = strawberry.field(description="The user's global ID.")
    role: Role = strawberry.field(description="The new role.")


@strawberry.input(description="Activate or deactivate an account (administrators only).")
class SetUserActiveInput:
    user_id: strawberry.ID = strawberry.field(description="The user's global ID.")
    is_active: bool = strawberry.field(
        description="False signs the user out everywhere and stops their access tokens."
    )


@strawberry.input(description="Change a user's account (administrators only); omitted fields stay.")
class UpdateUserInput:
    user_id: strawberry.ID = strawberry.field(description="The user's global ID.")
    full_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Full name; null clears it."
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="New e-mail address (cannot be null)."
    )
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description=PHONE_INPUT + " Null or an empty string clears it."
    )
    role: Role | None = strawberry.field(
        default=strawberry.UNSET,
        description="New role (an administrator cannot remove their own ADMIN role).",
    )
    is_active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="False signs the user out everywhere (not for your own account).",
    )


@strawberry.input(description="Erase a user's account (administrators only).")
class DeleteUserInput:
    user_id: strawberry.ID = strawberry.field(description="The user's global ID.")


@strawberry.input(description="Erase your own account, confirmed with your password.")
class DeleteMyAccountInput:
    password: str = strawberry.field(description="Your current password.")


@strawberry.input(description="A new account, created by an administrator.")
class CreateUserInput:
    username: str = strawberry.field(description="3 to 32 of a-z, 0-9, '_' and '.'.")
    email: str = strawberry.field(
        description="E-mail address; the link to choose a password is sent there."
    )
    full_name: str | None = strawberry.field(default=None, description="Full name.")
    phone: str | None = strawberry.field(
        default=None, description="Phone number (E.164, or national in the default region)."
    )
    role: Role = strawberry.field(default=Role.CUSTOMER, description="The account's role.")


@strawberry.input(description="Ask for a link to choose a new password.")
class RequestPasswordResetInput:
    login: str = strawberry.field(description="The account's username, e-mail or phone number.")


@strawberry.input(description="Choose a password with the token of a password link.")
class ResetPasswordInput:
    token: str = strawberry.field(
        description="The token of the link (after `#token=` in the e-mailed address)."
    )
    new_password: str = strawberry.field(description="8 to 128 characters.")
