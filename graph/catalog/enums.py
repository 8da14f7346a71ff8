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

# Descriptions of the sorts' values (db/catalog/codes.py cannot import strawberry).
MOVIE_SORT_DESCRIPTIONS = {
    MovieSort.POPULARITY: (
        "All-time popularity, highest first: tickets sold (3 points each), published "
        "reviews (2), favorites and watchlist adds (1), recomputed every few minutes."
    ),
    MovieSort.TRENDING: (
        "Trending now, highest first: the same activity over the last 7 days only, each "
        "event counting half as much every 2 days, recomputed every few minutes."
    ),
    MovieSort.RATING: "Average rating, highest first (unrated last), then review count.",
    MovieSort.NEWEST: "Release date, newest first.",
    MovieSort.TITLE: "Title, A to Z, ignoring case.",
}
for _value in MovieSort.__strawberry_definition__.values:  # type: ignore[attr-defined]
    _value.description = MOVIE_SORT_DESCRIPTIONS[MovieSort(_value.value)]

__all__ = ["CatalogErrorCode", "MovieSort", "WatchlistStatus"]
