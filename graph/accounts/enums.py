"""The account enums as GraphQL enums. Import them from here (not from db.accounts.codes) in
graph modules, so they are registered with strawberry before any type refers to them."""

from __future__ import annotations

import strawberry

from db.accounts.codes import AccountErrorCode, Gender, Role

strawberry.enum(Role, description="What a user may do.")
strawberry.enum(Gender, description="Gender, as the user chose to give it.")
strawberry.enum(AccountErrorCode, description="Codes of account mutation errors.")

__all__ = ["AccountErrorCode", "Gender", "Role"]
