"""Change announcements: the tables whose changes PostgreSQL announces on `CHANGES_CHANNEL`.

Statement-level triggers (migration 0021_change_notify) call `pg_notify(CHANGES_CHANNEL,
<table name>)` in the writing transaction, so an announcement is delivered only when the
change is committed, once per table and transaction. The response cache
(graph/response_cache.py) listens and drops what depends on the table. A table listed
with columns announces an UPDATE only when it sets one of them: the others are written
on every sale (a showtime's seat sequence, a customer's loyalty points) and nothing
cached reads them.
"""

from __future__ import annotations

CHANGES_CHANNEL = "marquee_changes"

# table -> the columns whose UPDATE is announced (None: every UPDATE).
ANNOUNCED: dict[str, tuple[str, ...] | None] = {
    "movies": None,
    "genres": None,
    "movie_genres": None,
    "reviews": None,
    "users": ("full_name", "avatar_url"),
    "cinemas": None,
    "halls": None,
    "seats": None,
    "showtimes": (
        "movie_id",
        "hall_id",
        "starts_at",
        "ends_at",
        "format",
        "language",
        "subtitles",
        "status",
        "sales_open_at",
    ),
    "showtime_prices": None,
}
