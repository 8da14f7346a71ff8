"""The committed schema.graphql is what the code generates."""

from __future__ import annotations

import difflib

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    specified_scalar_types,
)

from graph.schema import build_schema, export_sdl
from graph.settings import Settings
from tests.conftest import ROOT


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    generated = export_sdl()
    if committed != generated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "schema.graphql (committed)",
                "export_sdl() (code)",
                n=2,
            )
        )
        raise AssertionError(
            "schema.graphql is out of date: run `make schema` and commit the result.\n"
            + diff[:4000]
        )


def test_every_type_field_and_argument_is_described() -> None:
    """STYLE.md habit 7: the schema documents itself. Every type of ours (not the `__`
    introspection types nor the built-in scalars), every field and input field, and every
    argument has a description."""
    schema = build_schema(Settings(env="test", jwt_secret="x"))._schema
    missing = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue
        assert isinstance(
            gtype,
            GraphQLObjectType
            | GraphQLInterfaceType
            | GraphQLInputObjectType
            | GraphQLUnionType
            | GraphQLEnumType
            | GraphQLScalarType,
        ), name
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType):
            for fname, field in gtype.fields.items():
                if not field.description:
                    missing.append(f"{name}.{fname}")
                missing += [
                    f"{name}.{fname}({arg})" for arg, a in field.args.items() if not a.description
                ]
        elif isinstance(gtype, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, d in gtype.fields.items() if not d.description]
    assert missing == []
