"""The committed schema.graphql is what the code generates."""

from __future__ import annotations

import difflib

from graph.schema import export_sdl
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


def test_every_type_and_field_is_described() -> None:
    """STYLE.md habit 7: the schema documents itself (checked for our own types)."""
    from graphql import GraphQLInputObjectType, GraphQLObjectType

    from graph.schema import build_schema
    from graph.settings import Settings

    schema = build_schema(Settings(env="test", jwt_secret="x"))._schema
    missing = []
    for name in ("User", "Me", "AuthPayload", "LoginInput", "RegisterInput", "LogoutPayload"):
        gtype = schema.type_map[name]
        assert isinstance(gtype, GraphQLObjectType | GraphQLInputObjectType)
        if not gtype.description:
            missing.append(name)
        missing += [f"{name}.{f}" for f, d in gtype.fields.items() if not d.description]
    assert missing == []
