"""Domain errors: expected failures with a code, raised by actions and mapped by the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    code: str
    message: str
    field: str | None = None
    extra: dict[str, Any] = dc_field(default_factory=dict)


class DomainError(Exception):
    """One or more expected failures; the transaction that raised it is rolled back."""

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        field: str | None = None,
        *,
        details: Sequence[ErrorDetail] = (),
        **extra: Any,
    ) -> None:
        items = list(details)
        if code is not None:
            items.insert(0, ErrorDetail(str(code), message, field, dict(extra)))
        if not items:
            raise ValueError("DomainError needs at least one error")
        self.details = items
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in items))

    @property
    def code(self) -> str:
        return self.details[0].code


class Validator:
    """Collects validation failures so a client sees all of them at once."""

    def __init__(self, code: str = "VALIDATION_ERROR") -> None:
        self.code = code
        self.details: list[ErrorDetail] = []

    def add(self, field: str | None, message: str, code: str | None = None) -> None:
        self.details.append(ErrorDetail(code or self.code, message, field))

    def check(self, ok: bool, field: str | None, message: str, code: str | None = None) -> None:
        if not ok:
            self.add(field, message, code)

    def raise_if_any(self) -> None:
        if self.details:
            raise DomainError(details=self.details)
