"""Imports every domain's models so `Base.metadata` is complete (alembic, tests)."""

from db.accounts import models as accounts_models
from db.base import Base

__all__ = ["Base", "accounts_models"]
