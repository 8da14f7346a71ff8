"""Query cost limit: a validation rule that refuses queries whose worst case is too big.

Cost = number of fields the query could resolve, where a field under a paginated list counts
once per item the page may hold (`first`/`last`, or the default page size).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)

from graph.pagination import DEFAULT_PAGE, MAX_PAGE


def cost_limit_rule(max_cost: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments: dict[str, FragmentDefinitionNode] = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def _multiplier(self, node: FieldNode) -> int:
            for arg in node.arguments or ():
                if arg.name.value in ("first", "last"):
                    if isinstance(arg.value, IntValueNode):
                        return max(1, min(int(arg.value.value), MAX_PAGE))
                    if isinstance(arg.value, VariableNode):
                        return MAX_PAGE
            for arg in node.arguments or ():
                if arg.name.value in ("after", "before"):
                    return DEFAULT_PAGE
            return 1

        def _cost(self, selection_set: SelectionSetNode | None, seen: frozenset[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            for sel in selection_set.selections:
                if isinstance(sel, FieldNode):
                    inner = self._cost(sel.selection_set, seen)
                    total += 1 + self._multiplier(sel) * inner
                elif isinstance(sel, InlineFragmentNode):
                    total += self._cost(sel.selection_set, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    frag = self.fragments.get(name)
                    if frag is not None and name not in seen:
                        total += self._cost(frag.selection_set, seen | {name})
                if total > max_cost:
                    break
            return total

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self._cost(node.selection_set, frozenset())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"Query cost {cost} exceeds the limit of {max_cost}; ask for fewer "
                        "items or fields.",
                        node,
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                )

    return CostLimit
