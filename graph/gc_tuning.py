"""Garbage collector settings for a serving process (a start-up hook, graph/app.py).

A request allocates thousands of container objects (result dicts, plain objects, rows) that
die by reference counting; with the default thresholds (700, 10, 10) they still trigger a
young collection every ~700 allocations, and every few hundred requests a full collection
that walks every object of the process (the schema, SQLAlchemy's metadata: ~40 ms on the
2-core machine). Measured in one process (bench/README.md, "CPU per request"), the
collector took ~1 ms of each movie page and ~0.5 ms of each seat map.

At start-up: collect once, then `gc.freeze()` what exists (the long-lived objects move to a
permanent generation that full collections skip), and raise the thresholds so that young
collections run every 20,000 allocations and full ones rarely. Cyclic garbage is still
collected. The cleanup restores the previous settings (tests start many apps).
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any

THRESHOLDS = (20_000, 20, 20)


async def tune_gc(state: Any) -> Callable[[], Awaitable[None]]:
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)

    async def restore() -> None:
        gc.set_threshold(*previous)
        gc.unfreeze()

    return restore
