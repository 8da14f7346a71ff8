"""Cinemas, halls with seat layouts, showtimes and their prices."""
