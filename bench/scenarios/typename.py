"""`{ __typename }`: the cost of the HTTP + GraphQL machinery alone, no database."""

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
