"""The Starlette app: /graphql (HTTP + WebSocket), /healthz, /readyz, /metrics."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, overload

import orjson
from cross_web import HTTPException
from graphql import GraphQLSchema, VariableDefinitionNode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

import db.session as db_session
from db.session import Database, create_engine
from graph.accounts.revocations import start_session_revocations
from graph.auth import bearer_token
from graph.booking.subscriptions import start_seat_hub
from graph.booking.sweeper import start_sweeper
from graph.cacheable import Plan, cached_plan, is_mutation
from graph.catalog.trending import start_trending_refresher
from graph.context import Context
from graph.database import database_url, normalize_url, read_database_url
from graph.errors import BAD_USER_INPUT, ApiError, log_client_error
from graph.gc_tuning import tune_gc
from graph.logs import configure_logging
from graph.orders import signing as orders_signing
from graph.orders.services import start_payment_work
from graph.orders.webhooks import payment_webhook
from graph.outbox.worker import start_outbox_worker
from graph.persisted import PersistedQueries, PersistedQueryError
from graph.reports import export as reports_export
from graph.reports.rollup import start_sales_rollup
from graph.response_cache import (
    RESPONSE_CACHE_SERVICE,
    ResponseCache,
    Snapshot,
    etag_of,
    start_response_cache,
)
from graph.schema import build_schema
from graph.settings import Settings, get_settings
from graph.transport import LeanPost, MarqueeApp, RequestMiddleware
from graph.web import graphiql
from graph.web import routes as web_routes

log = logging.getLogger("marquee.http")

# Domains with background services (the realtime listener, the hold sweeper) register
# start-up hooks here: each gets the app state and returns an async cleanup callable.
StartupHook = Callable[[Any], Awaitable[Callable[[], Awaitable[None]]]]
STARTUP_HOOKS: list[StartupHook] = [
    start_seat_hub,
    start_session_revocations,
    start_response_cache,
    start_sweeper,
    start_trending_refresher,
    start_sales_rollup,
    start_payment_work,
    start_outbox_worker,
    tune_gc,
]


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """WebSocket messages as text frames: GraphQL-over-WebSocket clients (graphql-ws,
    Apollo) parse text messages, but `encode_json` gives bytes (orjson, for HTTP).

    Incoming messages are checked before strawberry's protocol handler sees them: one larger
    than the request body limit, or one that is not a JSON object (or a `subscribe` whose
    payload is not an object with a string `query`), closes the connection with 4400."""

    async def send_json(self, message: Any) -> None:
        try:
            view: MarqueeGraphQL = self.view  # type: ignore[assignment]
            await self.ws.send_text(view.encode_json(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        view: MarqueeGraphQL = self.view  # type: ignore[assignment]
        limit = view.state.settings.max_body_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    await self.ws.close(4400, "Messages must be text.")
                    return
                if len(text) > limit:
                    await self.ws.close(4400, f"Message larger than {limit} bytes.")
                    return
                try:
                    data = orjson.loads(text)
                except orjson.JSONDecodeError:
                    if ignore_parsing_errors:
                        continue
                    await self.ws.close(4400, "Message is not valid JSON.")
                    return
                if not _valid_ws_message(data):
                    await self.ws.close(4400, "Malformed message.")
                    return
                if not await self._allowed(view, data):
                    continue
                yield data
        except WebSocketDisconnect:
            return

    async def _allowed(self, view: MarqueeGraphQL, data: Any) -> bool:
        """In allow-list mode a subscription's document must be registered too; one that is
        not gets an `error` message for its id (graphql-transport-ws) and is not run."""
        if data["type"] not in ("subscribe", "start") or view.persisted.inactive(None):
            return True
        try:
            await view.persisted.resolve(view.state.db, data["payload"]["query"], None)
        except PersistedQueryError as exc:
            log_client_error(exc.code, exc.message)
            message = {"id": data["id"], "type": "error", "payload": exc.body()["errors"]}
            await self.ws.send_text(orjson.dumps(message).decode())
            return False
        return True


def _valid_ws_message(data: Any) -> bool:
    """A graphql-transport-ws message strawberry's handler can read without failing."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return False
    if data["type"] in ("subscribe", "start"):  # graphql-transport-ws, legacy graphql-ws
        payload = data.get("payload")
        return (
            isinstance(data.get("id"), str)
            and isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables"), dict | None)
            and isinstance(payload.get("operationName"), str | None)
        )
    if data["type"] in ("complete", "stop"):
        return isinstance(data.get("id"), str)
    return True


@dataclass
class _PersistedRequestData(GraphQLRequestData):
    """An operation of strawberry's path, with the hash to store its document under once it
    has validated (automatic persisted queries)."""

    learn: str | None = None


@dataclass(slots=True)
class _Lookup:
    """An operation the response cache answers (`hit`: the stored body) or will keep the
    answer of, under `key`, if the tables of `plan` still have the generations of
    `snapshot` once it has run."""

    cache: ResponseCache
    key: tuple[str, str | None, bytes]
    plan: Plan
    snapshot: Snapshot
    hit: bytes | None


# A request scope key: the GET being answered may be kept by the response cache.
_FOR_CACHE = "marquee.for_cache"


def _cache_store(request: Request, lookup: _Lookup, response: Response) -> None:
    """Keep an answer that succeeded without any error (and with data: a response over
    the size limit is replaced by an error without data, graph/app.py encode_json)."""
    body = getattr(response, "body", None)
    if (
        lookup.hit is None
        and response.status_code == 200
        and isinstance(body, bytes)
        and body.startswith(b'{"data":{')
        and not request.scope.get(_RESULT_ERRORS)
    ):
        lookup.cache.put(lookup.key, body, lookup.plan.tables, lookup.snapshot)
        request.scope[_CACHED_ETAG] = etag_of(body)


def _executed(result: Any) -> bool:
    """Whether an operation got as far as execution (so its document parsed, validated and
    passed every limit): only such a document is stored as a persisted query."""
    return getattr(result, "data", None) is not None


class MarqueeGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]

    def __init__(self, *args: Any, state: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state
        # Incremental delivery (@defer/@stream) returns other results: strawberry's path only.
        self._short_post = not self.schema.config.enable_experimental_incremental_execution
        self.max_response_bytes = state.settings.max_response_bytes
        self.persisted = PersistedQueries(state.settings)
        self.persisted_max_age = state.settings.persisted_queries_max_age
        self._graphql_schema: GraphQLSchema = self.schema._schema  # type: ignore[attr-defined]
        # Open WebSocket connections of this worker, in all and per client address.
        self.ws_total = 0
        self.ws_per_address: collections.Counter[str] = collections.Counter()

    @overload
    async def run(
        self, request: Request, context: Context | UnsetType = ..., root_value: None = ...
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: Context | UnsetType = ..., root_value: None = ...
    ) -> WebSocket: ...

    async def run(
        self,
        request: Request | WebSocket,
        context: Context | UnsetType = UNSET,
        root_value: UnsetType | None = UNSET,
    ) -> Response | WebSocket:
        """A shorter path for the common request, a POST of one JSON operation: the same
        steps as strawberry's `run` (context, schema.execute, process_result,
        create_response) without the content negotiation only other requests need, which
        took a third of the view's time on `{ __typename }` (bench/README.md). Anything
        else (GET, GraphiQL, batches, multipart, streaming, bad JSON) takes strawberry's
        path, which reads the body Starlette has kept."""
        if (
            self._short_post
            and context is UNSET
            and root_value is UNSET
            and isinstance(request, Request)
            and request.scope["method"] == "POST"
        ):
            operation = await _plain_json_operation(request)
            if operation is not None:
                # Admission control and the time limit are the schema's (graph/schema.py),
                # so every path gets them.
                return await self._execute_post(request, operation)
        if isinstance(request, Request) and request.scope["method"] == "POST":
            content_type = _content_type(request)
            if content_type != "application/json" and not (
                self.multipart_uploads_enabled and content_type == "multipart/form-data"
            ):
                raise HTTPException(
                    415, "Send the operation as JSON: Content-Type: application/json."
                )
        lookup = None
        if (
            isinstance(request, Request)
            and request.scope["method"] == "GET"
            and context is UNSET
            and root_value is UNSET
            and self._live_cache() is not None
        ):
            lookup = await self._get_lookup(request)
            if lookup is not None and lookup.hit is not None:
                return Response(lookup.hit, media_type="application/json")
            # Read what the cache may keep from the primary (get_context reads the flag).
            request.scope[_FOR_CACHE] = lookup is not None
        try:
            response = await super().run(request, context, root_value)  # type: ignore[arg-type]
        except RecursionError:
            # JSON nested thousands deep (a body, or GET's `variables`): strawberry's
            # json.loads recurses per level. A client error, answered as one.
            raise HTTPException(400, "The request's JSON is nested too deeply.") from None
        if lookup is not None and isinstance(request, Request) and isinstance(response, Response):
            _cache_store(request, lookup, response)
        return response

    async def _execute_post(self, request: Request, operation: dict[str, Any]) -> Response:
        learn = None
        extensions = operation.get("extensions")
        if not self.persisted.inactive(extensions):
            resolved = await self.persisted.resolve(self.state.db, operation["query"], extensions)
            learn = resolved.learn
        lookup = self._lookup(
            request,
            operation["query"],
            operation.get("variables"),
            operation.get("operationName"),
            extensions,
        )
        if lookup is not None and lookup.hit is not None:
            if learn is not None:
                await self.persisted.learn(self.state.db, learn, operation["query"])
            return Response(lookup.hit, media_type="application/json")
        context = await self.get_context(request, response=None)
        context.for_cache = lookup is not None
        try:
            result = await self.schema.execute(
                operation["query"],
                root_value=None,  # as get_root_value gives (not overridden here)
                variable_values=operation.get("variables"),
                context_value=context,
                operation_name=operation.get("operationName"),
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=operation.get("extensions"),
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason("POST")) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        if learn is not None and _executed(result):
            await self.persisted.learn(self.state.db, learn, operation["query"])
        if _executed(result):
            await self._after_write(operation["query"], operation.get("operationName"))
        response_data = await self.process_result(request=request, result=result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        # What strawberry's create_response gives with the sub-response get_context never
        # hands on (so nothing can set its headers or status): the body, 200, JSON.
        response = Response(self.encode_json(response_data), media_type="application/json")
        if lookup is not None:
            _cache_store(request, lookup, response)
        return response

    def _live_cache(self) -> ResponseCache | None:
        cache: ResponseCache | None = self.state.services.get(RESPONSE_CACHE_SERVICE)
        return cache if cache is not None and cache.live else None

    def _lookup(
        self,
        request: Request,
        query: str | None,
        variables: Any,
        operation_name: Any,
        extensions: Any,
    ) -> _Lookup | None:
        """The response cache's answer to an operation (`hit`), or what to store its answer
        under; None when the answer is not to be cached (graph/cacheable.py, docs/caching.md):
        a signed-in request (Authorization or Cookie), extensions other than a persisted
        query's hash (`cost` changes the answer), an operation with a field not declared
        public, or one whose variables set an input that depends on the clock."""
        cache = self._live_cache()
        if (
            cache is None
            or query is None
            or "authorization" in request.headers
            or "cookie" in request.headers
            or not isinstance(variables, dict | None)
            or not isinstance(operation_name, str | None)
            or (extensions and (not isinstance(extensions, dict) or set(extensions) - _PQ))
        ):
            return None
        plan = cached_plan(
            self._graphql_schema, query, operation_name, self.state.settings.max_tokens
        )
        if plan is None or not plan.allows(variables):
            return None
        key = (query, operation_name, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
        entry = cache.get(key)
        if entry is not None:
            request.scope[_CACHED_ETAG] = entry.etag
            return _Lookup(cache, key, plan, (), entry.body)
        return _Lookup(cache, key, plan, cache.snapshot(plan.tables), None)

    async def _get_lookup(self, request: Request) -> _Lookup | None:
        """`_lookup` for a GET: its parameters read as strawberry reads them, a persisted
        query's hash resolved to its document (a document learned on the way is stored
        on a hit too, as it would be when executed)."""
        params = request.query_params
        try:
            variables = orjson.loads(params["variables"]) if "variables" in params else None
            extensions = orjson.loads(params["extensions"]) if "extensions" in params else None
        except orjson.JSONDecodeError:
            return None  # strawberry's path answers with its error
        query = params.get("query")
        learn = None
        if not self.persisted.inactive(extensions):
            resolved = await self.persisted.resolve(self.state.db, query, extensions)
            query, learn = resolved.query, resolved.learn
        lookup = self._lookup(request, query, variables, params.get("operationName"), extensions)
        if lookup is not None and lookup.hit is not None and learn is not None and query:
            await self.persisted.learn(self.state.db, learn, query)
        return lookup

    async def _after_write(self, query: str, operation_name: Any) -> None:
        """After a mutation, wait until this worker's cache has heard every change committed
        so far, so the client's next read (here) sees its write (graph/response_cache.py)."""
        if is_mutation(query, operation_name, self.state.settings.max_tokens):
            await self._cache_barrier()

    async def _cache_barrier(self) -> None:
        cache = self._live_cache()
        if cache is not None:
            await cache.sync()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As strawberry's, but a request it cannot use (malformed JSON, a mutation over GET,
        no query) gets a GraphQL-shaped JSON error with a code instead of plain text."""
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = negotiate(request.headers.get("accept", ""))
        if media_type is None and not self._wants_ide(request):
            await _not_acceptable()(scope, receive, send)
            return
        response = await self._answer(request, media_type, self.run(request))
        if request.method == "GET" and "persistedQuery" in request.query_params.get(
            "extensions", ""
        ):
            # A CDN may cache a 200 without Cache-Control (PersistedQueryNotFound is one).
            response = _http_cache(request, response, self.persisted_max_age)
        elif request.method == "GET" and _signed_in(request):
            # A viewer's answer is theirs: no cache, shared or the browser's, keeps it.
            response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)

    async def answer_post(
        self, request: Request, operation: dict[str, Any], media_type: str
    ) -> Response:
        """The lean path's answer (graph/transport.py) to a JSON POST of one plain operation
        (`plain_operation`) whose Accept gave `media_type`: as `__call__` answers it."""
        return await self._answer(request, media_type, self._execute_post(request, operation))

    async def _answer(
        self, request: Request, media_type: str | None, answer: Awaitable[Response]
    ) -> Response:
        """`answer` with the refusals it raises turned into coded responses, and the status
        and media type of application/graphql-response+json applied."""
        graphql_response = media_type == GRAPHQL_RESPONSE_JSON
        if graphql_response:
            request.scope[_GRAPHQL_RESPONSE] = [0, 0]  # results, request errors among them
        response: Response
        try:
            response = await answer
        except HTTPException as exc:
            log_client_error(BAD_USER_INPUT, exc.reason)
            response = _http_error(exc, request.method, media_type or "application/json")
        except PersistedQueryError as exc:
            response = _persisted_query_error(exc, media_type or "application/json")
        else:
            if graphql_response and response.media_type == "application/json":
                response.headers["content-type"] = GRAPHQL_RESPONSE_CONTENT_TYPE
                results, request_errors = request.scope[_GRAPHQL_RESPONSE]
                # One operation that failed before execution: a request error (400). A
                # batch (when enabled) keeps its status: the spec speaks of single requests.
                if results == 1 and request_errors == 1:
                    response.status_code = 400
        return response

    @staticmethod
    def media_type(accept: str) -> str | None:
        """The response media type for an Accept header (`negotiate`)."""
        return negotiate(accept)

    @staticmethod
    def plain_operation(body: bytes) -> dict[str, Any] | None:
        """The operation of a JSON body that is one object with a string `query` (and
        `variables` and `extensions` objects or null, `operationName` a string or null), or
        None for anything else (strawberry's path answers it, or refuses it with a 400)."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # strawberry's path answers with its error
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("query"), str)
            or not isinstance(data.get("variables"), dict | None)
            or not isinstance(data.get("extensions"), dict | None)
            or not isinstance(data.get("operationName"), str | None)
        ):
            return None
        return data

    def _wants_ide(self, request: Request) -> bool:
        """A browser's GET for GraphiQL (text/html, no query): strawberry answers it."""
        return request.method == "GET" and self.should_render_graphql_ide(
            self.request_adapter_class(request)
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET that names a persisted query by hash (no `query`, but `extensions`):
        that is an operation, whatever its Accept says."""
        params: QueryParams = request.query_params
        return "extensions" not in params and super().should_render_graphql_ide(request)

    def decode_json(self, data: str | bytes) -> object:
        """orjson, whose errors are `json.JSONDecodeError`s, which strawberry answers with a
        400. The standard library's `json` raised others for a body that is not UTF-8 and
        for an integer of more than 4,300 digits, and they became 500s; orjson refuses both
        (and any integer outside 64 bits) as malformed JSON."""
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (bytes: `variables` and `extensions` of a GET come as text) must
        be an object, or a list for a batch, which is refused later with its own message:
        strawberry read a body of `"x"`, `1` or `null` as an object and failed with a 500."""
        decoded = super().parse_json(data)
        if isinstance(data, bytes) and not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return decoded

    async def parse_http_body(self, request: Any) -> Any:
        """Strawberry's parse, then each operation's document resolved by the persisted-query
        rules (graph/persisted.py): a hash alone becomes the document it names."""
        data = await super().parse_http_body(request)
        items = data if isinstance(data, list) else [data]
        resolved_items = []
        for item in items:
            if not isinstance(item.operation_name, str | None):
                # A list or an object was looked up as a key and failed (a 500).
                raise HTTPException(
                    400,
                    "The GraphQL operation's `operationName` must be a string or null, if "
                    "provided.",
                )
            if self.persisted.inactive(item.extensions):
                resolved_items.append(item)
                continue
            resolved = await self.persisted.resolve(self.state.db, item.query, item.extensions)
            resolved_items.append(
                _PersistedRequestData(
                    query=resolved.query,
                    variables=item.variables,
                    operation_name=item.operation_name,
                    extensions=item.extensions,
                    protocol=item.protocol,
                    learn=resolved.learn,
                )
            )
        return resolved_items if isinstance(data, list) else resolved_items[0]

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> Any:
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if (
            isinstance(request_data, _PersistedRequestData)
            and request_data.learn is not None
            and request_data.query is not None
            and _executed(result)
        ):
            await self.persisted.learn(self.state.db, request_data.learn, request_data.query)
        if request_data.query is not None and _executed(result):
            await self._after_write(request_data.query, request_data.operation_name)
        return result

    async def process_result(self, request: Request, result: Any) -> GraphQLHTTPResponse:  # type: ignore[override]
        data = await super().process_result(request, result)
        if getattr(result, "errors", None):
            request.scope[_RESULT_ERRORS] = True  # never cached
        # Under application/graphql-response+json, an operation that failed before execution
        # (syntax, validation, limits, variables) has no `data` entry and answers 400.
        counts = request.scope.get(_GRAPHQL_RESPONSE)
        if counts is not None:
            counts[0] += 1
            if _request_error(result):
                counts[1] += 1
                data.pop("data", None)
        return data

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Caps open connections per worker and per client address; one over a cap is
        refused (HTTP 403 to the upgrade request) before any work is done for it."""
        settings = self.state.settings
        address = (scope.get("client") or ("-", 0))[0]
        if (
            self.ws_total >= settings.max_ws_connections
            or self.ws_per_address[address] >= settings.max_ws_connections_per_address
        ):
            log.warning("websocket refused: too many connections", extra={"client": address})
            await WebSocket(scope, receive, send).close(1013, "Too many connections.")
            return
        self.ws_total += 1
        self.ws_per_address[address] += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ws_total -= 1
            self.ws_per_address[address] -= 1
            if self.ws_per_address[address] <= 0:
                del self.ws_per_address[address]

    async def render_graphql_ide(self, request: Request) -> Response:
        """Marquee's own GraphiQL page (graph/web/graphiql.py) instead of strawberry's,
        whose files come from a CDN: nothing on it leaves the machine."""
        return graphiql.page(request.url.path)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        token = bearer_token(request.headers.get("authorization"))
        context = Context(
            db=self.state.db,
            settings=self.state.settings,
            request=request,
            token=token,
            services=self.state.services,
        )
        context.for_cache = bool(request.scope.get(_FOR_CACHE))
        if isinstance(request, WebSocket):
            context.after_write = self._cache_barrier
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A token in `connection_init` ({"Authorization": "Bearer …"}) signs the
        connection in; an invalid one closes it with 4403; none stays anonymous."""
        params = context.connection_params or {}
        raw = None
        if isinstance(params, dict):
            raw = params.get("Authorization") or params.get("authorization")
        if raw is not None:
            token = bearer_token(str(raw))
            if token is None:
                raise ConnectionRejectionError({"message": "Malformed Authorization."})
            context.token = token
            context.reset_viewer()
            try:
                await context.viewer()
            except ApiError as exc:
                raise ConnectionRejectionError({"message": exc.message}) from exc
        return None

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        try:
            body = orjson.dumps(data)
        except orjson.JSONEncodeError:
            # Text no JSON encoder writes as UTF-8 (a lone surrogate): escape it instead.
            body = json.dumps(data, ensure_ascii=True, default=str).encode()
        if len(body) > self.max_response_bytes:
            log_client_error(BAD_USER_INPUT, f"a response of {len(body)} bytes")
            return orjson.dumps(_response_too_large(self.max_response_bytes))
        return body


# Subscriptions go over WebSocket (or a streaming transport: strawberry's path).
_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})

# GraphQL over HTTP (docs/clients.md): the response media type a client asks for in Accept.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
# Under this scope key a request answered as graphql-response+json counts its results.
_GRAPHQL_RESPONSE = "marquee.graphql_response"
# Scope keys: the operation's result had errors; the ETag of a cached (or just stored) body.
_RESULT_ERRORS = "marquee.result_errors"
_CACHED_ETAG = "marquee.cached_etag"
# The only request extension a cached answer may have been asked with.
_PQ = frozenset({"persistedQuery"})
# Strawberry's streaming transports choose their own media type; they are not refused here.
_STREAMING = ("multipart/mixed", "text/event-stream")


# Accept headers longer than this are judged on every request and not kept: the cache is
# keyed by the header, and 256 headers of 5 MB each (headers have no size limit here; a proxy
# in front should set one) held a gigabyte of a worker's memory.
MAX_CACHED_ACCEPT = 512


def negotiate(accept: str) -> str | None:
    """`application/graphql-response+json`, `application/json`, or None when Accept allows
    neither. No Accept, `*/*` and `application/*` get application/json (what clients before
    the spec expect); graphql-response+json when named with a weight at least that of
    application/json. Cached per header (a client sends the same one every time), unless
    it is longer than MAX_CACHED_ACCEPT."""
    if len(accept) > MAX_CACHED_ACCEPT:
        return _negotiate(accept)
    return _negotiate_cached(accept)


def _negotiate(accept: str) -> str | None:
    if not accept.strip():
        return "application/json"
    weights: dict[str, tuple[int, float]] = {}  # media type -> (specificity, q) of its range
    streaming = False
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        media_range = media_range.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_range in _STREAMING and q > 0:
            streaming = True
        for media_type in (GRAPHQL_RESPONSE_JSON, "application/json"):
            specificity = _specificity(media_range, media_type)
            if specificity and specificity > weights.get(media_type, (0, 0.0))[0]:
                weights[media_type] = (specificity, q)
    graphql_specificity, graphql_q = weights.get(GRAPHQL_RESPONSE_JSON, (0, 0.0))
    _, json_q = weights.get("application/json", (0, 0.0))
    if graphql_q > 0 and graphql_specificity == 3 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    if json_q > 0:
        return "application/json"
    if graphql_q > 0:
        return GRAPHQL_RESPONSE_JSON
    return "application/json" if streaming else None


_negotiate_cached = lru_cache(maxsize=256)(_negotiate)


def _specificity(media_range: str, media_type: str) -> int:
    """3 for the type itself, 2 for `application/*`, 1 for `*/*`, 0 when it does not match."""
    if media_range == media_type:
        return 3
    if media_range == "application/*":
        return 2
    return 1 if media_range == "*/*" else 0


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _request_error(result: Any) -> bool:
    """Whether an operation failed before it executed: strawberry's pre-execution errors
    (syntax, validation and our document limits), or variables that did not coerce
    (graphql-core answers those with no data and errors without a path)."""
    if isinstance(result, PreExecutionError):
        return True
    errors: list[Any] | None = getattr(result, "errors", None)
    if not errors or getattr(result, "data", None) is not None:
        return False
    return all(error.path is None and _is_variable_error(error) for error in errors)


def _is_variable_error(error: Any) -> bool:
    return any(isinstance(node, VariableDefinitionNode) for node in error.nodes or ())


def _not_acceptable() -> Response:
    message = f"Ask for {GRAPHQL_RESPONSE_JSON} or application/json in Accept."
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]},
        status_code=406,
    )


def _http_error(exc: HTTPException, method: str, media_type: str) -> Response:
    """A request refused before execution, as a GraphQL-shaped error in the negotiated
    media type. A mutation over GET is 405 with `Allow: POST` (the spec's rule)."""
    status = exc.status_code
    headers = {}
    cause = exc.__cause__
    if (
        method == "GET"
        and isinstance(cause, InvalidOperationTypeError)
        and cause.operation_type == OperationType.MUTATION
    ):
        status = 405
        headers["Allow"] = "POST"
    if media_type == GRAPHQL_RESPONSE_JSON:
        media_type = GRAPHQL_RESPONSE_CONTENT_TYPE
    return JSONResponse(
        {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_USER_INPUT"}}]},
        status_code=status,
        headers=headers,
        media_type=media_type,
    )


def _signed_in(request: Request) -> bool:
    """Whether the request carries credentials (a token, or a cookie that may hold one)."""
    return "authorization" in request.headers or "cookie" in request.headers


def _http_cache(request: Request, response: Response, max_age: int) -> Response:
    """Cache headers for a GET of a persisted query (the URL names the document by hash, so
    a CDN can key on it): public, with an ETag (and 304 for a matching If-None-Match), only
    for an anonymous request (no Authorization, no Cookie) answered 200 without errors.
    Anything else is `no-store`: an answer for a signed-in viewer, or a transient error
    (a timeout, a rate limit), must never be served to someone else."""
    body = getattr(response, "body", None)
    cacheable = response.status_code == 200 and isinstance(body, bytes) and not _signed_in(request)
    # An answer of the response cache (served or just stored) comes with its ETag, and
    # is known to be free of errors: no need to parse and hash it again.
    etag: str | None = request.scope.get(_CACHED_ETAG) if cacheable else None
    if cacheable and etag is None:
        assert isinstance(body, bytes)
        try:
            cacheable = "errors" not in orjson.loads(body)
        except orjson.JSONDecodeError:
            cacheable = False
    if not cacheable:
        response.headers["cache-control"] = "no-store"
        return response
    assert isinstance(body, bytes)
    etag = etag or etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        # The same URL answers another media type, or another viewer: not the same entry.
        "Vary": "Accept, Authorization, Cookie",
    }
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compared by their value)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _persisted_query_error(exc: PersistedQueryError, media_type: str) -> Response:
    """A request refused by the persisted-query rules: its code, in the negotiated media
    type; HTTP 200 for the answers Apollo clients retry on (graph/persisted.py)."""
    log_client_error(exc.code, exc.message)
    if media_type == GRAPHQL_RESPONSE_JSON:
        media_type = GRAPHQL_RESPONSE_CONTENT_TYPE
    return JSONResponse(exc.body(), status_code=exc.status, media_type=media_type)


def _response_too_large(limit: int) -> dict[str, Any]:
    message = f"The response would be larger than {limit} bytes; ask for fewer items or fields."
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}],
    }


async def _plain_json_operation(request: Request) -> dict[str, Any] | None:
    """The operation of a POST whose body is one JSON object with a string `query` (and
    `variables` and `extensions` objects or null), or None for anything else."""
    headers = request.headers
    if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    accept = headers.get("accept", "")
    if "multipart/mixed" in accept or "text/event-stream" in accept:
        return None  # streaming transports
    return MarqueeGraphQL.plain_operation(await request.body())


# Seconds a replica may take to accept a connection before its read goes to the primary.
REPLICA_CONNECT_TIMEOUT = 2.0


def open_database(settings: Settings) -> Database:
    """The primary's engine, and the replica's when DATABASE_READ_URL names one: each with
    its own pool (docs/scaling.md, "Connection budgets"); LISTEN goes to
    DATABASE_LISTEN_URL when set (DATABASE_URL may be PgBouncer in transaction mode)."""
    db = Database(
        create_engine(
            database_url(settings),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        ),
        # Half the pool at most stays with fetch_static between its statements; the other
        # half and the overflow serve transactions and ORM reads (db/session.py).
        kept=settings.db_pool_size // 2,
    )
    if settings.database_listen_url:
        db.listen_url = normalize_url(settings.database_listen_url)
    read_url = read_database_url(settings)
    if read_url:
        replica = create_engine(
            read_url,
            pool_size=settings.db_read_pool_size,
            max_overflow=settings.db_read_max_overflow,
            application_name="marquee-replica",
            # A replica that does not answer costs a read this long once, then the primary
            # serves for replica_retry_seconds.
            connect_timeout=REPLICA_CONNECT_TIMEOUT,
        )
        db.with_replica(
            replica,
            retry_seconds=settings.replica_retry_seconds,
            kept=settings.db_read_pool_size // 2,
        )
    return db


def create_app(settings: Settings | None = None, database: Database | None = None) -> MarqueeApp:
    settings = settings or get_settings()

    class State:
        pass

    state: Any = State()
    state.settings = settings
    state.db = database
    state.services = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owns_db = state.db is None
        if owns_db:
            state.db = open_database(settings)
        cleanups = [await hook(state) for hook in STARTUP_HOOKS]
        try:
            yield
        finally:
            for cleanup in reversed(cleanups):
                await cleanup()
            if owns_db:
                await state.db.dispose()

    graphql = MarqueeGraphQL(
        build_schema(settings),
        state=state,
        graphql_ide="graphiql" if settings.graphiql else None,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await state.db.ping()
        except Exception:
            log.exception("readiness check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        body = (
            generate_latest()
            + (
                "# HELP marquee_sql_statements_total SQL statements run by this process\n"
                "# TYPE marquee_sql_statements_total counter\n"
                f"marquee_sql_statements_total {db_session.statements_total}\n"
                "# HELP marquee_sql_replica_statements_total Of those, answered by the replica\n"
                "# TYPE marquee_sql_replica_statements_total counter\n"
                f"marquee_sql_replica_statements_total {db_session.replica_statements_total}\n"
                "# HELP marquee_replica_fallbacks_total Replica reads run on the primary instead\n"
                "# TYPE marquee_replica_fallbacks_total counter\n"
                f"marquee_replica_fallbacks_total {db_session.replica_fallbacks_total}\n"
                # Which worker answered: with several workers each scrape reaches one of
                # them, so the benchmark sums per-process counters keyed by this.
                "# HELP marquee_process_id The id of the worker process that answered\n"
                "# TYPE marquee_process_id gauge\n"
                f"marquee_process_id {os.getpid()}\n"
            ).encode()
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
        "expose_headers": ["X-Request-ID"],
    }
    app = MarqueeApp(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/webhooks/payments/{provider}", payment_webhook, methods=["POST"]),
            Route(orders_signing.TICKET_KEYS_PATH, orders_signing.ticket_keys, methods=["GET"]),
            Route(reports_export.SALES_PATH, reports_export.sales_csv, methods=["GET"]),
            Route(reports_export.OCCUPANCY_PATH, reports_export.occupancy_csv, methods=["GET"]),
            *web_routes(settings),
        ],
        middleware=[
            Middleware(CORSMiddleware, **cors),
            Middleware(RequestMiddleware, max_body=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    if settings.lean_http:
        # The same CORS rules for the lean path: Starlette's code, on no app of its own.
        app.lean = LeanPost(graphql, settings.max_body_bytes, CORSMiddleware(app.router, **cors))
    app.state.marquee = state
    app.state.marquee_schema = graphql.schema
    return app


def create_server_app() -> MarqueeApp:
    """The factory uvicorn runs in each worker process: workers are fresh interpreters, so
    logging is configured here (level from MARQUEE_LOG_LEVEL, set by `marquee serve`)."""
    configure_logging(os.environ.get("MARQUEE_LOG_LEVEL", "INFO").upper())
    return create_app()
