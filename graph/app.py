"""The Starlette app: /graphql (HTTP + WebSocket), /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, overload

import orjson
from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

import db.session as db_session
from db.session import Database, create_engine
from graph.accounts.revocations import start_session_revocations
from graph.auth import bearer_token
from graph.booking.subscriptions import start_seat_hub
from graph.booking.sweeper import start_sweeper
from graph.context import Context
from graph.errors import ApiError
from graph.gc_tuning import tune_gc
from graph.schema import build_schema
from graph.settings import Settings, get_settings

log = logging.getLogger("marquee.http")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

REQUESTS = Counter("marquee_http_requests_total", "HTTP requests", ["method", "status"])
LATENCY = Histogram("marquee_http_request_seconds", "HTTP request latency")

# Domains with background services (the realtime listener, the hold sweeper) register
# start-up hooks here: each gets the app state and returns an async cleanup callable.
StartupHook = Callable[[Any], Awaitable[Callable[[], Awaitable[None]]]]
STARTUP_HOOKS: list[StartupHook] = [
    start_seat_hub,
    start_session_revocations,
    start_sweeper,
    tune_gc,
]


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """WebSocket messages as text frames: GraphQL-over-WebSocket clients (graphql-ws,
    Apollo) parse text messages, but `encode_json` gives bytes (orjson, for HTTP)."""

    async def send_json(self, message: Any) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class MarqueeGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]

    def __init__(self, *args: Any, state: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state
        # Incremental delivery (@defer/@stream) returns other results: strawberry's path only.
        self._short_post = not self.schema.config.enable_experimental_incremental_execution
        # Admission control: at most N queries (POSTed JSON) execute at once in this worker;
        # the rest wait in FIFO order. Interleaving every request on one event loop makes
        # each one wait for all the others (a long latency tail); queueing keeps throughput
        # and serves requests in arrival order. 0 = no limit. See docs/architecture.md.
        limit = state.settings.max_concurrent_requests
        self._slots: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Semaphore(limit) if limit > 0 else contextlib.nullcontext()
        )

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
                if operation["query"].lstrip().startswith("mutation"):
                    # Mutations mostly wait on row locks, not the CPU: queueing them
                    # behind the limit would only lengthen those waits.
                    return await self._execute_post(request, operation)
                async with self._slots:
                    return await self._execute_post(request, operation)
        return await super().run(request, context, root_value)  # type: ignore[arg-type]

    async def _execute_post(self, request: Request, operation: dict[str, Any]) -> Response:
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
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
        response_data = await self.process_result(request=request, result=result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As strawberry's, but a request it cannot use (malformed JSON, a mutation over GET,
        no query) gets a GraphQL-shaped JSON error with a code instead of plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        response: Response
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_USER_INPUT"}}]},
                status_code=exc.status_code,
            )
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        token = bearer_token(request.headers.get("authorization"))
        return Context(
            db=self.state.db,
            settings=self.state.settings,
            request=request,
            token=token,
            services=self.state.services,
        )

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
        return orjson.dumps(data)


_POST_OPERATIONS = OperationType.from_http("POST")


async def _plain_json_operation(request: Request) -> dict[str, Any] | None:
    """The operation of a POST whose body is one JSON object with a string `query` (and
    `variables` and `extensions` objects or null), or None for anything else."""
    headers = request.headers
    if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    accept = headers.get("accept", "")
    if "multipart/mixed" in accept or "text/event-stream" in accept:
        return None  # streaming transports
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None  # strawberry's path answers with its error
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("query"), str)
        or not isinstance(data.get("variables"), dict | None)
        or not isinstance(data.get("extensions"), dict | None)
    ):
        return None
    return data


class _BodyTooLarge(Exception):
    pass


def _too_large() -> Response:
    return JSONResponse(
        {
            "errors": [
                {"message": "Request body too large.", "extensions": {"code": "BAD_USER_INPUT"}}
            ]
        },
        status_code=413,
    )


class RequestMiddleware:
    """Request id, body size limit, access log and metrics, as plain ASGI (cheap)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode()[:64] or uuid.uuid4().hex
        token = request_id_var.set(rid)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _too_large()(scope, receive, send)
            request_id_var.reset(token)
            return
        received = 0
        started = False
        status = 500
        start = time.perf_counter()

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if not started:
                await _too_large()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            REQUESTS.labels(scope["method"], str(status)).inc()
            LATENCY.observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Starlette:
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
            from graph.runtime import database_url

            state.db = Database(
                create_engine(
                    database_url(settings),
                    pool_size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                )
            )
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
            await state.db.scalar(text("SELECT 1"))
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
                # Which worker answered: with several workers each scrape reaches one of
                # them, so the benchmark sums per-process counters keyed by this.
                "# HELP marquee_process_id The id of the worker process that answered\n"
                "# TYPE marquee_process_id gauge\n"
                f"marquee_process_id {os.getpid()}\n"
            ).encode()
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
            ),
            Middleware(RequestMiddleware, max_body=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.marquee = state
    return app


def create_server_app() -> Starlette:
    """The factory uvicorn runs in each worker process: workers are fresh interpreters, so
    logging is configured here (level from MARQUEE_LOG_LEVEL, set by `marquee serve`)."""
    from graph.logs import configure_logging

    configure_logging(os.environ.get("MARQUEE_LOG_LEVEL", "INFO").upper())
    return create_app()
