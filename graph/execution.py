"""Lists of plain objects (a seat map's seats) completed without graphql-core's per-field work.

graphql-core completes every field of every list item on its own: a resolve info, a
strawberry resolver wrapper, an awaitable probe, a Path and a few type checks each, about
15 µs per field. A 300-seat map has ~2,400 fields, so that machinery, not the database, is
what limits the typed seat map (bench/README.md, "Seat map execution fast path").

`FastListExecution` completes a list in one pass when everything its items select is
plain: fields without a resolver, arguments, permission classes or field extensions
(strawberry's "basic" fields: the value is `getattr(item, python_name)`), whose types are
scalars, enums, objects or lists of those that are again plain, plus `__typename`.
@include/@skip, aliases and fragments are honoured because the selections come from
graphql-core's own `collect_subfields`. Each value is coerced by its type's own
`coerce_output_value`, exactly as the normal path does.

Anything unusual makes the whole list go through the normal path instead, from scratch
(reading plain attributes has no side effects, so reading them again is safe): a null in
a non-null position, a value that is awaitable or an exception, a failed coercion, any
exception at all, a type with `is_type_of` (interfaces), abstract types, @defer or
@stream or any other directive on a selected field, fragment arguments, or a schema
with resolver middleware (an extension that wraps resolvers). So errors, their messages
and their paths always come from graphql-core itself, and the data is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from graphql.type import TypeNameMetaFieldDef
from graphql.type.definition import is_leaf_type, is_list_type

from graph.realtime import SharedEventExecution

_DEFINITION = "strawberry-definition"  # strawberry's GraphQLCoreConverter.DEFINITION_BACKREF
_CONDITIONS = frozenset({"include", "skip"})  # already applied by collect_subfields
_MAX_DEPTH = 6

# Values of these exact types are never awaitable nor exceptions (the probes the normal
# path runs on every resolved value).
_PLAIN_VALUES: frozenset[type] = frozenset({str, int, float, bool, Decimal})

# Entry kinds of a plan.
_TYPENAME = 0
_LEAF = 1
_OBJECT = 2
_LIST = 3


class _Unusual(Exception):
    """Raised inside the fast path: complete this list the normal way."""


class _Leaf:
    """How to complete one scalar or enum position."""

    __slots__ = ("coerce", "memo", "memo_type")

    def __init__(self, leaf: GraphQLLeafType) -> None:
        self.coerce = leaf.coerce_output_value
        # An enum's coercion depends only on the member: remembered per member of the
        # strawberry enum class it wraps (coerced the normal way the first time).
        wrapped = getattr(leaf, "wrapped_cls", None) if isinstance(leaf, GraphQLEnumType) else None
        self.memo_type: type | None = (
            wrapped if isinstance(wrapped, type) and issubclass(wrapped, Enum) else None
        )
        self.memo: dict[Any, Any] = {}


# (response key, kind, attribute name, non-null, detail): detail is the typename (for
# __typename), a _Leaf, a plan (a tuple of entries, for objects), or for lists
# (item non-null, item is a leaf, _Leaf or plan).
Entry = tuple[str, int, str, bool, Any]
Plan = tuple[Entry, ...]


class FastListExecution(SharedEventExecution):
    """SharedEventExecution (subscription fan-out) plus the fast path for plain lists."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans per (object type, id(field details list)), like graphql-core's own
        # memo of collected subfields; the list is kept alive so that its id stays unique.
        self._fast_plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Any]] = {}

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        if (
            position_context is None
            and (type(items) is list or type(items) is tuple)
            and _plain_selection(field_details_list)
        ):
            # Anything unusual: the normal path below completes the list (and reports
            # errors) the way it always does.
            with contextlib.suppress(Exception):
                plan = self._item_plan(item_type, field_details_list)
                if plan is not None:
                    return self._complete_list(plan, items)
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    # --- plans (once per execution and selection) ---

    def _item_plan(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList, depth: int = 0
    ) -> tuple[bool, bool, Any] | None:
        """(non-null, is leaf, _Leaf or object plan) for the items of a list, or None."""
        non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if is_leaf_type(inner):
            return non_null, True, _Leaf(inner)
        if isinstance(inner, GraphQLObjectType):
            plan = self._object_plan(inner, field_details_list, depth)
            return None if plan is None else (non_null, False, plan)
        return None

    def _object_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList, depth: int
    ) -> Plan | None:
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None
        if object_type.is_type_of is not None or depth > _MAX_DEPTH:
            return None
        key = (object_type, id(field_details_list))
        cached = self._fast_plans.get(key)
        if cached is not None:
            plan: Plan | None = cached[1]
            return plan
        plan = self._build_object_plan(object_type, field_details_list, depth)
        self._fast_plans[key] = (field_details_list, plan)
        return plan

    def _build_object_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList, depth: int
    ) -> Plan | None:
        grouped, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        entries: list[Entry] = []
        for response_key, details in grouped.items():
            if not _plain_selection(details):
                return None
            node = details[0].node
            name = node.name.value
            field_def = self.schema.get_field(object_type, name)
            if field_def is None:
                return None
            if field_def is TypeNameMetaFieldDef:
                entries.append((response_key, _TYPENAME, "", True, object_type.name))
                continue
            if field_def.args or node.arguments or field_def.resolve is None:
                return None
            definition = field_def.extensions.get(_DEFINITION)
            # strawberry's resolver for a field without resolver, permission classes or
            # extensions is a wrapper marked `_is_default` around getattr(source, name).
            if (
                definition is None
                or not getattr(field_def.resolve, "_is_default", False)
                or definition.base_resolver is not None
                or definition.extensions
                or definition.default_resolver is not getattr
                or not isinstance(definition.python_name, str)
            ):
                return None
            attr: str = definition.python_name
            field_type = field_def.type
            non_null = isinstance(field_type, GraphQLNonNull)
            inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
            if is_leaf_type(inner):
                entries.append((response_key, _LEAF, attr, non_null, _Leaf(inner)))
            elif isinstance(inner, GraphQLObjectType):
                sub = self._object_plan(inner, details, depth + 1)
                if sub is None:
                    return None
                entries.append((response_key, _OBJECT, attr, non_null, sub))
            elif isinstance(inner, GraphQLList) and not is_list_type(_nullable(inner.of_type)):
                item = self._item_plan(inner.of_type, details, depth + 1)
                if item is None:
                    return None
                entries.append((response_key, _LIST, attr, non_null, item))
            else:
                return None
        return tuple(entries)

    # --- completion (raises _Unusual, or anything, to fall back) ---

    def _complete_list(self, item: tuple[bool, bool, Any], items: Iterable[Any]) -> list[Any]:
        non_null, is_leaf, detail = item
        out: list[Any] = []
        append = out.append
        if is_leaf:
            for value in items:
                if value is None:
                    if non_null:
                        raise _Unusual
                    append(None)
                else:
                    append(self._leaf(detail, value))
            return out
        is_awaitable = self.is_awaitable
        complete_object = self._complete_object
        for value in items:
            if value is None:
                if non_null:
                    raise _Unusual
                append(None)
            elif isinstance(value, Exception) or is_awaitable(value):
                raise _Unusual
            else:
                append(complete_object(detail, value))
        return out

    def _complete_object(self, plan: Plan, source: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        for key, kind, attr, non_null, detail in plan:
            if kind == _TYPENAME:
                result[key] = detail
                continue
            value = getattr(source, attr)
            if value is None:
                if non_null:
                    raise _Unusual
                result[key] = None
            elif kind == _LEAF:
                # Inlined _leaf for the common cases (this runs once per seat field).
                memo_type = detail.memo_type
                if memo_type is not None and type(value) is memo_type:
                    coerced = detail.memo.get(value)
                    if coerced is None:
                        coerced = detail.memo[value] = self._leaf(detail, value)
                    result[key] = coerced
                elif type(value) in _PLAIN_VALUES:
                    coerced = detail.coerce(value)
                    if coerced is None or coerced is Undefined:
                        raise _Unusual
                    result[key] = coerced
                else:
                    result[key] = self._leaf(detail, value)
            elif isinstance(value, Exception) or is_awaitable(value):
                raise _Unusual
            elif kind == _OBJECT:
                result[key] = self._complete_object(detail, value)
            elif type(value) is list or type(value) is tuple:
                result[key] = self._complete_list(detail, value)
            else:
                raise _Unusual
        return result

    def _leaf(self, leaf: _Leaf, value: Any) -> Any:
        if type(value) not in _PLAIN_VALUES and (
            isinstance(value, Exception) or self.is_awaitable(value)
        ):
            raise _Unusual
        coerced = leaf.coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Unusual
        return coerced


def _nullable(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _plain_selection(field_details_list: FieldDetailsList) -> bool:
    """No @defer/@stream or other directive (besides @include/@skip) and no fragment
    arguments on any of the merged field nodes."""
    for details in field_details_list:
        if details.defer_usage is not None or details.fragment_variable_values is not None:
            return False
        for directive in details.node.directives or ():
            if directive.name.value not in _CONDITIONS:
                return False
    return True
