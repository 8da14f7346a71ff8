"""Relay: the Node interface, opaque global IDs, and the node registry."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import strawberry

from db.errors import DomainError
from graph.errors import bad_input

if TYPE_CHECKING:
    from graph.context import Info


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


@functools.lru_cache(maxsize=65536)
def to_global_id(type_name: str, pk: int | str) -> str:
    # Cached: the same IDs are encoded on every request of a list (~2 µs each otherwise).
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


MAX_KEY = 2**63 - 1  # the largest bigint


class InvalidId(ValueError):
    pass


def parse_global_id(gid: str) -> tuple[str, int]:
    try:
        padded = gid + "=" * (-len(gid) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidId(f"'{gid}' is not a valid ID.") from exc
    # ASCII digits only (int() also takes "+1", "1_0" and other scripts' digits), and a key
    # PostgreSQL's bigint holds.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not type_name:
        raise InvalidId(f"'{gid}' is not a valid ID.")
    pk = int(raw)
    if not 0 < pk <= MAX_KEY:
        raise InvalidId(f"'{gid}' is not a valid ID.")
    return type_name, pk


def decode_id(gid: str, expected: str | Iterable[str], field: str = "id") -> int:
    """The primary key behind a global ID of an expected type; a DomainError
    (VALIDATION_ERROR, naming the field) otherwise. Use in mutations."""
    names = {expected} if isinstance(expected, str) else set(expected)
    try:
        type_name, pk = parse_global_id(gid)
    except InvalidId as exc:
        raise DomainError("VALIDATION_ERROR", str(exc), field) from exc
    if type_name not in names:
        raise DomainError(
            "VALIDATION_ERROR", f"'{gid}' is not the ID of a {' or '.join(sorted(names))}.", field
        )
    return pk


def query_id(gid: str, expected: str | Iterable[str], field: str = "id") -> int:
    """Like decode_id, for query arguments: a malformed ID is a BAD_USER_INPUT error."""
    try:
        return decode_id(gid, expected, field)
    except DomainError as exc:
        raise bad_input(exc.details[0].message, field) from exc


NodeResolver = Callable[["Info", list[int]], Awaitable[list[Any]]]
_registry: dict[str, NodeResolver] = {}


def register_node(type_name: str, resolver: NodeResolver) -> None:
    """Each domain registers how to load its node types by primary keys (in key order)."""
    _registry[type_name] = resolver


async def resolve_nodes(info: Info, ids: list[str]) -> list[Node | None]:
    parsed: list[tuple[str, int]] = []
    for gid in ids:
        try:
            parsed.append(parse_global_id(gid))
        except InvalidId as exc:
            raise bad_input(str(exc), "id") from exc
    by_type: dict[str, list[int]] = {}
    for type_name, pk in parsed:
        by_type.setdefault(type_name, []).append(pk)
    found: dict[tuple[str, int], Any] = {}
    for type_name, pks in by_type.items():
        resolver = _registry.get(type_name)
        if resolver is None:
            continue
        for pk, obj in zip(pks, await resolver(info, pks), strict=True):
            found[(type_name, pk)] = obj
    return [found.get(key) for key in parsed]
