"""`{ __typename }`: the cost of the HTTP + GraphQL machinery alone, no database.

Marquee answers that exact probe from its prepared document without an executor
(graph/documents.py, `constant_data`); `typename_executed` asks the same through an inline
fragment, which the executor runs, so the two rows show the HTTP path alone and the HTTP path
with graphql-core's per-request execution."""

from __future__ import annotations

from typing import Any

from bench.scenario import BenchError, Scenario


def _expect(data: dict[str, Any]) -> None:
    if data != {"__typename": "Query"}:
        raise BenchError(f"unexpected data: {data}")


SCENARIO = Scenario(
    name="typename",
    description="{ __typename }: HTTP, parsing (cached), validation (cached), no SQL",
    query="{ __typename }",
    expect=_expect,
)


EXECUTED_SCENARIO = Scenario(
    name="typename_executed",
    description="{ ... on Query { __typename } }: the same answer, through the executor",
    query="{ ... on Query { __typename } }",
    expect=_expect,
)
