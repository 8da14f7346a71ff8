"""Look-ahead: what a field's selection asks for, so a resolver can read the relations it
will need in the same statement or batch (graph/catalog/prefetch.py, `showtime(id:)`)."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from graph.context import Info

Selection = SelectedField | FragmentSpread | InlineFragment


def fields(selections: Iterable[Selection]) -> list[SelectedField]:
    """Selected fields with fragments flattened (directives and type conditions are
    ignored: looking ahead for a field that is skipped costs only the reading of it)."""
    out: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            out.append(selection)
        else:
            out += fields(selection.selections)
    return out


def selected_names(info: Info) -> set[str]:
    """The names of the fields the resolver's field selects on its own type (fragments
    included)."""
    return {f.name for f in fields(info.selected_fields[0].selections)}
