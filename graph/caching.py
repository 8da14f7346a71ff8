"""Parse and validate each distinct query text once per process, in one schema extension.

It does what strawberry's ParserCache, MaxTokensLimiter, AddValidationRules and
ValidationCache do together. One extension instead of four because strawberry builds a
context for every extension in every phase of every request (about 15 µs per extension on
a `{ __typename }`, see bench/README.md). The rules must be the same classes on every
request: the validation cache keys on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

from graphql import ASTValidationRule
from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

CACHE_SIZE = 1024  # distinct query texts kept per process

_parse = lru_cache(maxsize=CACHE_SIZE)(parse)
_validate = lru_cache(maxsize=CACHE_SIZE)(validate_document)


class PreparedDocuments(SchemaExtension):
    def __init__(self, *, rules: Sequence[type[ASTValidationRule]], max_tokens: int) -> None:
        self.rules = tuple(rules)
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.graphql_document = _parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        assert context.graphql_document is not None
        context.pre_execution_errors = _validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
