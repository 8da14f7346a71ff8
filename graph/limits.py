"""Limits on what one GraphQL document may ask for, each computed in time linear in the
document (docs/security.md).

Two passes, both remembering each fragment's result so that a fragment spread many times
(or a chain of fragments that each spread the previous one twice) is walked once:

- `check_shape` (no schema, no variables; cached per query text): depth, aliases, fragment
  spreads after expansion, fields with one response name in one selection set, nested
  introspection lists, and text no database accepts (NUL, lone surrogates) in literals. It
  runs before graphql-core's own validation, whose field-merging rule is quadratic in the
  fields it compares: a document must pass these caps before it gets there.
- `operation_cost` (schema and variables): the number of fields the operation may resolve,
  where a field under a list counts once per item the list may hold: the page size of a
  connection (`first`/`last`, or the default page), the length of a list argument
  (`nodes(ids:)`), or the size a list field declares with `list_size` (a seat map is bounded
  by a hall's capacity). `actual_cost` counts the fields of a result the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast_untyped,
)

from graph.pagination import DEFAULT_PAGE, MAX_PAGE

# A list field with no declared size and no size argument is counted as this many items.
DEFAULT_LIST_SIZE = 20
# `__schema` and `__type` cost a fixed amount: their size is the schema's, not the data's.
# At least what the whole of it is for this schema (the standard introspection query:
# 14,882 fields; the largest type in full: 1,305), so that aliases of it are costed as the
# work they are (24 aliases of `__schema` at 2,000 each passed, and took 1.1 s and 6.5 MB
# a request). tests/core/test_limits.py fails when the schema outgrows them.
INTROSPECTION_COST = {"__schema": 20_000, "__type": 1_500}
# Introspection lists that can nest without bound (`fields { type { fields … } }`).
INTROSPECTION_LISTS = frozenset({"fields", "inputFields", "interfaces", "possibleTypes"})
MAX_INTROSPECTION_NESTING = 1
# `__Type.ofType` chains (a type's wrappers: `[[Int!]!]!`) add no depth, so standard tools'
# introspection queries pass: graphql-js's and graphql-core's TypeRef nest nine of them
# (depth 14 with them counted, over MAX_QUERY_DEPTH). The chain is capped on its own.
TYPE_REF_FIELD = "ofType"
MAX_TYPE_REF_NESTING = 10
_CAP = 10**12  # counts stop growing here, so no number gets large


def list_size(items: int) -> dict[str, int]:
    """Metadata for a list field: the most items it can hold, for the cost limit
    (`strawberry.field(metadata=list_size(100))`)."""
    return {"list_size": items}


@dataclass(frozen=True, slots=True)
class ShapeLimits:
    max_depth: int
    max_aliases: int
    max_fragment_spreads: int
    max_duplicate_fields: int


def _error(message: str, node: Node | None = None, field: str | None = None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}
    if field:
        extensions["field"] = field
    return GraphQLError(message, node, extensions=extensions)


def bad_text(value: str) -> str | None:
    """Why PostgreSQL (or JSON) would refuse this text, or None when it is fine."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


# Deeper variables than any input type of the schema nests (graphql-core's coercion and
# error messages recurse over them, and hit Python's recursion limit near 1,000 levels).
MAX_VARIABLE_NESTING = 32


def check_text(value: Any, path: str) -> GraphQLError | None:
    """The first string inside a JSON value (variables) that no database accepts, or a
    value nested deeper than MAX_VARIABLE_NESTING. Iterative: the depth is the client's."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            reason = bad_text(item)
            if reason:
                return _error(f"Variable '{where}' {reason}.", field=where)
            continue
        if depth >= MAX_VARIABLE_NESTING and isinstance(item, dict | list):
            return _error(f"Variable '{where}' is nested too deeply.", field=where)
        if isinstance(item, dict):
            for key, inner in item.items():
                stack.append((inner, f"{where}.{key}", depth + 1))
                stack.append((key, where, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}.{i}", depth + 1) for i, inner in enumerate(item))
    return None


@dataclass(slots=True)
class _Shape:
    height: int = 0  # levels of fields, 1 for a leaf field
    aliases: int = 0
    spreads: int = 0
    introspection_nesting: int = 0
    type_ref_nesting: int = 0  # consecutive `ofType` levels


class _TooBig(Exception):
    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class _ShapeWalker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], limits: ShapeLimits):
        self.fragments = fragments
        self.limits = limits
        self.memo: dict[str, tuple[_Shape, Counter[str]]] = {}
        self.in_progress: set[str] = set()
        self.spreads = 0  # expanded spreads seen so far, across the document

    def fragment(self, node: FragmentSpreadNode) -> tuple[_Shape, Counter[str]]:
        name = node.name.value
        self.spreads += 1
        if self.spreads > self.limits.max_fragment_spreads * 4:
            # Far past any limit: stop walking (the caps below report it exactly).
            raise _TooBig(_error("Too many fragment spreads.", node))
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            # Unknown fragment or a cycle: graphql-core's validation reports it.
            return _Shape(), Counter()
        self.in_progress.add(name)
        result = self.selection_set(definition.selection_set, 0, False)
        self.in_progress.discard(name)
        self.memo[name] = result
        return result

    def selection_set(
        self, node: SelectionSetNode, level: int, in_introspection: bool
    ) -> tuple[_Shape, Counter[str]]:
        if level > self.limits.max_depth + 1 + MAX_TYPE_REF_NESTING:
            raise _TooBig(
                _error(f"Query depth exceeds the limit of {self.limits.max_depth}.", node)
            )
        shape = _Shape()
        keys: Counter[str] = Counter()
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                key = sel.alias.value if sel.alias else name
                keys[key] += 1
                if sel.alias:
                    shape.aliases += 1
                height, nesting, type_refs = 1, 0, 0
                if sel.selection_set is not None:
                    inner_introspection = in_introspection or name in INTROSPECTION_COST
                    child, _ = self.selection_set(sel.selection_set, level + 1, inner_introspection)
                    type_refs = child.type_ref_nesting
                    # By name: fragments (TypeRef) are walked apart from their introspection
                    # root, and no type of Marquee's schema has a field called ofType.
                    if name == TYPE_REF_FIELD:
                        height, type_refs = child.height, type_refs + 1
                    else:
                        height = 1 + child.height
                    shape.aliases = min(_CAP, shape.aliases + child.aliases)
                    shape.spreads = min(_CAP, shape.spreads + child.spreads)
                    nesting = child.introspection_nesting
                    if in_introspection and name in INTROSPECTION_LISTS:
                        nesting += 1
                shape.height = max(shape.height, height)
                shape.introspection_nesting = max(shape.introspection_nesting, nesting)
                shape.type_ref_nesting = max(shape.type_ref_nesting, type_refs)
                continue
            if isinstance(sel, InlineFragmentNode):
                child, child_keys = self.selection_set(sel.selection_set, level, in_introspection)
            elif isinstance(sel, FragmentSpreadNode):
                child, child_keys = self.fragment(sel)
                shape.spreads = min(_CAP, shape.spreads + 1)
            else:  # pragma: no cover - no other selection kinds exist
                continue
            shape.height = max(shape.height, child.height)
            shape.aliases = min(_CAP, shape.aliases + child.aliases)
            shape.spreads = min(_CAP, shape.spreads + child.spreads)
            shape.introspection_nesting = max(
                shape.introspection_nesting, child.introspection_nesting
            )
            shape.type_ref_nesting = max(shape.type_ref_nesting, child.type_ref_nesting)
            for child_key, count in child_keys.items():
                keys[child_key] = min(_CAP, keys[child_key] + count)
        if keys:
            key, count = keys.most_common(1)[0]
            if count > self.limits.max_duplicate_fields:
                raise _TooBig(
                    _error(
                        f"'{key}' is requested {count} times in one selection set; the limit "
                        f"is {self.limits.max_duplicate_fields}.",
                        node,
                    )
                )
        return shape, keys


def _literal_text_errors(document: Any) -> GraphQLError | None:
    """String literals anywhere in the document that no database accepts."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            reason = bad_text(node.value)
            if reason:
                return _error(f"A string in the query {reason}.", node)
            continue
        if isinstance(node, Node):
            for key in node.keys:
                value = getattr(node, key, None)
                if isinstance(value, Node):
                    stack.append(value)
                elif isinstance(value, tuple | list):
                    stack.extend(v for v in value if isinstance(v, Node))
    return None


def _may_hold_bad_text(source: str) -> bool:
    """Whether a string literal of this document text can hold NUL or a lone surrogate:
    only through a raw one in the text or a `\\u` escape."""
    return "\\u" in source or "\x00" in source or bad_text(source) is not None


def check_shape(
    document: Any, limits: ShapeLimits, source: str | None = None
) -> list[GraphQLError]:
    """Errors for a document that is too big or too deep (empty when it is fine)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if source is None or _may_hold_bad_text(source):
        text_error = _literal_text_errors(document)
        if text_error is not None:
            return [text_error]
    walker = _ShapeWalker(fragments, limits)
    errors: list[GraphQLError] = []
    try:
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            shape, _ = walker.selection_set(definition.selection_set, 0, False)
            depth = shape.height - 1
            if depth > limits.max_depth:
                errors.append(
                    _error(f"Query depth {depth} exceeds the limit of {limits.max_depth}.")
                )
            if shape.aliases > limits.max_aliases:
                errors.append(
                    _error(f"{shape.aliases} aliases exceed the limit of {limits.max_aliases}.")
                )
            if shape.spreads > limits.max_fragment_spreads:
                errors.append(
                    _error(
                        f"{shape.spreads} fragment spreads (after expansion) exceed the limit "
                        f"of {limits.max_fragment_spreads}."
                    )
                )
            if shape.introspection_nesting > MAX_INTROSPECTION_NESTING:
                errors.append(_error("Introspection lists nest too deeply."))
            if shape.type_ref_nesting > MAX_TYPE_REF_NESTING:
                errors.append(
                    _error(f"`ofType` nests more than {MAX_TYPE_REF_NESTING} levels deep.")
                )
            if errors:
                break
    except _TooBig as exc:
        return [exc.error]
    except RecursionError:
        return [_error("The query is nested too deeply.")]
    return errors


# ---------------------------------------------------------------------------------------
# Cost


class _Variables:
    """The request's variables, remembering whether any of them changed the cost (a page
    size, a list's length as a multiplier): when none did, the cost is the document's alone
    and is cached with it (the variables' own list lengths are checked on every request,
    `VariableCheck`)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.used = False

    def get(self, name: str) -> Any:
        self.used = True
        return self.values.get(name)

    def peek(self, name: str) -> Any:
        return self.values.get(name)


def _int_argument(node: FieldNode, names: tuple[str, ...], variables: _Variables) -> Any:
    for arg in node.arguments or ():
        if arg.name.value in names:
            value = arg.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
    return None


def _list_argument_length(node: FieldNode, variables: _Variables) -> int | None:
    longest: int | None = None
    for arg in node.arguments or ():
        value = arg.value
        length: int | None = None
        if isinstance(value, ListValueNode):
            length = len(value.values)
        elif isinstance(value, VariableNode):
            item = variables.peek(value.name.value)
            if isinstance(item, list):
                variables.used = True
                length = len(item)
        if length is not None:
            longest = length if longest is None else max(longest, length)
    return longest


def _declared_size(field: Any) -> int | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    size = metadata.get("list_size")
    return size if isinstance(size, int) else None


def _page_size(node: FieldNode, field: Any, variables: _Variables) -> int:
    value = _int_argument(node, ("first", "last"), variables)
    if value is None:
        arg = field.args.get("first")
        default = getattr(arg, "default_value", None)
        value = default if isinstance(default, int) else DEFAULT_PAGE
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON's 100.0 is the Int 100 to graphql-core
    if not isinstance(value, int) or isinstance(value, bool):
        return DEFAULT_PAGE
    return max(1, min(value, MAX_PAGE))


class _CostWalker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: _Variables,
        lists: _ListChecker,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.lists = lists
        self.memo: dict[tuple[str, int], int] = {}
        self.in_progress: set[str] = set()

    def selection_set(self, node: SelectionSetNode, parent: Any, page: int) -> int:
        total = 0
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                total += self.field(sel, parent, page)
            elif isinstance(sel, InlineFragmentNode):
                condition = sel.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(sel.selection_set, inner or parent, page)
            elif isinstance(sel, FragmentSpreadNode):
                total += self.fragment(sel.name.value, page)
            if total >= _CAP:
                return _CAP
        return total

    def fragment(self, name: str, page: int) -> int:
        key = (name, page)
        if key in self.memo:
            return self.memo[key]
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return 0
        self.in_progress.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        cost = self.selection_set(definition.selection_set, parent, page)
        self.in_progress.discard(name)
        self.memo[key] = cost
        return cost

    def field(self, node: FieldNode, parent: Any, page: int) -> int:
        name = node.name.value
        if name in INTROSPECTION_COST:
            return INTROSPECTION_COST[name]
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 1
        field = parent.fields.get(name)
        if field is None:
            return 1
        if node.arguments:
            self.lists.arguments(node, field)
        if node.selection_set is None:
            return 1
        named = get_named_type(field.type)
        if named.name.endswith("Connection"):
            # The connection's item lists (`edges`, `nodes`) hold one page.
            return 1 + self.selection_set(
                node.selection_set, named, _page_size(node, field, self.variables)
            )
        multiplier = 1
        if is_list_type(get_nullable_type(field.type)):
            declared = _declared_size(field)
            if parent.name.endswith("Connection"):
                multiplier = page
            elif "first" in field.args or "last" in field.args:
                multiplier = _page_size(node, field, self.variables)
            elif (length := _list_argument_length(node, self.variables)) is not None:
                multiplier = length
            elif declared is not None:
                multiplier = declared
            else:
                multiplier = DEFAULT_LIST_SIZE
        inner = self.selection_set(node.selection_set, named, DEFAULT_PAGE)
        return min(_CAP, 1 + multiplier * inner)


@dataclass(frozen=True, slots=True)
class Cost:
    fields: int | None  # None: the document names no single operation (execution says so)
    uses_variables: bool  # False: the same for every request of this document
    # The variables' places, for `check_variables` on the next requests of the document.
    checks: tuple[VariableCheck, ...] = ()


def variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    """The default values of the operation's variables, as values (the document's literals:
    a default list is as long as the text makes it)."""
    return {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }


def operation_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_list_input: int,
) -> Cost:
    """The worst-case number of fields the chosen operation resolves. Raises GraphQLError
    (BAD_USER_INPUT) for a list input longer than allowed."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return Cost(None, False)
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Cost(None, False)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = variable_defaults(operation)
    values = _Variables({**defaults, **(variables or {})} if defaults else variables or {})
    walker = _CostWalker(schema, fragments, values, _ListChecker(values, max_list_input))
    try:
        fields = walker.selection_set(operation.selection_set, root, DEFAULT_PAGE)
    except _TooBig as exc:
        raise exc.error from None
    # A variable's default value (`$ids: [ID!] = [...]`) is what a request that does not send
    # it runs with, so it is checked and counted like a sent one, and such a document is
    # costed on every request: cached, the cost would have to keep the defaults' values
    # beside it, larger than the text the cache weighs (real clients' defaults are a page
    # size, which changes the cost anyway).
    return Cost(fields, values.used or bool(defaults), tuple(walker.lists.checks))


def check_variables(
    checks: tuple[VariableCheck, ...], variables: Mapping[str, Any] | None, max_list_input: int
) -> None:
    """The list-length check of `operation_cost` for a document whose cost is known (and
    whose variables have no defaults): the variables' values at the places the first walk
    recorded. Raises GraphQLError (BAD_USER_INPUT) for a list input longer than allowed."""
    if not checks or not variables:
        return
    lists = _ListChecker(_Variables(variables), max_list_input)
    try:
        for check in checks:
            lists.variable(check)
    except _TooBig as exc:
        raise exc.error from None


def actual_cost(data: Any) -> int:
    """The fields a result holds, counted as `operation_cost` counts them (each field once
    per list item)."""
    if isinstance(data, dict):
        total = len(data)
        for value in data.values():
            if value.__class__ in (dict, list):
                total += actual_cost(value)
        return total
    if isinstance(data, list):
        return sum(
            actual_cost(item) for item in data if item.__class__ is dict or item.__class__ is list
        )
    return 0


# ---------------------------------------------------------------------------------------
# List inputs


@dataclass(frozen=True, slots=True)
class VariableCheck:
    """Where a variable is used as an argument (or a field of one), with the type and the
    list limit that place gives it: the same for every request of a document, so a cached
    cost comes with these and only the variables' values are walked again."""

    name: str
    type_: Any
    limit: int
    path: str


class _ListChecker:
    """Every list a client sends (in arguments, input objects or variables) holds at most
    MARQUEE_MAX_LIST_INPUT items, or the size a field declares with `list_size`."""

    def __init__(self, variables: _Variables, default: int) -> None:
        self.variables = variables
        self.default = default
        self.checks: list[VariableCheck] = []

    def limit_of(self, definition: Any) -> int:
        declared = _declared_size(definition)
        return declared if declared is not None else self.default

    def arguments(self, node: FieldNode, field: Any) -> None:
        for arg in node.arguments or ():
            definition = field.args.get(arg.name.value)
            if definition is not None:
                self.literal(arg.value, definition.type, self.limit_of(definition), arg.name.value)

    def literal(self, node: Any, type_: Any, limit: int, path: str) -> None:
        if isinstance(node, VariableNode):
            check = VariableCheck(node.name.value, type_, limit, path)
            self.checks.append(check)
            self.variable(check)
            return
        type_ = get_nullable_type(type_)
        if is_list_type(type_):
            if isinstance(node, ListValueNode):
                self.length(len(node.values), limit, path)
                for index, item in enumerate(node.values):
                    self.literal(item, type_.of_type, self.default, f"{path}.{index}")
            return
        fields = getattr(type_, "fields", None)
        if isinstance(node, ObjectValueNode) and isinstance(fields, dict):
            for entry in node.fields:
                field = fields.get(entry.name.value)
                if field is not None:
                    name = f"{path}.{entry.name.value}"
                    self.literal(entry.value, field.type, self.limit_of(field), name)

    def variable(self, check: VariableCheck) -> None:
        value = self.variables.peek(check.name)
        if isinstance(value, list | dict):
            self.value(value, check.type_, check.limit, check.path)

    def value(self, value: Any, type_: Any, limit: int, path: str) -> None:
        type_ = get_nullable_type(type_)
        if is_list_type(type_):
            if isinstance(value, list):
                self.length(len(value), limit, path)
                for index, item in enumerate(value):
                    self.value(item, type_.of_type, self.default, f"{path}.{index}")
            return
        fields = getattr(type_, "fields", None)
        if isinstance(value, dict) and isinstance(fields, dict):
            for name, item in value.items():
                field = fields.get(name)
                if field is not None:
                    self.value(item, field.type, self.limit_of(field), f"{path}.{name}")

    @staticmethod
    def length(items: int, limit: int, path: str) -> None:
        if items > limit:
            raise _TooBig(_error(f"'{path}' takes at most {limit} items.", field=path))
