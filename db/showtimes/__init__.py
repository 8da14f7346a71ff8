"""Showtimes: screenings of a movie in a hall, their prices and their seat states."""
