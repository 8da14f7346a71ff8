"""The document caches are bounded by what they keep (graph/textcache.py), not only by how
many entries: distinct large documents from an anonymous client must not make a worker keep
gigabytes of syntax trees."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from graphql import GraphQLError, specified_rules

from graph.cacheable import cached_plan
from graph.documents import _parse_or_error, _validate, parse_cached
from graph.schema import build_schema
from graph.settings import Settings
from graph.textcache import MAX_TREES, TextCache, document_weight


def _big_document(seed: int) -> str:
    """About 3,900 tokens (under the default limit of 4,000), 23 kB of text, distinct."""
    return "{ " + " ".join(f"a{seed}x{i}: __typename" for i in range(1300)) + " }"


def test_least_recently_used_entries_go_first_by_weight_and_by_count() -> None:
    cache = TextCache(max_entries=3, max_weight=100)
    cache.put("a", 1, 40)
    cache.put("b", 2, 40)
    assert cache.get("a") == (1, 40)  # "b" is now the least recently used
    cache.put("c", 3, 40)  # 120 > 100: "b" goes
    assert cache.get("b") is None
    assert list(cache.entries) == ["a", "c"]
    assert cache.weight == 80
    cache.put("d", 4, 1)
    cache.put("e", 5, 1)  # four entries > 3: "a" goes
    assert list(cache.entries) == ["c", "d", "e"]
    cache.put("huge", 6, 101)  # heavier than the whole cache: never kept
    assert cache.get("huge") is None
    assert list(cache.entries) == ["c", "d", "e"]
    cache.put("c", 7, 10)  # replacing an entry replaces its weight
    assert cache.weight == 12


def test_the_weight_of_a_document_covers_its_tree() -> None:
    text = _big_document(999_999)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        document = parse_cached(text, 4000)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    weight = document_weight((text,), document)
    assert kept <= weight * 1.1, (kept, weight)
    assert weight <= kept * 2, (kept, weight)


def test_many_distinct_large_documents_keep_a_bounded_amount() -> None:
    cache = _parse_or_error.cache  # type: ignore[attr-defined]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seed in range(60):  # 60 x 1.6 MB = 94 MB if every tree were kept
            parse_cached(_big_document(seed), 4000)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.weight <= MAX_TREES
    assert len(cache.entries) < 45
    assert kept < MAX_TREES * 1.25, kept
    # The most recent ones are still there (a cache, not a refusal).
    assert cache.get((_big_document(59), 4000)) is not None


def _unparsable_document(seed: int) -> str:
    """About 10 kB of variable definitions that passes the token limit (4,000) before it
    ends: every parse fails, and is cached as a failure."""
    return f"query Q{seed}(" + "".join(f"$v{j}:Int=1 " for j in range(900)) + "){__typename}"


def test_failed_parses_are_cached_without_what_the_parser_held() -> None:
    """A cached failure is its message and where it is, not the raised error: that one's
    traceback held the parser's frames, its tokens and the tree it had begun (1.4 MB for
    this document, against the 10 kB of text the cache counts for it)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seed in range(40):
            with pytest.raises(GraphQLError, match="more than 4000 tokens"):
                parse_cached(_unparsable_document(seed), 4000)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    failure = _parse_or_error(_unparsable_document(0), 4000)
    assert isinstance(failure, GraphQLError)
    assert failure.__traceback__ is None
    text = sum(len(_unparsable_document(seed)) for seed in range(40))
    assert kept < text * 5, (kept, text)  # before: about 140 times the text


def _document_with_a_long_default(seed: int) -> str:
    """About 4,000 tokens, 8 kB: a long default list, and a field no type has."""
    return f"query Q($x: [Int] = [{seed} " + "1 " * 3900 + "]) { nope }"


def test_validation_errors_and_plans_are_kept_without_the_documents_tokens() -> None:
    """A cached validation error (and a response-cache plan's input values) pointed at the
    document's nodes, whose locations hold its whole chain of tokens: 8 kB documents failing
    validation kept 1.4 MB each in a cache that counts their text. Once the parse cache has
    let the documents go, little more than their text may stay; a plan keeps short input
    values only, as trees of their own."""
    schema = build_schema(Settings(env="test", jwt_secret="x" * 32))._schema
    rules = tuple(specified_rules)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seed in range(30):
            query = _document_with_a_long_default(seed)
            errors = _validate(schema, query, 4000, rules)
            assert "Cannot query field 'nope'" in errors[-1].message
            assert errors[-1].locations is not None
            listed = query.replace("{ nope }", "{ movies(filter: {genreIds: $x}) { totalCount } }")
            assert cached_plan(schema, listed, None, 4000) is None  # too long a value to keep
        _parse_or_error.cache.clear()  # type: ignore[attr-defined]
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    text = sum(len(_document_with_a_long_default(seed)) for seed in range(30))
    assert kept < text * 10, (kept, text)  # the texts are keys of two caches; before: 360 times
    # A short default is kept, as a tree of its own.
    short = 'query ($x: [ID!] = ["R2VucmU6MQ"]) { movies(filter: {genreIds: $x}) { totalCount } }'
    plan = cached_plan(schema, short, None, 4000)
    assert plan is not None
    assert plan.defaults["x"].loc is None
