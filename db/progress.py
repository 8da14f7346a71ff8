"""How long work in db (seeding the demo data, a TMDb import) reports its steps: the caller
passes a `Progress` (graph/progress.py draws it for a person); db knows no terminal."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int, unit: str) -> None:
        """`total` steps of `unit` (e.g. "steps", "movies") are about to run."""

    def advance(self, what: str) -> None:
        """One more step is done; `what` names it (a seeder, a movie)."""


class NoProgress:
    """For callers that show nothing (the tests, the server)."""

    def start(self, total: int, unit: str) -> None:
        return None

    def advance(self, what: str) -> None:
        return None


NO_PROGRESS = NoProgress()
