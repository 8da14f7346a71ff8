"""Codes and enumerations of the reviews domain."""

from enum import StrEnum


class ReviewErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    OWN_REVIEW = "OWN_REVIEW"
    # Raised by actions for ownership failures; the API turns it into a top-level FORBIDDEN.
    FORBIDDEN = "FORBIDDEN"


class ReviewStatus(StrEnum):
    PUBLISHED = "PUBLISHED"
    HIDDEN = "HIDDEN"


class ReviewSort(StrEnum):
    NEWEST = "NEWEST"
    MOST_HELPFUL = "MOST_HELPFUL"
    HIGHEST = "HIGHEST"
    LOWEST = "LOWEST"
