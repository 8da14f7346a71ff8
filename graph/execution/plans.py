"""The plans of the execution fast path (graph/execution/fast.py): per object type and
selection, how each response key is completed; and the checks that decide whether a
position, a class or a selection can take the fast path at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import Enum
from types import CoroutineType, GeneratorType
from typing import Any, Final, NamedTuple

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    InlineFragmentNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
)

from graph.execution.compat import (
    FieldDetailsList,
    FragmentDetails,
    get_strawberry_type_cast,
    is_strawberry_is_type_of,
)
from graph.execution.ready import ReadyGetter

_CONDITIONS = frozenset({"include", "skip"})  # already applied by collect_subfields


class _Delegate:
    """Marker: this position goes through graphql-core's execute_field."""


_DELEGATE: Final = _Delegate()

# Entry kinds of a plan.
_TYPENAME = 0
_LEAF = 1
_OBJECT = 2
_LIST = 3
_NORMAL = 4


# graphql-core's built-in scalars return a value of exactly this type unchanged (Int: within
# 32 bits); `_coerce` skips the call for those.
_SAME_VALUE: dict[GraphQLLeafType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
    GraphQLInt: int,
}
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1

# Values of these exact types are never awaitable nor exceptions (the probes the normal
# path runs on every resolved value).
_PLAIN_VALUES: frozenset[type] = frozenset({str, int, float, bool, Decimal})


class _Leaf:
    """How to complete one scalar or enum position."""

    __slots__ = ("coerce", "memo", "memo_type", "same")

    def __init__(self, leaf: GraphQLLeafType) -> None:
        self.coerce = leaf.coerce_output_value
        self.same: type | None = _SAME_VALUE.get(leaf)
        # An enum's coercion depends only on the member: remembered per member of the
        # strawberry enum class it wraps (coerced the normal way the first time).
        wrapped = getattr(leaf, "wrapped_cls", None) if isinstance(leaf, GraphQLEnumType) else None
        self.memo_type: type | None = (
            wrapped if isinstance(wrapped, type) and issubclass(wrapped, Enum) else None
        )
        self.memo: dict[Any, Any] = {}


_Classes = set[type]


class _Object(NamedTuple):
    """An object position: its type, the strawberry is_type_of check (or None), and the
    plain classes whose instances are known to pass the checks (see `_accepts`)."""

    type: GraphQLObjectType
    is_type_of: Callable[[Any, Any], Any] | None
    accepted: _Classes


def _plain_class(cls: type) -> bool:
    """Instances can never be awaitable nor exceptions, and the awaitable probes have no
    side effects on them: no __await__, no custom attribute access, no __class__ property,
    not a coroutine, generator or exception."""
    if issubclass(cls, (BaseException, CoroutineType, GeneratorType)):
        return False
    if cls.__getattribute__ is not object.__getattribute__:
        return False
    return not any(
        name in vars(base)
        for base in cls.__mro__
        if base is not object
        for name in ("__await__", "__getattr__", "__class__")
    )


class _ListSpec(NamedTuple):
    item_type: GraphQLOutputType
    item_non_null: bool
    leaf: _Leaf | None
    item: _Object | None


class _Entry(NamedTuple):
    key: str
    kind: int
    getter: Callable[[Any], Any] | None
    non_null: bool
    detail: Any  # _Leaf, _Object or _ListSpec
    details: FieldDetailsList
    field_type: GraphQLOutputType | None
    attribute: str | None = None  # the Python attribute a plain field reads


class _Plan(NamedTuple):
    type: GraphQLObjectType
    name: str
    entries: tuple[_Entry, ...]
    # The compiled form (graph/execution/compiled.py): [uses so far] until it is compiled,
    # then [_Compiled] or [None] (cannot be compiled, or bailed out too often).
    compiled: list[Any]


class _Shared:
    """Plans of one selection (the same field nodes of one parsed document) shared across
    executions, per value of the variables used below it. The parser cache hands out one
    document per query text, so a repeated query finds its plans here instead of building
    them again; the nodes are kept alive so that their ids stay unique."""

    __slots__ = ("nodes", "plans", "variables")

    def __init__(self, nodes: tuple[FieldNode, ...], variables: tuple[str, ...]) -> None:
        self.nodes = nodes
        self.variables = variables
        self.plans: dict[tuple[Any, ...], tuple[FieldDetailsList, _Plan | None]] = {}


_SHARED_LIMIT: Final = 2048  # selections; when full, the oldest is dropped for a new one
_SHARED_VALUES_LIMIT: Final = 32  # variable combinations per selection
_shared_plans: dict[tuple[GraphQLObjectType, tuple[int, ...]], _Shared] = {}


def _variables_below(
    nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDetails]
) -> tuple[str, ...]:
    """Names of the variables used anywhere in the selections below the nodes (arguments,
    directives, fragments): a plan depends on no other variable."""
    names: set[str] = set()
    seen: set[str] = set()

    def value(node: ValueNode) -> None:
        if isinstance(node, VariableNode):
            names.add(node.name.value)
        elif isinstance(node, ListValueNode):
            for item in node.values:
                value(item)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                value(field.value)

    def directives(node: Node) -> None:
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments or ():
                value(argument.value)

    def selections(selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            directives(selection)
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    value(argument.value)
                selections(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                selections(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if name not in seen and fragment is not None:
                    seen.add(name)
                    selections(fragment.definition.selection_set)

    for node in nodes:
        selections(node.selection_set)
    return tuple(sorted(names))


def _shareable(details: FieldDetailsList) -> bool:
    return all(d.defer_usage is None and d.fragment_variable_values is None for d in details)


def _bind(ready: ReadyGetter, args: Mapping[str, Any]) -> Callable[[Any], Any]:
    def get(source: Any) -> Any:
        return ready(source, args)

    return get


def _object(object_type: GraphQLObjectType) -> _Object | None:
    """An object type the fast path can check: no is_type_of, or strawberry's own (an
    isinstance check that ignores the resolve info)."""
    check = object_type.is_type_of
    if check is None:
        return _Object(object_type, None, set())
    if is_strawberry_is_type_of(check):
        return _Object(object_type, check, set())
    return None


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


IsAwaitable = Callable[[Any], bool]


def accepts(obj: _Object, value: Any, is_awaitable: IsAwaitable) -> bool:
    """Whether the value can be completed as the object type here: not an exception,
    not awaitable, and accepted by is_type_of. Remembers the value's class when the
    answer cannot differ for its other instances: a plain class (`_plain_class`), and
    accepted by is_type_of without a strawberry.cast (strawberry's check is then an
    isinstance check, which depends on the class only)."""
    if isinstance(value, Exception) or is_awaitable(value):
        return False
    if obj.is_type_of is not None:
        if not obj.is_type_of(value, None):
            return False
        if get_strawberry_type_cast(value) is not None:
            return True
    cls = type(value)
    if _plain_class(cls):
        obj.accepted.add(cls)
    return True


def coerce_leaf(leaf: _Leaf, value: Any, is_awaitable: IsAwaitable) -> Any:
    """The coerced leaf, or _DELEGATE when graphql-core must complete it."""
    same = leaf.same
    if (
        same is not None
        and type(value) is same
        and (same is not int or _MIN_INT <= value <= _MAX_INT)  # type: ignore[operator]
    ):
        return value
    memo_type = leaf.memo_type
    if memo_type is not None and type(value) is memo_type:
        coerced = leaf.memo.get(value)
        if coerced is not None:
            return coerced
    elif type(value) not in _PLAIN_VALUES and (isinstance(value, Exception) or is_awaitable(value)):
        return _DELEGATE
    try:
        coerced = leaf.coerce(value)
    except Exception:
        return _DELEGATE
    if coerced is None or coerced is Undefined:
        return _DELEGATE
    if memo_type is not None and type(value) is memo_type:
        leaf.memo[value] = coerced
    return coerced
