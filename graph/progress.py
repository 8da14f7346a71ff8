"""Progress and summaries of the long commands (`marquee seed`, `serve --demo`, `import-tmdb`)
for the person watching: a tqdm bar when stderr is a terminal, a few plain lines otherwise
(a log file, CI); the summary goes to stdout, the command's result."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from tqdm import tqdm  # type: ignore[import-untyped]


class Progress:
    """A `db.progress.Progress` on `stream` (stderr). Without a terminal it writes
    `<label>: 3/7 <what>` for every step of a short job and about every `every_percent`
    of a long one, always the last. The bar is redrawn at most every `redraw_seconds`."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        every_percent: int = 10,
        redraw_seconds: float = 0.1,
    ) -> None:
        self.label = label
        self.redraw_seconds = redraw_seconds
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.every_percent = every_percent
        self.total = 0
        self.done = 0
        self.bar: Any = None

    def start(self, total: int, unit: str) -> None:
        self.close()
        self.total, self.done = total, 0
        if self.tty and total:
            # leave=False: the finished bar is wiped, and the summary takes its place.
            self.bar = tqdm(
                total=total,
                desc=self.label,
                unit=f" {unit}",
                file=self.stream,
                leave=False,
                mininterval=self.redraw_seconds,
            )

    def advance(self, what: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(1)
            if self.done >= self.total:
                self.close()
            return
        if self._crosses_a_line():
            print(f"{self.label}: {self.done}/{self.total} {what}", file=self.stream, flush=True)

    def _crosses_a_line(self) -> bool:
        if self.done >= self.total:
            return True
        step = self.every_percent
        return self.done * 100 // self.total // step > (self.done - 1) * 100 // self.total // step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class Stopwatch:
    """The elapsed time a summary quotes."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def summary(label: str, what: str, seconds: float) -> str:
    """The last line of a command: `seed: created 6 users, 20 movies in 4.2 s`."""
    return f"{label}: {what} in {seconds:.1f} s"


def counted(counts: Mapping[str, int]) -> str:
    """`6 users, 1,260 showtimes`, leaving out what is zero (`nothing` if all are)."""
    return ", ".join(f"{n:,} {name}" for name, n in counts.items() if n) or "nothing"
