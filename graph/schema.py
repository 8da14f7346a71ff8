"""The schema: merges each domain's Query, Mutation and Subscription types."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import get_object_definition
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from graph.accounts.mutations import Mutation as AccountsMutation
from graph.accounts.queries import Query as AccountsQuery
from graph.accounts.subscriptions import Subscription as AccountsSubscription
from graph.booking.mutations import Mutation as BookingMutation
from graph.booking.queries import Query as BookingQuery
from graph.booking.subscriptions import Subscription as BookingSubscription
from graph.catalog.mutations import Mutation as CatalogMutation
from graph.catalog.queries import Query as CatalogQuery
from graph.cinemas.mutations import Mutation as CinemasMutation
from graph.cinemas.queries import Query as CinemasQuery
from graph.context import Context, Info, ViewerEachOperation
from graph.documents import (
    Prepared,
    PreparedDocuments,
    PreparedOperations,
    RequestLimits,
    cost_report,
    parse_cached,
    request_checks,
)
from graph.errors import ErrorCodes, coded_errors, log_graphql_errors
from graph.execution import execution_context_for
from graph.limits import ShapeLimits
from graph.logs import request_id_var
from graph.orders.mutations import Mutation as OrdersMutation
from graph.orders.queries import Query as OrdersQuery
from graph.orders.signing import Query as TicketSigningQuery
from graph.pages.mutations import Mutation as PagesMutation
from graph.pages.queries import Query as PagesQuery
from graph.relay import Node, resolve_nodes
from graph.reports.queries import Query as ReportsQuery
from graph.reviews.mutations import Mutation as ReviewsMutation
from graph.reviews.queries import Query as ReviewsQuery
from graph.scalars import DATE_RANGE
from graph.settings import Settings, get_settings
from graph.shop.mutations import Mutation as ShopMutation
from graph.shop.queries import Query as ShopQuery
from graph.showtimes.mutations import Mutation as ShowtimesMutation
from graph.showtimes.queries import Query as ShowtimesQuery
from graph.textcache import text_cache

log = logging.getLogger("marquee.errors")


@strawberry.type
class RelayQuery:
    @strawberry.field(description="Fetch any object by its global ID.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's global ID.")],
    ) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(description="Fetch objects by their global IDs, in the same order.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description="The objects' global IDs, at most MARQUEE_MAX_LIST_INPUT (default 100)."
            ),
        ],  # the limit is checked in graph/limits.py
    ) -> list[Node | None]:
        return await resolve_nodes(info, list(ids))


# Each domain adds its types here (one line each).
QUERIES: tuple[type, ...] = (
    RelayQuery,
    AccountsQuery,
    CatalogQuery,
    ReviewsQuery,
    CinemasQuery,
    ShowtimesQuery,
    BookingQuery,
    OrdersQuery,
    TicketSigningQuery,
    PagesQuery,
    ShopQuery,
    ReportsQuery,
)
MUTATIONS: tuple[type, ...] = (
    AccountsMutation,
    CatalogMutation,
    ReviewsMutation,
    BookingMutation,
    OrdersMutation,
    CinemasMutation,
    ShowtimesMutation,
    PagesMutation,
    ShopMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (AccountsSubscription, BookingSubscription)


def _merge(name: str, types: tuple[type, ...], description: str) -> type:
    """merge_types, with a description for the merged root type."""
    merged = merge_types(name, types)
    get_object_definition(merged, strict=True).description = description
    return merged


Query = _merge("Query", QUERIES, "What can be read.")
Mutation = _merge("Mutation", MUTATIONS, "What can be changed.")
Subscription = (
    _merge("Subscription", SUBSCRIPTIONS, "Events pushed to the client as they happen.")
    if SUBSCRIPTIONS
    else None
)


@text_cache()
def _operation_type(query: str, operation_name: str | None, max_tokens: int) -> str | None:
    """`query`, `mutation` or `subscription` for the operation a request runs, read from the
    parsed document (None when it does not parse or names no single operation)."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    return operations[0].operation.value


@text_cache()
def _operation_count(query: str, max_tokens: int) -> int:
    """How many operations the document defines (0 when it does not parse)."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return 0
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _unnamed_operation() -> GraphQLError:
    # The spec's rule, which strawberry relaxes (it runs the first operation when none is
    # named: a client would get an answer to a question it may not have meant).
    return GraphQLError(
        "The document has several operations: name the one to run with operationName.",
        extensions={"code": "BAD_USER_INPUT"},
    )


def _timeout_result(seconds: float) -> ExecutionResult:
    return ExecutionResult(
        data=None,
        errors=[
            GraphQLError(
                f"The operation ran longer than {seconds:g} s and was stopped; ask for less.",
                extensions={"code": "TIMEOUT"},
            )
        ],
    )


class Deadlines:
    """The time limit of operations in one worker: one watchdog task, not a timer per
    request (a timer per request cost ~40 µs of a 110 µs `{ __typename }`). An operation
    registers its task and deadline; the watchdog, awake only while operations run, cancels
    those past their deadline (within a quarter of the limit, at most a second, late), and
    the operation answers with a TIMEOUT error."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.interval = max(0.001, min(1.0, seconds / 4))
        self.running: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.watchdog: asyncio.Task[None] | None = None

    async def run(self, awaitable: Awaitable[ExecutionResult]) -> ExecutionResult:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under ASGI
            return await awaitable
        loop = asyncio.get_running_loop()
        self.running[task] = loop.time() + self.seconds
        if self.watchdog is None or self.watchdog.done():
            self.watchdog = loop.create_task(self._watch())
        try:
            return await awaitable
        except asyncio.CancelledError:
            if task not in self.expired:
                raise
            task.uncancel()
            # Neither a client's mistake nor a fault: a warning an operator may watch for.
            rid = request_id_var.get()
            log.warning(
                "graphql error code=TIMEOUT path=- request_id=%s",
                rid,
                extra={"code": "TIMEOUT", "path": "-", "request_id": rid},
            )
            return _timeout_result(self.seconds)
        finally:
            self.running.pop(task, None)
            self.expired.discard(task)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self.running:
            await asyncio.sleep(self.interval)
            now = loop.time()
            for task, deadline in list(self.running.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()


# `execute` gives one result: a subscription there (over GET, or POST without a streaming
# transport) would resolve its generator as a plain field and fail as an internal error.
# Without it among the allowed types strawberry refuses it (InvalidOperationTypeError: 400
# over HTTP). Subscriptions run through `stream` (WebSocket, streaming HTTP).
_ONE_RESULT = frozenset({OperationType.QUERY, OperationType.MUTATION})


class MarqueeSchema(strawberry.Schema):
    """strawberry's Schema with admission control and a time limit on every path (HTTP
    POST and GET, batches, WebSocket):

    - at most MARQUEE_MAX_CONCURRENT_REQUESTS queries execute at once in a worker, in FIFO
      order, and apart from them at most MARQUEE_MAX_CONCURRENT_MUTATIONS mutations
      (mutations mostly wait on row locks, and queueing them behind queries halved hold
      throughput; without a cap of their own, 32 holds at once per worker kept the
      connection pool opening and closing overflow connections, a PostgreSQL backend
      started for every few holds). Subscriptions do not wait. The kind of operation is
      read from the parsed document and the operation name, never from the text.
    - an operation that runs longer than MARQUEE_OPERATION_TIMEOUT_SECONDS is cancelled and
      answered with a `TIMEOUT` error (its transaction, if any, rolls back).

    A query or mutation already prepared (graph/documents.py) runs straight through
    graphql-core (`_run_prepared`), with the same checks, errors and extensions.
    """

    def __init__(
        self, *args: Any, settings: Settings, prepared: PreparedOperations, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.prepared = prepared
        self.mask = settings.env != "development"
        self.max_tokens = settings.max_tokens
        self.timeout = settings.operation_timeout_seconds
        self.deadlines = Deadlines(self.timeout)
        limit = settings.max_concurrent_requests
        self.admission: asyncio.Semaphore | None = asyncio.Semaphore(limit) if limit > 0 else None
        writes = settings.max_concurrent_mutations
        self.mutations: asyncio.Semaphore | None = asyncio.Semaphore(writes) if writes > 0 else None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every path (HTTP, WebSocket, subscription events) passes its errors here before
        ErrorCodes rewrites them: strawberry's default logs each at ERROR with a traceback,
        a FORBIDDEN as loudly as a crash. One line each instead (graph/errors.py)."""
        log_graphql_errors(errors)

    def _kind(self, query: str | None, operation_name: str | None) -> str | None:
        """`query`, `mutation` or `subscription` (None: it cannot be told)."""
        if query is None:
            return None
        return _operation_type(query, operation_name, self.max_tokens)

    @staticmethod
    def _note_writes(context: Any, kind: str | None) -> None:
        """A mutation's context reads from the primary from now on (Context.read_db)."""
        if isinstance(context, Context) and kind not in ("query", "subscription"):
            # A mutation, or a document whose operation cannot be told: the primary is safe.
            context.wrote = True

    def _slot(self, kind: str | None) -> Any:
        if kind == "query" and self.admission is not None:
            return self.admission
        if kind == "mutation" and self.mutations is not None:
            return self.mutations
        return contextlib.nullcontext()

    async def _timed(self, awaitable: Awaitable[ExecutionResult]) -> ExecutionResult:
        if self.timeout <= 0:
            return await awaitable
        return await self.deadlines.run(awaitable)

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if allowed_operation_types is None or OperationType.SUBSCRIPTION in allowed_operation_types:
            allowed_operation_types = _ONE_RESULT.intersection(
                allowed_operation_types or _ONE_RESULT
            )
        entry = None if query is None else self.prepared.get(query, operation_name)
        if entry is not None and entry.operation_type in allowed_operation_types:
            cost, errors = request_checks(
                self._schema,
                entry.document,
                query,
                entry.operation_name,
                variable_values,
                self.prepared.limits,
            )
            if not errors and entry.constant is not None:
                # Nothing to execute, admit or time (graph/documents.py, `constant_data`).
                data = dict(entry.constant)
                report = cost_report(
                    cost, self.prepared.limits.max_cost, operation_extensions, data
                )
                return ExecutionResult(data=data, errors=None, extensions=report)
            if not errors:  # else the full path answers with them
                prepared_kind = entry.operation_type.value
                self._note_writes(context_value, prepared_kind)
                prepared = self._run_prepared(
                    entry, cost, variable_values, context_value, root_value, operation_extensions
                )
                async with self._slot(prepared_kind), _releasing(context_value):
                    return await self._timed(prepared)
        if (
            operation_name is None
            and query is not None
            and _operation_count(query, self.max_tokens) > 1
        ):
            errors = [_unnamed_operation()]
            self.process_errors(errors)
            return PreExecutionError(data=None, errors=errors)
        kind = self._kind(query, operation_name)
        if query is not None:
            self._note_writes(context_value, kind)
        run = super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        async with self._slot(kind), _releasing(context_value):
            return await self._timed(run)

    async def _run_prepared(
        self,
        entry: Prepared,
        cost: int | None,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """What strawberry's `execute` gives for a document that passed parsing, validation
        and the request's checks, without its execution context and extension runner: the
        errors logged (`process_errors`) then coded (`ErrorCodes`), the cost reported
        (`PreparedDocuments`). An exception from graphql-core (never seen) is answered as
        strawberry answers it: one error, logged, not coded."""
        try:
            result = graphql_execute(
                self._schema,
                entry.document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=entry.operation_name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                executor_class=self.execution_context_class,
                operation_extensions=operation_extensions,
            )
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # as strawberry's execute
            error = (
                exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            )
            self.process_errors([error])
            report = cost_report(cost, self.prepared.limits.max_cost, operation_extensions, None)
            return ExecutionResult(data=None, errors=[error], extensions=report)
        errors = result.errors
        if errors:
            self.process_errors(errors)
            errors = coded_errors(errors, mask=self.mask)
        report = cost_report(cost, self.prepared.limits.max_cost, operation_extensions, result.data)
        return ExecutionResult(data=result.data, errors=errors, extensions=report)

    async def stream(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        """The WebSocket path: a query or mutation yields one result, which is admitted
        and timed as over HTTP; a subscription streams as strawberry streams it. A document
        that does not parse, or has several operations and names none, is refused as over
        HTTP: one coded error, and the connection stays open."""
        refused = self._refusal(query, operation_name)
        if refused is not None:
            return self._refused(refused)
        kind = self._kind(query, operation_name)
        if query is not None:
            self._note_writes(context_value, kind)
        source = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        if kind not in ("query", "mutation"):
            return source
        return self._single(source, kind, context_value)

    def _refusal(self, query: str | None, operation_name: str | None) -> GraphQLError | None:
        """What refuses a document before strawberry's stream sees it. Its parse raised out
        of the operation's task (the client got a bare `complete`, or over the legacy
        protocol nothing, and the log a traceback quoting the text), and it ran the first of
        several unnamed operations, which HTTP refuses."""
        if query is None:
            return None
        try:
            parse_cached(query, self.max_tokens)
        except GraphQLError as error:
            return GraphQLError(
                error.message,
                source=error.source,
                positions=error.positions,
                extensions={"code": "BAD_USER_INPUT"},
            )
        if operation_name is None and _operation_count(query, self.max_tokens) > 1:
            return _unnamed_operation()
        return None

    async def _refused(self, error: GraphQLError) -> AsyncGenerator[Any, None]:
        self.process_errors([error])
        yield PreExecutionError(data=None, errors=[error])

    async def _single(self, source: Any, kind: str, context: Any) -> AsyncGenerator[Any, None]:
        async with contextlib.aclosing(source):
            async with self._slot(kind), _releasing(context):
                result = await self._timed(anext(source))
            after_write = getattr(context, "after_write", None)
            if kind == "mutation" and after_write is not None:
                await after_write()
            yield result
            async for more in source:
                yield more


@contextlib.asynccontextmanager
async def _releasing(context: Any) -> AsyncIterator[None]:
    """Once an operation has its result, its context lets go of what its loaders loaded.
    graphql-core's executor is in a reference cycle (its resolve-info helpers are its own
    bound methods) and holds the context: without this, every row and object a request
    loaded (~500 for a movie page) would wait for the cyclic garbage collector, whose
    pauses then reach tens of ms under load. With it, they go by reference counting."""
    try:
        yield
    finally:
        if isinstance(context, Context):
            context.reset_loaders()


def build_schema(
    settings: Settings | None = None,
    execution_context_class: type[Any] | None = None,
) -> MarqueeSchema:
    settings = settings or get_settings()
    # Factories, not instances: an extension holds per-request state.
    s = settings
    limits = ShapeLimits(
        max_depth=s.max_query_depth,
        max_aliases=s.max_aliases,
        max_fragment_spreads=s.max_fragment_spreads,
        max_duplicate_fields=s.max_duplicate_fields,
    )
    request_limits = RequestLimits(max_cost=s.max_query_cost, max_list_input=s.max_list_input)
    prepared = PreparedOperations(request_limits, enabled=s.prepared_operations)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        # Parser + validation caches, token limit, document limits and the cost
        # (graph/documents.py, graph/limits.py); it records prepared operations.
        lambda: PreparedDocuments(
            limits=limits,
            max_tokens=s.max_tokens,
            request_limits=request_limits,
            prepared=prepared,
        ),
        lambda: ErrorCodes(mask=s.env != "development"),
        # A WebSocket's viewer is checked again for each operation (graph/context.py).
        ViewerEachOperation,
    ]
    if not s.introspection:
        extensions.append(DisableIntrospection)
    return MarqueeSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        scalar_overrides=DATE_RANGE,
        # Subscription events shared by many subscribers are executed once (fan-out), and
        # lists of plain objects (seat maps) are completed in one pass (graph/execution/),
        # unless MARQUEE_FAST_EXECUTION is off or its compatibility check failed.
        execution_context_class=execution_context_class or execution_context_for(settings),
        settings=settings,
        prepared=prepared,
    )


def export_sdl() -> str:
    return build_schema(Settings(env="test", jwt_secret="x")).as_str() + "\n"
