"""The one module through which Marquee uses internals of graphql-core and strawberry: it
checks at import that everything relied on is there, and says which execution can run.

Two things rely on internals, each with its own tier of checks:

- "fast": the execution fast path (graph/execution/fast.py) overrides methods of
  graphql-core's executor, calls its 5-argument `get_argument_values`, reads strawberry's
  field definitions and recognises strawberry's own `is_type_of`. Its answers must be
  byte-identical to graphql-core's (tests/core/test_execution.py), which depends on the
  behaviour of exact versions, so it also needs the versions in SUPPORTED.
- "shared": the shared subscription events of graph/realtime.py (`SharedEventExecution`)
  override `execute_operation(serially)` and read `variable_values.coerced`, `operation` and
  `root_value`. It does not depend on how fields are completed, so the structural checks
  suffice.

When the fast tier fails, the server uses SharedEventExecution (graphql-core's ordinary
completion); when the shared tier fails too, strawberry's default execution context. One
warning is logged at import naming what is missing. Widen SUPPORTED only after the
byte-identity tests pass with the new versions (`make lock UPGRADE=1 && make test`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import re
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any, Final, NamedTuple

# Supported versions of the fast path: (lowest, first unsupported).
SUPPORTED: Final[dict[str, tuple[str, str]]] = {
    "graphql-core": ("3.3.2", "3.4"),
    "strawberry-graphql": ("0.341.0", "0.342"),
}

logger = logging.getLogger("graph.execution")

# --- the internals, imported here only (fast.py takes them from this module) ---------------

try:
    from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails
    from graphql.execution.values import get_argument_values
    from graphql.pyutils import Path, gather_with_cancel
    from graphql.type import TypeNameMetaFieldDef
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
    from strawberry.schema.schema_converter import GraphQLCoreConverter
    from strawberry.types.cast import get_strawberry_type_cast
except ImportError:  # reported by check(), which imports the same names one by one
    pass

__all__ = [
    "FieldDetailsList",
    "FragmentDetails",
    "Path",
    "StrawberryGraphQLCoreExecutionContext",
    "TypeNameMetaFieldDef",
    "definition_key",
    "gather_with_cancel",
    "get_argument_values",
    "get_strawberry_type_cast",
    "is_default_resolver",
    "is_strawberry_is_type_of",
]


class Need(NamedTuple):
    """Something relied on: `module.name` (a dotted path) exists; if `parameters`, it is a
    callable whose parameters start with these names; if `attributes`, it is a class that
    declares them (annotations, NamedTuple fields, class attributes or __init__ parameters)."""

    tier: str  # "fast" or "shared"
    module: str
    name: str
    parameters: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()


_CONTEXT = "StrawberryGraphQLCoreExecutionContext"
NEEDS: Final[tuple[Need, ...]] = (
    # graph/realtime.py SharedEventExecution
    Need("shared", "strawberry.schema.schema", f"{_CONTEXT}.execute_operation",
         ("self", "serially")),
    Need("shared", "strawberry.schema.schema", _CONTEXT,
         attributes=("root_value", "operation", "variable_values", "is_awaitable")),
    Need("shared", "graphql.execution.values", "VariableValues", attributes=("coerced",)),
    # graph/execution/fast.py FastListExecution: the executor methods it overrides or calls
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.collect_and_execute_subfields",
         ("self", "return_type", "field_details_list", "path", "result", "position_context")),
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.complete_iterable_value",
         ("self", "item_type", "field_details_list", "info", "path", "items", "position_context")),
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.collect_subfields",
         ("self", "return_type", "field_details_list")),
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.execute_field",
         ("self", "parent_type", "source", "field_details_list", "path", "position_context")),
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.handle_field_error",
         ("self", "raw_error", "return_type", "field_details_list", "path")),
    Need("fast", "strawberry.schema.schema", f"{_CONTEXT}.settle_in_background",
         ("self", "awaitables")),
    Need("fast", "strawberry.schema.schema", _CONTEXT,
         attributes=("schema", "fragments", "variable_values", "middleware_manager",
                     "hide_suggestions", "is_awaitable")),
    # ... graphql-core's helpers and structures
    Need("fast", "graphql.execution.collect_fields", "FieldDetailsList"),
    Need("fast", "graphql.execution.collect_fields", "FieldDetails",
         attributes=("node", "defer_usage", "fragment_variable_values")),
    Need("fast", "graphql.execution.collect_fields", "FragmentDetails", attributes=("definition",)),
    Need("fast", "graphql.execution.values", "get_argument_values",
         ("type_def", "node", "variable_values", "fragment_variable_values", "hide_suggestions")),
    Need("fast", "graphql.pyutils", "Path", ("prev", "key", "typename")),
    Need("fast", "graphql.pyutils", "gather_with_cancel"),
    Need("fast", "graphql.type", "TypeNameMetaFieldDef"),
    # ... strawberry's field definitions and type checks
    Need("fast", "strawberry.schema.schema_converter", "GraphQLCoreConverter.DEFINITION_BACKREF"),
    Need("fast", "strawberry.types.field", "StrawberryField",
         attributes=("python_name", "base_resolver", "default_resolver", "metadata",
                     "extensions")),
    Need("fast", "strawberry.types.cast", "get_strawberry_type_cast"),
)  # fmt: skip


class Report(NamedTuple):
    """What is missing, per tier (empty: usable)."""

    shared: tuple[str, ...]
    fast: tuple[str, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return self.shared + self.fast


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def _declares(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True
    if any(name in getattr(base, "__annotations__", {}) for base in cls.__mro__):
        return True
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _leading_parameters(target: Any) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(parameters)


def _missing(need: Need, import_module: Callable[[str], Any]) -> str | None:
    where = f"{need.module}.{need.name}"
    try:
        target: Any = import_module(need.module)
    except ImportError:
        return f"{need.module} cannot be imported"
    for part in need.name.split("."):
        if not hasattr(target, part):
            return f"{where} is missing"
        target = getattr(target, part)
    if need.parameters:
        found = _leading_parameters(target)
        if found[: len(need.parameters)] != need.parameters:
            return f"{where} takes {found}, expected {need.parameters}"
    if need.attributes:
        if not isinstance(target, type):
            return f"{where} is not a class"
        absent = [name for name in need.attributes if not _declares(target, name)]
        if absent:
            return f"{where} has no {', '.join(absent)}"
    return None


def _codes(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _codes(const)


def _function_codes(cls: Any) -> Iterator[CodeType]:
    for value in vars(cls).values() if isinstance(cls, type) else ():
        function = getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        if isinstance(code, CodeType):
            yield from _codes(code)


def _is_type_of_code(converter: Any) -> CodeType | None:
    """The code of the `is_type_of` closure strawberry gives object types that implement
    interfaces: `is_type_of(obj, _info)`, a strawberry.cast check then an isinstance check,
    the info unused."""
    for code in _function_codes(converter):
        if (
            code.co_name == "is_type_of"
            and code.co_argcount == 2
            and code.co_varnames[:2] == ("obj", "_info")
            and {"get_strawberry_type_cast", "isinstance"} <= set(code.co_names)
        ):
            return code
    return None


def _marks_default_resolvers(converter: Any) -> bool:
    """strawberry marks the resolver it makes for a field without its own with
    `_is_default` (fast.py reads such fields as plain attributes)."""
    return any("_is_default" in code.co_names for code in _function_codes(converter))


def check(
    import_module: Callable[[str], Any] = importlib.import_module,
    version: Callable[[str], str] = importlib.metadata.version,
) -> Report:
    """What the installed graphql-core and strawberry lack of what Marquee relies on. The
    two loaders are parameters so that a test can check against other modules."""
    problems: dict[str, list[str]] = {"shared": [], "fast": []}
    for need in NEEDS:
        missing = _missing(need, import_module)
        if missing:
            problems[need.tier].append(missing)
    for dist, (lowest, first_unsupported) in SUPPORTED.items():
        try:
            installed = version(dist)
        except importlib.metadata.PackageNotFoundError:
            problems["fast"].append(f"{dist} is not installed")
            continue
        if not _release(lowest) <= _release(installed) < _release(first_unsupported):
            problems["fast"].append(
                f"{dist} {installed} is outside the supported >={lowest},<{first_unsupported}"
            )
    try:
        converter = import_module("strawberry.schema.schema_converter").GraphQLCoreConverter
    except (ImportError, AttributeError):
        converter = None
    if _is_type_of_code(converter) is None:
        problems["fast"].append("strawberry's is_type_of closure was not found")
    if not _marks_default_resolvers(converter):
        problems["fast"].append("strawberry no longer marks default resolvers (_is_default)")
    return Report(tuple(problems["shared"]), tuple(problems["fast"]))


def verify(
    import_module: Callable[[str], Any] = importlib.import_module,
    version: Callable[[str], str] = importlib.metadata.version,
) -> Report:
    """check(), and one warning if anything is missing."""
    report = check(import_module, version)
    if report.problems:
        fallback = (
            "strawberry's default execution"
            if report.shared
            else "graphql-core's ordinary completion (shared subscription events kept)"
        )
        logger.warning(
            "Execution fast path disabled, using %s: %s",
            fallback,
            "; ".join(report.problems),
        )
    return report


REPORT: Final = verify()

_IS_TYPE_OF_CODE: Final = None if REPORT.fast else _is_type_of_code(GraphQLCoreConverter)


def definition_key() -> str:
    """The extensions key under which strawberry keeps a GraphQL field's definition."""
    key: str = GraphQLCoreConverter.DEFINITION_BACKREF
    return key


def is_strawberry_is_type_of(check: Any) -> bool:
    """Whether an object type's is_type_of is strawberry's own (an isinstance check that
    ignores the resolve info)."""
    return _IS_TYPE_OF_CODE is not None and getattr(check, "__code__", None) is _IS_TYPE_OF_CODE


def is_default_resolver(resolve: Any) -> bool:
    """Whether strawberry made this resolver for a field without one of its own."""
    return bool(getattr(resolve, "_is_default", False))
