"""Staff actions on cinemas, halls and showtimes: plain async functions on a session."""

from db.cinemas.actions.cinemas import UNSET, CinemaFields, create_cinema, update_cinema
from db.cinemas.actions.halls import bump_sequences, create_hall, update_hall, update_hall_layout
from db.cinemas.actions.showtimes import (
    PriceSpec,
    cancel_showtime,
    create_showtime,
    update_showtime,
)

__all__ = [
    "UNSET",
    "CinemaFields",
    "PriceSpec",
    "bump_sequences",
    "cancel_showtime",
    "create_cinema",
    "create_hall",
    "create_showtime",
    "update_cinema",
    "update_hall",
    "update_hall_layout",
    "update_showtime",
]
