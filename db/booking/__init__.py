"""Seat holds and seat occupancy (the table that forbids double booking)."""
