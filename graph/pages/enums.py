"""GraphQL enums of the pages domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.pages.codes import PageErrorCode

strawberry.enum(PageErrorCode, description="Codes of page mutation errors.")

__all__ = ["PageErrorCode"]
