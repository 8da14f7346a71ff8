"""Objects and lists whose values are already there, completed without graphql-core's
per-field work.

graphql-core completes every field on its own: a resolve info, a strawberry resolver
wrapper, an awaitable probe, a Path and a few type checks each, about 15 µs per field. A
300-seat map has ~2,400 fields and a movie page ~540, so that machinery, not the database,
is what limits them (bench/README.md, "Seat map execution fast path" and "Movie page").

`FastListExecution` completes an object (and the lists and objects below it) from a plan
made once per type and selection: a field is read directly when it is plain (a strawberry
field without resolver, arguments, permission classes or extensions: its value is
`getattr(item, python_name)`), or when it has a resolver that declares, with
`ready_value(...)` in its metadata, how to get the value it would return without running
(a relation that a look-ahead already loaded); its type must be a scalar, an enum, an
object or a list of those. `__typename` too. @include/@skip, aliases and fragments are
honoured because the selections come from graphql-core's own `collect_subfields`, and each
leaf is coerced by its type's own `coerce_output_value`, exactly as the normal path does.

Every other field, and every field whose value is unusual (not ready, null in a non-null
position, awaitable, an exception, a failed coercion, an object its type does not accept,
a list with such items or that is not a list or tuple), goes through graphql-core's own
`execute_field` with its proper Path, before anything below it has run (reading a plain
attribute or a ready value has no side effects, so it is read again there). Errors raised
below a fast position are handled as graphql-core handles them (`handle_field_error` with
the same path, nullability and ordering), so the data, the errors and their paths are the
same as the normal path's. A selection with @defer/@stream, incremental delivery, or a
schema with resolver middleware takes the normal path altogether.

What this relies on of graphql-core's and strawberry's internals comes from compat.py, which
checked it at import; this module is imported only when that check passed and
MARQUEE_FAST_EXECUTION is on (graph/execution/__init__.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from operator import attrgetter
from typing import Any, Final

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
)
from graphql.type.definition import is_leaf_type

from graph.execution.compat import (
    FieldDetailsList,
    Path,
    TypeNameMetaFieldDef,
    definition_key,
    gather_with_cancel,
    get_argument_values,
    is_default_resolver,
)
from graph.execution.compiled import compiled_for
from graph.execution.plans import (
    _DELEGATE,
    _LEAF,
    _LIST,
    _NORMAL,
    _OBJECT,
    _SHARED_LIMIT,
    _SHARED_VALUES_LIMIT,
    _TYPENAME,
    _bind,
    _Entry,
    _Leaf,
    _ListSpec,
    _Object,
    _object,
    _plain_selection,
    _Plan,
    _shareable,
    _Shared,
    _shared_plans,
    _variables_below,
    accepts,
    coerce_leaf,
)
from graph.execution.ready import NOT_READY, READY_VALUE
from graph.realtime import SharedEventExecution

_DEFINITION: Final = definition_key()


class FastListExecution(SharedEventExecution):
    """SharedEventExecution (subscription fan-out) plus the fast path for ready values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans per (object type, id(field details list)), like graphql-core's own memo of
        # collected subfields; the list is kept alive so that its id stays unique.
        self._fast_plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Any]] = {}
        self._list_specs: dict[GraphQLOutputType, _ListSpec | None] = {}
        self._fast = self.middleware_manager is None or not self.middleware_manager.middlewares

    # --- graphql-core's entry points ---

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if position_context is None and self._fast:
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                return self._run_object(plan, result, path)
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

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
            and self._fast
            and (type(items) is list or type(items) is tuple)
            and _plain_selection(field_details_list)
        ):
            spec = self._list_spec(item_type)
            if spec is not None:
                completed = self._complete_list(spec, field_details_list, path, items)
                if completed is not _DELEGATE:
                    return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    # --- plans (once per execution and selection) ---

    def _plan(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> _Plan | None:
        key = (object_type, id(details))
        cached = self._fast_plans.get(key)
        if cached is not None:
            plan: _Plan | None = cached[1]
            return plan
        shared, values = self._shared(object_type, details)
        if shared is not None:
            hit = shared.plans.get(values)
            if hit is not None:
                self._fast_plans[key] = (details, hit[1])
                return hit[1]
        plan = self._build_plan(object_type, details)
        self._fast_plans[key] = (details, plan)
        if (
            shared is not None
            and len(shared.plans) < _SHARED_VALUES_LIMIT
            and (plan is None or all(_shareable(e.details) for e in plan.entries))
        ):
            shared.plans[values] = (details, plan)
        return plan

    def _shared(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> tuple[_Shared | None, tuple[Any, ...]]:
        """The shared plans of this selection, and the key of this execution's variables
        (None when they cannot be shared: unhashable values, @defer, fragment variables)."""
        if not _shareable(details):
            return None, ()
        nodes = tuple(d.node for d in details)
        shared_key = (object_type, tuple(map(id, nodes)))
        shared = _shared_plans.get(shared_key)
        if shared is None or shared.nodes != nodes:
            shared = _Shared(nodes, _variables_below(nodes, self.fragments))
            if len(_shared_plans) >= _SHARED_LIMIT:
                # The oldest selection goes (insertion order): one rebuild for it if it is
                # still in use, where dropping them all would rebuild every hot plan at once.
                del _shared_plans[next(iter(_shared_plans))]
            _shared_plans[shared_key] = shared
        coerced = self.variable_values.coerced
        values = tuple(coerced.get(name, Undefined) for name in shared.variables)
        try:
            hash(values)
        except TypeError:
            return None, ()
        return shared, values

    def _build_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
        grouped, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        entries: list[_Entry] = []
        for response_key, details in grouped.items():
            if any(d.defer_usage is not None for d in details):
                return None
            entries.append(self._entry(object_type, response_key, details))
        return _Plan(object_type, object_type.name, tuple(entries), [0])

    def _entry(self, parent: GraphQLObjectType, key: str, details: FieldDetailsList) -> _Entry:
        normal = _Entry(key, _NORMAL, None, False, None, details, None)
        if not _plain_selection(details):
            return normal
        node = details[0].node
        field_def = self.schema.get_field(parent, node.name.value)
        if field_def is None:
            return normal
        if field_def is TypeNameMetaFieldDef:
            return _Entry(key, _TYPENAME, None, True, None, details, None)
        definition = field_def.extensions.get(_DEFINITION)
        if definition is None or definition.extensions or field_def.resolve is None:
            return normal
        getter: Callable[[Any], Any]
        attribute: str | None = None
        ready = (definition.metadata or {}).get(READY_VALUE)
        if (
            definition.base_resolver is None
            and is_default_resolver(field_def.resolve)
            and definition.default_resolver is getattr
            and isinstance(definition.python_name, str)
            and not field_def.args
            and not node.arguments
        ):
            getter = attrgetter(definition.python_name)
            attribute = definition.python_name
        elif definition.base_resolver is not None and callable(ready):
            try:
                args = (
                    get_argument_values(
                        field_def, node, self.variable_values, None, self.hide_suggestions
                    )
                    if field_def.args or node.arguments
                    else {}
                )
            except Exception:
                return normal
            getter = _bind(ready, args)
        else:
            return normal
        field_type = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if is_leaf_type(inner):
            leaf = _Leaf(inner)
            return _Entry(key, _LEAF, getter, non_null, leaf, details, field_type, attribute)
        if isinstance(inner, GraphQLObjectType):
            obj = _object(inner)
            if obj is None:
                return normal
            return _Entry(key, _OBJECT, getter, non_null, obj, details, field_type, attribute)
        if isinstance(inner, GraphQLList):
            spec = self._list_spec(inner.of_type)
            if spec is None:
                return normal
            return _Entry(key, _LIST, getter, non_null, spec, details, field_type, attribute)
        return normal

    def _list_spec(self, item_type: GraphQLOutputType) -> _ListSpec | None:
        if item_type in self._list_specs:
            return self._list_specs[item_type]
        non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        spec: _ListSpec | None = None
        if is_leaf_type(inner):
            spec = _ListSpec(item_type, non_null, _Leaf(inner), None)
        elif isinstance(inner, GraphQLObjectType):
            obj = _object(inner)
            if obj is not None:
                spec = _ListSpec(item_type, non_null, None, obj)
        self._list_specs[item_type] = spec
        return spec

    # --- completion ---

    def _run_object(self, plan: _Plan, source: Any, path: Path) -> Any:
        """The object by its compiled plan when there is one and it does not bail, else
        interpreted (`_complete_object`)."""
        compiled = compiled_for(plan, self._plan, self.is_awaitable)
        if compiled is not None:
            compiled.runs += 1
            completed = compiled.function(source)
            if completed is not _DELEGATE:
                return completed
            compiled.bail(plan)
        return self._complete_object(plan, source, path)

    def _complete_object(self, plan: _Plan, source: Any, path: Path) -> Any:
        """The object's result dict, or an awaitable of it (graphql-core's execute_fields)."""
        result: dict[str, Any] = {}
        pending: list[str] = []
        type_name = plan.name
        is_awaitable = self.is_awaitable
        try:
            for key, kind, getter, non_null, detail, details, field_type, _ in plan.entries:
                if kind == _TYPENAME:
                    result[key] = type_name
                    continue
                completed: Any = _DELEGATE
                if kind != _NORMAL:
                    try:
                        value = getter(source)  # type: ignore[misc]
                    except Exception:
                        value = NOT_READY
                    if value is None:
                        if not non_null:
                            result[key] = None
                            continue
                    elif value is NOT_READY:
                        pass
                    elif kind == _LEAF:
                        completed = self._coerce(detail, value)
                        if completed is not _DELEGATE:
                            result[key] = completed
                            continue
                    else:
                        field_path = Path(path, key, type_name)
                        waiting = False
                        try:
                            if kind == _OBJECT:
                                completed = self._complete_object_value(
                                    detail, details, field_path, value
                                )
                                waiting = type(completed) is not dict
                            else:
                                completed = self._complete_list(detail, details, field_path, value)
                                waiting = type(completed) is not list
                            if waiting and completed is not _DELEGATE:
                                assert field_type is not None
                                completed = self._guard(completed, field_type, details, field_path)
                        except Exception as raw_error:
                            assert field_type is not None
                            self.handle_field_error(raw_error, field_type, details, field_path)
                            completed = None
                            waiting = False
                        if completed is not _DELEGATE:
                            result[key] = completed
                            if waiting:
                                pending.append(key)
                            continue
                # The normal way, from the start (nothing below ran yet).
                completed = self.execute_field(
                    plan.type, source, details, Path(path, key, type_name), None
                )
                if completed is Undefined:
                    continue
                result[key] = completed
                if is_awaitable(completed):
                    pending.append(key)
        except Exception:
            if pending:
                self.settle_in_background([result[key] for key in pending])
            raise
        if not pending:
            return result

        async def get_results() -> dict[str, Any]:
            if len(pending) == 1:
                result[pending[0]] = await result[pending[0]]
            else:
                awaited = await gather_with_cancel(*(result[key] for key in pending))
                result.update(zip(pending, awaited, strict=True))
            return result

        return get_results()

    def _complete_object_value(
        self, obj: _Object, details: FieldDetailsList, path: Path, value: Any
    ) -> Any:
        """An object position (complete_value + complete_object_value), or _DELEGATE
        before anything ran."""
        if type(value) not in obj.accepted and not self._accepts(obj, value):
            return _DELEGATE
        plan = self._plan(obj.type, details)
        if plan is None:
            return super().collect_and_execute_subfields(obj.type, details, path, value, None)
        return self._run_object(plan, value, path)

    def _complete_list(
        self, spec: _ListSpec, details: FieldDetailsList, path: Path, items: Any
    ) -> Any:
        """A list position (complete_iterable_value), or _DELEGATE before anything ran."""
        if type(items) is not list and type(items) is not tuple:
            return _DELEGATE
        item_type, item_non_null, leaf, obj = spec
        out: list[Any] = []
        append = out.append
        if leaf is not None:
            coerce = self._coerce
            for value in items:
                if value is None:
                    if item_non_null:
                        return _DELEGATE
                    append(None)
                    continue
                completed = coerce(leaf, value)
                if completed is _DELEGATE:
                    return _DELEGATE
                append(completed)
            return out
        assert obj is not None
        accepted = obj.accepted
        for value in items:
            if value is None:
                if item_non_null:
                    return _DELEGATE
            elif type(value) not in accepted and not self._accepts(obj, value):
                return _DELEGATE
        plan = self._plan(obj.type, details)
        if plan is not None:
            compiled = compiled_for(plan, self._plan, self.is_awaitable)
            if compiled is not None:
                compiled.runs += 1
                function = compiled.function
                for value in items:
                    completed = None if value is None else function(value)
                    if completed is _DELEGATE:
                        compiled.bail(plan)
                        out.clear()
                        break
                    append(completed)
                else:
                    return out
        pending: list[int] = []
        try:
            for index, value in enumerate(items):
                if value is None:
                    append(None)
                    continue
                item_path = Path(path, index, None)
                try:
                    if plan is None:
                        completed = super().collect_and_execute_subfields(
                            obj.type, details, item_path, value, None
                        )
                    else:
                        completed = self._complete_object(plan, value, item_path)
                    if type(completed) is not dict:
                        completed = self._guard(completed, item_type, details, item_path)
                        pending.append(index)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, details, item_path)
                    completed = None
                append(completed)
        except Exception:
            if pending:
                self.settle_in_background([out[index] for index in pending])
            raise
        if not pending:
            return out

        async def get_completed() -> list[Any]:
            if len(pending) == 1:
                out[pending[0]] = await out[pending[0]]
            else:
                awaited = await gather_with_cancel(*(out[index] for index in pending))
                for index, sub in zip(pending, awaited, strict=True):
                    out[index] = sub
            return out

        return get_completed()

    def _accepts(self, obj: _Object, value: Any) -> bool:
        return accepts(obj, value, self.is_awaitable)

    async def _guard(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        details: FieldDetailsList,
        path: Path,
    ) -> Any:
        """Await a completion below a fast position, handling its error there."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def _coerce(self, leaf: _Leaf, value: Any) -> Any:
        """The coerced leaf, or _DELEGATE when graphql-core must complete it."""
        return coerce_leaf(leaf, value, self.is_awaitable)
