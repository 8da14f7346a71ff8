"""HTTP around the GraphQL view: request ids, the body limit, metrics and the access log
(`RequestMiddleware`, plain ASGI), and the lean path that answers the common request, a JSON
POST of one operation to /graphql, without Starlette's middleware stack and router.

Why a lean path: under wrk, Starlette's layers between the socket and the view (the
error middleware, CORS, the request-id middleware, the exception middleware, the router,
each wrapping `send` once more) and the Response objects took a fifth of a worker's time
on `{ __typename }` (bench/README.md, issue 14). `MarqueeApp` hands such a POST to
`LeanPost`, which does the same work (request id, metrics, CORS headers, the view's own
execution and error answers) in one frame and sends the view's status, headers and body
as they are. Anything it does not recognise (another path or method, a body that is not one
plain JSON operation, a large or chunked body, streaming Accept, duplicate headers) goes
through the Starlette app as before, with the body it has already read replayed."""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.errors import BAD_USER_INPUT, log_client_error
from graph.logs import request_id_var

if TYPE_CHECKING:
    from graph.app import MarqueeGraphQL

log = logging.getLogger("marquee.http")

REQUESTS = Counter("marquee_http_requests_total", "HTTP requests", ["method", "status"])
LATENCY = Histogram("marquee_http_request_seconds", "HTTP request latency")


@functools.cache
def _requests_counter(method: str, status: int) -> Any:
    """The counter child of a (method, status): `labels()` costs a lock and a tuple key per
    call, about 1% of a `{ __typename }` request."""
    return REQUESTS.labels(method, str(status))


def _finish(scope: Scope, rid: str, status: int, start: float) -> None:
    """Metrics and the access-log line of an answered request (both paths)."""
    elapsed = time.perf_counter() - start
    _requests_counter(scope["method"], status).inc()
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


def new_request_id() -> str:
    """32 random hex digits, as `uuid4().hex` gave, at an eighth of its cost (1 µs, not 8: 3%
    of a `{ __typename }`): a request id only has to be unique, not an RFC 4122 UUID."""
    return os.urandom(16).hex()


_VISIBLE_ASCII = re.compile(rb"[\x21-\x7e]+")


def request_id(headers: dict[bytes, bytes]) -> str:
    """The client's `X-Request-Id` (its first 64 characters) when it is visible ASCII,
    else a new one: the id goes into the log lines and back in a response header, so a
    byte that is not text, or a control character, never does."""
    given = headers.get(b"x-request-id", b"")[:64]
    if given and _VISIBLE_ASCII.fullmatch(given):
        return given.decode("ascii")
    return new_request_id()


class _BodyTooLarge(Exception):
    pass


def _too_large() -> Response:
    log_client_error(BAD_USER_INPUT, "request body too large")
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
            if scope["type"] != "websocket":
                await self.app(scope, receive, send)
                return
            # A WebSocket connection's id (from its upgrade request, or a fresh one) is the
            # request id of every operation on it, in the log lines of their errors.
            ws_token = request_id_var.set(request_id(dict(scope["headers"])))
            try:
                await self.app(scope, receive, send)
            finally:
                request_id_var.reset(ws_token)
            return
        headers = dict(scope["headers"])
        rid = request_id(headers)
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
            _finish(scope, rid, status, start)
            request_id_var.reset(token)


_JSON = b"application/json"
_STREAMING_ACCEPT = (b"multipart/mixed", b"text/event-stream")


class LeanPost:
    """Answers a JSON POST of one operation to /graphql, or hands it back (`None`).

    The steps are those of the full path in the same order, so the answers are the same
    byte for byte (tests/core/test_lean_path.py compares both on many requests): CORS
    headers by Starlette's own CORSMiddleware code when there is an Origin, the request
    id, the view's operation (`MarqueeGraphQL.answer_post`: persisted queries, context,
    admission, limits, execution, its coded errors), metrics and the access log."""

    def __init__(self, view: MarqueeGraphQL, max_body: int, cors: CORSMiddleware) -> None:
        self.view = view
        self.max_body = max_body
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send, full: ASGIApp) -> None:
        raw_headers = scope["headers"]
        headers = dict(raw_headers)
        content_type = headers.get(b"content-type", b"")
        accept = headers.get(b"accept", b"")
        length = headers.get(b"content-length")
        if (
            len(headers) != len(raw_headers)  # a repeated header: Starlette's rules apply
            or content_type.partition(b";")[0].strip().lower() != _JSON
            or length is None  # chunked
            or not length.isdigit()
            or int(length) > self.max_body
            or any(kind in accept for kind in _STREAMING_ACCEPT)
        ):
            await full(scope, receive, send)
            return
        body, more = await _read_body(receive, int(length))
        operation = self.view.plain_operation(body) if not more else None
        media_type = self.view.media_type(accept.decode("latin-1"))
        if operation is None or media_type is None:
            await full(scope, _replay(body, more, receive), send)
            return
        rid = request_id(headers)
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500
        server_send = send
        if b"origin" in headers:
            request_headers = Headers(scope=scope)
            send = functools.partial(self.cors.send, send=send, request_headers=request_headers)
        started = False
        try:
            response = await self.view.answer_post(Request(scope, receive), operation, media_type)
            status = response.status_code
            response_headers = response.raw_headers
            response_headers.append((b"x-request-id", rid.encode()))
            if send is server_send:
                # What CORSMiddleware adds to a response without an Origin (and without a
                # Vary of its own, as the view's never has): the answer depends on Origin.
                response_headers.append((b"vary", b"Origin"))
            started = True
            await send(
                {"type": "http.response.start", "status": status, "headers": response_headers}
            )
            await send({"type": "http.response.body", "body": response.body})
        except Exception:
            # As Starlette's ServerErrorMiddleware (outside CORS and the request id): a plain
            # 500 when nothing was sent yet, and the error to the server, which logs it.
            if not started:
                error = PlainTextResponse("Internal Server Error", status_code=500)
                await error(scope, receive, server_send)
            raise
        finally:
            _finish(scope, rid, status, start)
            request_id_var.reset(token)


async def _read_body(receive: Receive, length: int) -> tuple[bytes, bool]:
    """The body as the client sent it, and whether more was coming than Content-Length said
    (then the full path reads the rest and applies its own rules)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    more: bool = message.get("more_body", False)
    while more and len(body) <= length:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body, more or message["type"] != "http.request"


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that first gives back what was already read."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": more}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


class MarqueeApp(Starlette):
    """The Starlette app, with a JSON POST to /graphql answered by `LeanPost` first."""

    lean: LeanPost | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.lean is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/graphql"
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self.lean(scope, receive, send, super().__call__)
            return
        await super().__call__(scope, receive, send)
