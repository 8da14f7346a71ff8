"""Ready values: how a resolver declares the value it would return without running, so that
the execution fast path (graph/execution/fast.py) can read it. Plain Python, no internals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

READY_VALUE: Final = "marquee.ready_value"


class _NotReady:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_READY"


NOT_READY: Final = _NotReady()
"""What a ready-value getter returns when the resolver must run (e.g. nothing prefetched)."""

ReadyGetter = Callable[[Any, Mapping[str, Any]], Any]


def ready_value(getter: ReadyGetter) -> dict[str, ReadyGetter]:
    """Field metadata: `getter(source, arguments)` gives what the field's resolver would
    return, or NOT_READY. `arguments` are graphql-core's coerced argument values (by GraphQL
    name, defaults applied). The resolver should use the same getter first, so that both
    paths answer alike by construction."""
    return {READY_VALUE: getter}
