"""Caches keyed by query text, bounded by what they keep, not only by how many entries.

Every distinct query text a client sends may be kept by the document caches (parsed
documents, shape and validation results, costs, prepared operations, response-cache
plans). Bounded by entries alone (1,024 each, as `functools.lru_cache` was), an anonymous
client sending 1,024 distinct documents of 4,000 tokens (about 22 kB each) could make a
worker keep about 1.5 GB of syntax trees (1.5 MB measured per such tree, times 1,024), and
distinct 256 kB bodies 256 MB of text per cache.
`text_cache` evicts the least recently used entries until both the entries and their
weight (by default the length of the texts among the arguments; for parsed documents an
estimate of the tree, `document_weight`) fit.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Final, ParamSpec, TypeVar

from graphql import DocumentNode, Token

P = ParamSpec("P")
R = TypeVar("R")

MAX_ENTRIES: Final = 1024
MAX_TEXT: Final = 8 * 1024 * 1024  # characters of query text kept by one cache
MAX_TREES: Final = 64 * 1024 * 1024  # estimated bytes of syntax trees kept by the parse cache
TOKEN_BYTES: Final = 400  # what a token costs in a parsed document (nodes, locations, tokens)


def text_weight(args: tuple[Any, ...], _result: Any) -> int:
    """The characters of the texts among the arguments (at least 1)."""
    return max(1, sum(len(a) for a in args if isinstance(a, str)))


def document_weight(args: tuple[Any, ...], result: Any) -> int:
    """A parsed document: its text plus TOKEN_BYTES per token (measured: 385 bytes per
    token for a document of 4,000 tokens); a parse error: its text."""
    weight = text_weight(args, result)
    if isinstance(result, DocumentNode) and result.loc is not None:
        token: Token | None = result.loc.start_token
        tokens = 0
        while token is not None:
            tokens += 1
            token = token.next
        weight += tokens * TOKEN_BYTES
    return weight


class TextCache:
    """key -> (value, weight), least recently used first; see the module."""

    def __init__(self, max_entries: int, max_weight: int) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self.entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.weight = 0

    def get(self, key: Hashable) -> tuple[Any, int] | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: Hashable, value: Any, weight: int) -> None:
        if weight > self.max_weight:
            return  # never kept: it would push everything else out
        old = self.entries.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self.entries[key] = (value, weight)
        self.weight += weight
        while len(self.entries) > self.max_entries or self.weight > self.max_weight:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.weight -= dropped

    def clear(self) -> None:
        self.entries.clear()
        self.weight = 0


def text_cache(
    *,
    max_entries: int = MAX_ENTRIES,
    max_weight: int = MAX_TEXT,
    weigh: Callable[[tuple[Any, ...], Any], int] = text_weight,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Memoise a function of hashable positional arguments in a `TextCache` (the cache is
    the wrapper's `cache` attribute)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        cache = TextCache(max_entries, max_weight)

        @functools.wraps(function)
        def cached(*args: P.args, **kwargs: P.kwargs) -> R:
            assert not kwargs, "text_cache takes positional arguments only"
            found = cache.get(args)
            if found is not None:
                result: R = found[0]
                return result
            result = function(*args, **kwargs)
            cache.put(args, result, weigh(args, result))
            return result

        cached.cache = cache  # type: ignore[attr-defined]
        return cached

    return decorate
