"""The reports enums as GraphQL enums (registered here, imported from here by graph modules)."""

from __future__ import annotations

import strawberry

from db.reports.codes import SalesGroupBy

strawberry.enum(
    SalesGroupBy,
    description="What a sales report's rows are: local days, movies, cinemas or products.",
)

__all__ = ["SalesGroupBy"]
