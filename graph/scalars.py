"""Shared value types: Money (Decimal amount as a string + currency), and the range of the
`Date` and `DateTime` scalars.

`DateTime` is strawberry's built-in `datetime` scalar: ISO-8601 with offset (the database
stores timestamptz, so every value carries its offset). `Date` and `DateTime` are strawberry's
parsers with one more rule (`DATE_RANGE`, through the schema's `scalar_overrides`): a year from
2 to 9998. Python's dates end at years 1 and 9999, and a value at either end that a time zone
moves (to UTC for PostgreSQL, to a cinema's local day, a day or a week on for a report) left
them: an `OverflowError` deep in a query, an internal error to the client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

EARLIEST_YEAR, LATEST_YEAR = 2, 9998


def in_date_range(value: date) -> bool:
    """Whether a date (or a datetime, in its own offset and in UTC) is within the years the
    API takes, far enough from Python's ends for any time zone and any report's arithmetic."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return False
    offset = value.utcoffset() if isinstance(value, datetime) else None
    # Within those years an offset (less than a day) cannot overflow the conversion.
    return offset is None or EARLIEST_YEAR <= (value - offset).year <= LATEST_YEAR


def _ranged(definition: ScalarDefinition) -> ScalarDefinition:
    parse: Callable[[object], object] = definition.parse_value  # type: ignore[assignment]

    def parse_value(value: object) -> object:
        parsed = parse(value)
        if isinstance(parsed, date) and not in_date_range(parsed):
            raise StrawberryInputCoercionError(
                f'Value cannot represent a {definition.name}: "{value}". The year must be'
                f" from {EARLIEST_YEAR} to {LATEST_YEAR}."
            )
        return parsed

    return dataclasses.replace(definition, parse_value=parse_value)


# The schema's `scalar_overrides`: the same names, descriptions and formats as strawberry's.
DATE_RANGE: dict[object, ScalarDefinition] = {
    date: _ranged(DateDefinition),
    datetime: _ranged(DateTimeDefinition),
}


@strawberry.type(description="An amount of money; the amount is a decimal string, never a float.")
class Money:
    amount: Decimal = strawberry.field(description='Decimal amount, e.g. "12.50".')
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")
