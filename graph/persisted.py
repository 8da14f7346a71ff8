"""Persisted queries at the HTTP edge (docs/persisted-queries.md): Apollo's automatic
persisted queries (`extensions.persistedQuery {version: 1, sha256Hash}`) and the
allow-list mode.

A request's document is resolved here before strawberry sees it: a hash alone is looked up
(this worker's LRU first, then PostgreSQL, so every instance shares what any one learned);
a text with a hash must match it, and is stored once it has parsed and validated (the
caller says so after execution: the document limits of graph/documents.py have run by then,
so nothing invalid or over a limit is ever stored). Refusals are `PersistedQueryError`s,
which the view answers as GraphQL-shaped errors with a code."""

from __future__ import annotations

import collections
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

from db.persisted import actions, queries
from db.session import Database
from graph.documents import parse_cached
from graph.settings import Settings

# A learned document is at most this long (characters); a longer one runs but is not stored,
# so its hash alone stays PersistedQueryNotFound and the client keeps sending the text.
# Clients' documents are a few kB; comments cost no tokens, so without this an anonymous
# client stored request-body-sized documents (400 of 250 kB: a 100 MB table) and the rows
# were bounded only in number.
MAX_LEARNED_DOCUMENT = 32 * 1024

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_VERSION_UNSUPPORTED = "PERSISTED_QUERY_VERSION_UNSUPPORTED"
PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A document found in this worker's cache is noted as used in PostgreSQL at most this often,
# so eviction keeps documents in use without a write per request.
TOUCH_INTERVAL_SECONDS = 600.0
# Top-level fields of an introspection document (allowed without registration when
# introspection is on, so GraphiQL works in allow-list mode outside production).
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


class PersistedQueryError(Exception):
    """A request refused by the persisted-query rules. `status` is the HTTP status: 200 for
    the two answers Apollo clients act on (not found: send the text; not supported: stop
    hashing), 400 for the others."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def sha256_hex(document: str) -> str:
    """What Apollo's clients send: the SHA-256 of the document's UTF-8 bytes, lowercase hex."""
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class Resolved:
    """The document to execute, and the hash to store it under once it has validated (None:
    nothing to store)."""

    query: str | None
    learn: str | None = None


@dataclass(slots=True)
class _Entry:
    document: str
    registered: bool
    touched: float


class PersistedQueries:
    """One per app: the mode, and the worker's LRU of documents by hash."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.persisted_queries
        self.max_learned = settings.persisted_queries_max_learned
        self.cache_size = settings.persisted_queries_cache_size
        self.introspection = settings.introspection
        self.max_tokens = settings.max_tokens
        self._cache: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        # A token bucket for learning: each new document is a write, and one anonymous
        # client could otherwise make every request one. Past it, documents still run;
        # they are stored later, when the client sends them again.
        self.learn_rate = settings.persisted_queries_learn_per_second
        self._learn_tokens = max(1.0, self.learn_rate)
        self._learn_checked = time.monotonic()

    def inactive(self, extensions: Any) -> bool:
        """True when a request needs nothing from here (the common case, checked cheaply)."""
        return self.mode != "allowlist" and (
            not isinstance(extensions, dict) or "persistedQuery" not in extensions
        )

    async def resolve(self, db: Database, query: str | None, extensions: Any) -> Resolved:
        """The document of a request (its text, or the one its hash names); raises
        PersistedQueryError when the request breaks the rules of the mode."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if self.mode == "allowlist" and query is not None:
                await self._require_allowed(db, query, sha256_hex(query))
            return Resolved(query)
        if self.mode == "off":
            if query is None:
                raise PersistedQueryError(
                    PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported", status=200
                )
            return Resolved(query)
        digest = _check_extension(persisted)
        if query is None:
            document = await self._lookup(db, digest)
            if document is None:
                raise PersistedQueryError(
                    PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", status=200
                )
            return Resolved(document)
        if sha256_hex(query) != digest:
            raise PersistedQueryError(
                PERSISTED_QUERY_HASH_MISMATCH,
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query.",
            )
        if self.mode == "allowlist":
            await self._require_allowed(db, query, digest)
            return Resolved(query)
        if digest in self._cache or len(query) > MAX_LEARNED_DOCUMENT:
            return Resolved(query)
        return Resolved(query, learn=digest)

    async def learn(self, db: Database, digest: str, document: str) -> None:
        """Store a document that has parsed and validated (APQ mode only), unless this worker
        has learned as many as its rate allows just now."""
        if not self._may_learn():
            return
        async with db.transaction() as session:
            await actions.learn(session, digest, document, self.max_learned)
        self._remember(digest, document, registered=False, touched=time.monotonic())

    def _may_learn(self) -> bool:
        now = time.monotonic()
        capacity = max(1.0, self.learn_rate)
        self._learn_tokens = min(
            capacity, self._learn_tokens + (now - self._learn_checked) * self.learn_rate
        )
        self._learn_checked = now
        if self._learn_tokens < 1.0:
            return False
        self._learn_tokens -= 1.0
        return True

    async def _lookup(self, db: Database, digest: str) -> str | None:
        """The document of a hash usable in this mode: from the cache, else PostgreSQL (and
        then noted as used). In allow-list mode only registered documents count."""
        entry = self._cache.get(digest)
        now = time.monotonic()
        if entry is None:
            row = await queries.find_document(db, digest)
            if row is None:
                return None
            entry = self._remember(digest, row.document, row.registered, touched=0.0)
        else:
            self._cache.move_to_end(digest)
        if self.mode == "allowlist" and not entry.registered:
            return None
        if not entry.touched or now - entry.touched >= TOUCH_INTERVAL_SECONDS:
            entry.touched = now
            async with db.transaction() as session:
                await actions.touch(session, digest)
        return entry.document

    async def _require_allowed(self, db: Database, query: str, digest: str) -> None:
        if await self._lookup(db, digest) is not None:
            return
        if self.introspection and _introspection_only(query, self.max_tokens):
            return
        raise PersistedQueryError(
            PERSISTED_QUERY_NOT_ALLOWED,
            "This server accepts only registered documents; this one is not registered.",
        )

    def _remember(self, digest: str, document: str, registered: bool, touched: float) -> _Entry:
        entry = _Entry(document, registered, touched)
        self._cache[digest] = entry
        self._cache.move_to_end(digest)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return entry


def _check_extension(persisted: Any) -> str:
    """The hash of a well-formed `persistedQuery` extension (version 1)."""
    if not isinstance(persisted, dict):
        raise PersistedQueryError(
            PERSISTED_QUERY_INVALID, "extensions.persistedQuery must be an object."
        )
    if persisted.get("version") != 1:
        raise PersistedQueryError(
            PERSISTED_QUERY_VERSION_UNSUPPORTED,
            "Only version 1 of extensions.persistedQuery is supported.",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
        raise PersistedQueryError(
            PERSISTED_QUERY_INVALID,
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits.",
        )
    return digest.lower()


def _introspection_only(query: str, max_tokens: int) -> bool:
    """Whether every operation of the document asks only for `__schema`, `__type` or
    `__typename` at its top level (what GraphiQL sends to draw the docs)."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        isinstance(selection, FieldNode) and selection.name.value in _INTROSPECTION_FIELDS
        for operation in operations
        for selection in operation.selection_set.selections
    )


def documents_of(text: str) -> list[str]:
    """The documents a client may send for the operations of one .graphql file: the text
    as written; the file as printed by a GraphQL library (what gql sends, with an
    operationName); and each operation alone with the fragments it uses, printed, as is
    and with `__typename` added as Apollo Client adds it (Apollo sends one operation per
    document). Raises GraphQLError on bad syntax."""
    document = parse(text)
    forms = [text, print_ast(document)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            used = _fragments_used(operation, fragments)
            alone = DocumentNode(definitions=(operation, *used))
            forms += [print_ast(alone), print_ast(with_typename(alone))]
    return list(dict.fromkeys(forms))


def with_typename(document: DocumentNode) -> DocumentNode:
    """The document as Apollo Client sends it: `__typename` added to every selection set
    except an operation's own, unless the set already asks for a field named `__…` (or
    belongs to a field marked `@export`)."""
    return cast(DocumentNode, visit(document, _AddTypename()))


class _AddTypename(Visitor):
    def enter_selection_set(
        self, node: SelectionSetNode, key: Any, parent: Any, *args: Any
    ) -> SelectionSetNode | None:
        if isinstance(parent, OperationDefinitionNode):
            return None
        if any(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections):
            return None
        if isinstance(parent, FieldNode) and any(
            d.name.value == "export" for d in parent.directives or ()
        ):
            return None
        typename = FieldNode(
            name=NameNode(value="__typename"), arguments=(), directives=(), selection_set=None
        )
        return SelectionSetNode(selections=(*node.selections, typename))


def _fragments_used(
    node: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments an operation spreads, directly or through other fragments, in the
    order of the file."""
    seen: set[str] = set()
    pending: list[Any] = [node]
    while pending:
        for spread in _spreads(pending.pop()):
            if spread not in seen and spread in fragments:
                seen.add(spread)
                pending.append(fragments[spread])
    return [fragment for name, fragment in fragments.items() if name in seen]


def _spreads(node: Any) -> list[str]:
    names: list[str] = []
    stack = [node.selection_set]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            else:
                stack.append(selection.selection_set)
    return names
