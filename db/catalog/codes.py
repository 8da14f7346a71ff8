"""Codes and enumerations of the catalog domain."""

from enum import StrEnum


class CatalogErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    TMDB_NOT_CONFIGURED = "TMDB_NOT_CONFIGURED"
    TMDB_UNAVAILABLE = "TMDB_UNAVAILABLE"


class WatchlistStatus(StrEnum):
    WANT_TO_WATCH = "WANT_TO_WATCH"
    WATCHING = "WATCHING"
    WATCHED = "WATCHED"


class MovieSort(StrEnum):
    POPULARITY = "POPULARITY"
    TRENDING = "TRENDING"
    RATING = "RATING"
    NEWEST = "NEWEST"
    TITLE = "TITLE"
