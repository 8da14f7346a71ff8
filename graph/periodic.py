"""Background jobs that run every so often in each server process (the hold sweeper, the
trending refresher): one loop, one way to start and stop them.

A job that must run on one instance at a time takes its own PostgreSQL advisory lock in its
transaction (db/booking/actions.py, db/catalog/actions.py): every process runs the loop,
and the ones that find the lock taken skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

Job = Callable[[], Awaitable[Any]]
Stop = Callable[[], Awaitable[None]]


async def repeat(
    job: Job, interval: float, *, what: str, log: logging.Logger, wait_first: bool
) -> None:
    """Run `job` every `interval` seconds until cancelled (the first time at once, or after
    one interval with `wait_first`). A failing round is logged and the loop goes on: the
    database may be restarting."""
    if wait_first:
        await asyncio.sleep(interval)
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed: %s", what, exc)
        await asyncio.sleep(interval)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for it to end (one that has ended already is left
    as it is)."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def start_periodic(
    job: Job,
    interval: float,
    *,
    name: str,
    what: str,
    log: logging.Logger,
    wait_first: bool = False,
) -> Stop:
    """Start `job` as a task named `name` (nothing when `interval` <= 0: the job is off in
    this process); returns the start-up hook's stop function."""
    task = (
        asyncio.create_task(
            repeat(job, interval, what=what, log=log, wait_first=wait_first), name=name
        )
        if interval > 0
        else None
    )

    async def stop() -> None:
        await stop_task(task)

    return stop
