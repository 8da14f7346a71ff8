"""GraphQL enums of the catalog domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.catalog.codes import CatalogErrorCode, MovieSort, WatchlistStatus

strawberry.enum(CatalogErrorCode, description="Codes of catalog mutation errors.")
strawberry.enum(WatchlistStatus, description="Where a movie stands on a user's watchlist.")
strawberry.enum(
    MovieSort,
    description="Orders of the movie list; ties are broken by ID, so paging is stable.",
)

__all__ = ["CatalogErrorCode", "MovieSort", "WatchlistStatus"]
