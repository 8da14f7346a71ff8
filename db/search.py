"""Text search helpers shared by the domains' queries."""

from __future__ import annotations


def escape_like(value: str) -> str:
    """`value` with LIKE's wildcards (`%`, `_`) and the escape character itself escaped, for
    a pattern used with PostgreSQL's default escape character (backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(term: str) -> str:
    """A LIKE/ILIKE pattern matching text that contains `term` literally (trimmed)."""
    return f"%{escape_like(term.strip())}%"
