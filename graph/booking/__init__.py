"""GraphQL layer of booking: holdSeats, releaseHold and the seatAvailability subscription."""
