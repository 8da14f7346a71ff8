"""Compiled plans: a selection that is completed again and again (every real client sends
the same few documents) becomes one generated Python function per object plan, as
graphql-jit does for JavaScript.

A plan of graph/execution/plans.py is a tuple of entries that `FastListExecution`
interprets for every object: per field a tuple unpacking, a kind dispatch, a getter call
and a coercion call. For a 300-seat map that is ~600 objects and ~2,100 leaves per
request. The compiled function does the same work in straight-line code made for that
selection: `src.number` for a plain attribute, `type(v) is str` for a built-in String,
one loop per list, the child object's own function for an object, and one dict display
with the response keys in the plan's order.

It compiles only what needs no execution machinery: a plan whose entries are all
`__typename`, leaves, objects or lists (plain attributes or ready values), recursively. A
plan with a field that must run its resolver (`_NORMAL`) is not compiled; the interpreted
fast path completes it, and its children may be compiled.

The rule that keeps results identical: a compiled function either returns the finished
result of its whole subtree, or `_DELEGATE` ("bail") as soon as anything is unusual (a
value not ready, null in a non-null position, a class not yet known to be accepted, a value
its leaf does not coerce, a list that is not a list or tuple, an exception anywhere). It
never runs a resolver nor builds an error, and everything it reads (plain attributes, ready
values, coercions) has no side effects, so after a bail the interpreted path completes the
same subtree from the start, with its Paths, errors and nulls exactly as graphql-core
gives them. A plan whose function keeps bailing is given up (`_Compiled.bail`).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any, Final

from graphql import GraphQLObjectType

from graph.execution.compat import FieldDetailsList
from graph.execution.plans import (
    _DELEGATE,
    _LEAF,
    _LIST,
    _MAX_INT,
    _MIN_INT,
    _OBJECT,
    _TYPENAME,
    IsAwaitable,
    _Entry,
    _Leaf,
    _ListSpec,
    _Object,
    _Plan,
    accepts,
    coerce_leaf,
)
from graph.execution.ready import NOT_READY

COMPILE_AFTER: Final = 2  # uses of a plan before it is compiled (one-off plans stay interpreted)
_GIVE_UP_BAILS: Final = 16  # a compiled plan that bailed this often ...
_GIVE_UP_SHARE: Final = 8  # ... and on more than 1 use in this many is given up

PlanFor = Callable[[GraphQLObjectType, FieldDetailsList], _Plan | None]


class _Compiled:
    """A plan's compiled function, the is_awaitable it was compiled for, and its record."""

    __slots__ = ("bails", "function", "is_awaitable", "runs")

    def __init__(self, function: Callable[[Any], Any], is_awaitable: IsAwaitable) -> None:
        self.function = function
        self.is_awaitable = is_awaitable
        self.runs = 0
        self.bails = 0

    def bail(self, plan: _Plan) -> None:
        """Count a bail; give the plan up when bails are frequent (the work before a bail
        is wasted, e.g. a ready value that is never ready for this selection)."""
        self.bails += 1
        if self.bails > _GIVE_UP_BAILS and self.bails * _GIVE_UP_SHARE > self.runs:
            plan.compiled[0] = None


def compiled_for(plan: _Plan, plan_for: PlanFor, is_awaitable: IsAwaitable) -> _Compiled | None:
    """The plan's compiled function (compiling it on its COMPILE_AFTER-th use), or None."""
    slot = plan.compiled
    state = slot[0]
    if type(state) is int:
        if state + 1 < COMPILE_AFTER:
            slot[0] = state + 1
            return None
        slot[0] = None  # while compiling, and for good if it cannot be compiled
        function = compile_plan(plan, plan_for, is_awaitable)
        if function is None:
            return None
        state = slot[0] = _Compiled(function, is_awaitable)
    if state is None or state.is_awaitable is not is_awaitable:
        return None
    compiled: _Compiled = state
    return compiled


def compile_plan(
    plan: _Plan, plan_for: PlanFor, is_awaitable: IsAwaitable
) -> Callable[[Any], Any] | None:
    """One function per plan of the subtree, made from source; None when some plan of the
    subtree has a field that must run its resolver (or a @defer: plan_for gives None)."""
    generator = _Generator(plan_for, is_awaitable)
    name = generator.function(plan)
    if name is None:
        return None
    namespace = dict(generator.constants)
    code = compile("\n".join(generator.lines), f"<compiled plan {plan.name}>", "exec")
    exec(code, namespace)  # our own generated source: names and repr() literals only
    function: Callable[[Any], Any] = namespace[name]
    return function


class _Generator:
    def __init__(self, plan_for: PlanFor, is_awaitable: IsAwaitable) -> None:
        self.plan_for = plan_for
        self.constants: dict[str, Any] = {
            "BAIL": _DELEGATE,
            "NOT_READY": NOT_READY,
            "accepts": accepts,
            "coerce": coerce_leaf,
            "is_awaitable": is_awaitable,
        }
        self.lines: list[str] = []
        self.functions: dict[int, str | None] = {}  # id(plan) -> function name

    def constant(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self, plan: _Plan) -> str | None:
        if id(plan) in self.functions:
            return self.functions[id(plan)]
        name = f"complete_{len(self.functions)}"
        self.functions[id(plan)] = None  # a recursive selection is not compiled
        body: list[str] = []
        results: list[str] = []
        for index, entry in enumerate(plan.entries):
            target = f"r{index}"
            if entry.kind == _TYPENAME:
                body.append(f"{target} = {plan.name!r}")
            elif not self.entry(entry, target, body):
                return None
            results.append(f"{entry.key!r}: {target}")
        self.lines.append(f"def {name}(src):")
        self.lines.append("    try:")
        self.lines.extend(f"        {line}" for line in body or ["pass"])
        self.lines.append("    except Exception:")
        self.lines.append("        return BAIL")
        self.lines.append(f"    return {{{', '.join(results)}}}")
        self.functions[id(plan)] = name
        return name

    def entry(self, entry: _Entry, target: str, body: list[str]) -> bool:
        """Lines that read the field into `target` (or bail); False when not compilable."""
        if entry.kind not in (_LEAF, _OBJECT, _LIST):
            return False
        attribute = entry.attribute
        if attribute is not None and attribute.isidentifier() and not keyword.iskeyword(attribute):
            body.append(f"v = src.{attribute}")
        else:
            body.append(f"v = {self.constant(entry.getter, 'get')}(src)")
            body.append("if v is NOT_READY: return BAIL")
        body.append("if v is None:")
        body.append(f"    {target} = None" if not entry.non_null else "    return BAIL")
        body.append("else:")
        inner: list[str] = []
        if entry.kind == _LEAF:
            self.leaf(entry.detail, "v", target, inner)
        elif entry.kind == _OBJECT:
            if not self.object(entry.detail, entry.details, "v", target, inner):
                return False
        elif not self.list(entry.detail, entry.details, target, inner):
            return False
        body.extend(f"    {line}" for line in inner)
        return True

    def leaf(self, leaf: _Leaf, value: str, target: str, body: list[str]) -> None:
        name = self.constant(leaf, "leaf")
        fallback = [
            f"{target} = coerce({name}, {value}, is_awaitable)",
            f"if {target} is BAIL: return BAIL",
        ]
        same = leaf.same
        if same is None and leaf.memo_type is not None:
            # An enum: the member's name from the memo that coerce_leaf fills.
            memo = self.constant(leaf.memo, "memo")
            member = self.constant(leaf.memo_type, "type")
            body.append(f"if type({value}) is {member}: {target} = {memo}.get({value})")
            body.append(f"else: {target} = None")
            body.append(f"if {target} is None:")
            body.extend(f"    {line}" for line in fallback)
            return
        if same is None:
            body.extend(fallback)
            return
        check = f"type({value}) is {self.constant(same, 'type')}"
        if same is int:
            check += f" and {_MIN_INT} <= {value} <= {_MAX_INT}"
        body.append(f"if {check}: {target} = {value}")
        body.append("else:")
        body.extend(f"    {line}" for line in fallback)

    def object(
        self, obj: _Object, details: FieldDetailsList, value: str, target: str, body: list[str]
    ) -> bool:
        plan = self.plan_for(obj.type, details)
        child = None if plan is None else self.function(plan)
        if child is None:
            return False
        name = self.constant(obj, "obj")
        body.append(
            f"if type({value}) not in {name}.accepted "
            f"and not accepts({name}, {value}, is_awaitable): return BAIL"
        )
        body.append(f"{target} = {child}({value})")
        body.append(f"if {target} is BAIL: return BAIL")
        return True

    def list(
        self, spec: _ListSpec, details: FieldDetailsList, target: str, body: list[str]
    ) -> bool:
        item: list[str] = []
        if spec.leaf is not None:
            self.leaf(spec.leaf, "x", "y", item)
        elif spec.item is None or not self.object(spec.item, details, "x", "y", item):
            return False
        body.append("if type(v) is not list and type(v) is not tuple: return BAIL")
        body.append(f"{target} = []")
        body.append(f"append = {target}.append")
        body.append("for x in v:")
        body.append("    if x is None:")
        body.append("        return BAIL" if spec.item_non_null else "        append(None)")
        body.append("        continue")
        body.extend(f"    {line}" for line in item)
        body.append("    append(y)")
        return True
