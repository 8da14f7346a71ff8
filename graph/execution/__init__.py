"""How operations are executed: the ready-value API resolvers use (ready.py), the fast path
for objects and lists whose values are already there (fast.py, plans.py), and the choice
of execution context, which falls back to graphql-core's ordinary completion when the
internals the fast path relies on are not as expected (compat.py) or when
MARQUEE_FAST_EXECUTION is off."""

from __future__ import annotations

from typing import Any

from graph.execution import compat
from graph.execution.ready import NOT_READY, READY_VALUE, ReadyGetter, ready_value
from graph.settings import Settings

__all__ = ["NOT_READY", "READY_VALUE", "ReadyGetter", "execution_context_for", "ready_value"]


def execution_context_for(settings: Settings, report: compat.Report | None = None) -> Any:
    """The execution context class for the schema: the fast path; without it (setting off,
    or compat's fast checks failed) SharedEventExecution, i.e. graphql-core's ordinary
    completion with subscription events shared; None (strawberry's default) when even the
    shared events' checks failed."""
    report = compat.REPORT if report is None else report
    if report.shared:
        return None
    if report.fast or not settings.fast_execution:
        from graph.realtime import SharedEventExecution

        return SharedEventExecution
    from graph.execution.fast import FastListExecution

    return FastListExecution
