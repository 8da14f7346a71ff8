"""Codes and limits of the pages domain (plain Python, shared by both layers)."""

from enum import StrEnum

SLUG_MAX = 100
TITLE_MAX = 200
BODY_MAX = 100_000
# The same pattern as the table's check constraint (ck_pages_slug): lowercase kebab-case.
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class PageErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    # Another page has this slug.
    ALREADY_EXISTS = "ALREADY_EXISTS"
