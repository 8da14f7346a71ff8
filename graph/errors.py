"""Top-level error codes, payload-error mapping, masking of unexpected faults, and the one
log line each error gets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from db.errors import DomainError
from graph.logs import request_id_var

log = logging.getLogger("marquee.errors")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
KNOWN_CODES = {UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, RATE_LIMITED, INTERNAL_SERVER_ERROR}


class ApiError(GraphQLError):
    """A top-level error that is safe to show: its message is written for clients."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def unauthenticated(message: str = "Sign in to do this.") -> ApiError:
    return ApiError(message, UNAUTHENTICATED)


def forbidden(message: str = "You are not allowed to do this.") -> ApiError:
    return ApiError(message, FORBIDDEN)


def bad_input(message: str, field: str | None = None) -> ApiError:
    return ApiError(message, BAD_USER_INPUT, **({"field": field} if field else {}))


MAX_SEARCH = 200


def search_text(value: str | None, field: str = "search") -> str | None:
    """A search argument as every list takes it: at most MAX_SEARCH characters. A longer one
    is refused, not cut, so that nobody reads results for a text they did not send."""
    if value is not None and len(value) > MAX_SEARCH:
        raise bad_input(f"The search text is at most {MAX_SEARCH} characters.", field)
    return value


E = TypeVar("E")


def payload_errors(exc: DomainError, error_type: Callable[..., E], codes: type[Enum]) -> list[E]:
    """Map a DomainError's details onto a payload error type (`code`, `message`, `field`,
    plus any extra attribute the error type declares, such as `seat_ids`)."""
    annotations: dict[str, Any] = {}
    for klass in reversed(getattr(error_type, "__mro__", ())):
        annotations.update(getattr(klass, "__annotations__", {}))
    out: list[E] = []
    log_info = log.isEnabledFor(logging.INFO)
    for d in exc.details:
        extra = {k: v for k, v in d.extra.items() if k in annotations}
        code = codes(d.code) if d.code in codes.__members__ else codes["VALIDATION_ERROR"]
        out.append(error_type(code=code, message=d.message, field=d.field, **extra))
        if log_info:
            # Every payload error passes here (and only then: success costs nothing).
            rid = request_id_var.get()
            log.info(
                "payload error code=%s field=%s request_id=%s",
                code.value,
                d.field or "-",
                rid,
                extra={"code": code.value, "field": d.field, "request_id": rid},
            )
    return out


def internal_message(exc: BaseException | None, *, mask: bool) -> str:
    """What a client is told of an unexpected fault: that something went wrong and the
    request id to quote. In development the exception's type and text are added, except for
    database errors, whose text holds SQL and its parameters (never shown anywhere)."""
    message = f"Internal server error (request id {request_id_var.get()})."
    if mask or exc is None:
        return message
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "asyncpg")):
        return f"{message} {type(exc).__name__}: a database error (see the server log)."
    return f"{message} {type(exc).__name__}: {exc}"


def log_graphql_errors(errors: list[GraphQLError]) -> None:
    """One log line per top-level error, with its code, path and the request id: a client's
    mistake (bad input, not signed in, forbidden, rate limited, a query too costly, a parse or
    validation error) at INFO without a traceback; an unexpected fault at ERROR with its
    traceback. The error's message is not logged: graphql-core quotes the variables a client
    sent (a password, say) in the message of a bad variable."""
    rid = request_id_var.get()
    for error in errors:
        code = _classify(error)
        path = ".".join(str(p) for p in error.path) if error.path else "-"
        extra = {"code": code, "path": path, "request_id": rid}
        if code == INTERNAL_SERVER_ERROR:
            log.error(
                "graphql error code=%s path=%s request_id=%s",
                code,
                path,
                rid,
                exc_info=error.original_error or error,
                extra=extra,
            )
        else:
            log.info("graphql error code=%s path=%s request_id=%s", code, path, rid, extra=extra)


def log_client_error(code: str, reason: str) -> None:
    """The line for a client's mistake answered before GraphQL runs (a body too large,
    malformed JSON, no query): as `log_graphql_errors` gives, with the reason."""
    rid = request_id_var.get()
    log.info(
        "graphql error code=%s path=- request_id=%s (%s)",
        code,
        rid,
        reason,
        extra={"code": code, "path": "-", "request_id": rid},
    )


# How graphql-core's errors about a field's argument values begin (graphql/execution/values.py,
# `print_argument_or_fragment_variable`).
_ARGUMENT_ERRORS = ("Argument '", "Variable '$")


def _classify(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        # Parse/validation errors and bad variables: the client's input.
        return BAD_USER_INPUT
    if isinstance(original, GraphQLError):
        code = (original.extensions or {}).get("code")
        if isinstance(code, str):
            return code
        if original.original_error is None and original.message.startswith(_ARGUMENT_ERRORS):
            # graphql-core coercing a field's arguments, before its resolver: a variable sent
            # as null for a non-null argument that has a default (validation lets a nullable
            # variable in there), say. Its messages start with what they are about.
            return BAD_USER_INPUT
    if error.path is None:
        # Raised before any resolver ran: coercing the client's variables (an unknown enum
        # value, a malformed date) failed.
        return BAD_USER_INPUT
    return INTERNAL_SERVER_ERROR


def coded_errors(errors: list[GraphQLError], *, mask: bool) -> list[GraphQLError]:
    """Each error with its `extensions.code`; an unexpected fault's details hidden when
    `mask` (they are logged, once, with the traceback by the schema's process_errors)."""
    cleaned: list[GraphQLError] = []
    for error in errors:
        code = _classify(error)
        ext = dict(error.extensions or {})
        ext["code"] = code
        message = error.message
        if code == INTERNAL_SERVER_ERROR:
            message = internal_message(error.original_error, mask=mask)
        cleaned.append(
            GraphQLError(
                message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                original_error=error.original_error,
                extensions=ext,
            )
        )
    return cleaned


class ErrorCodes(SchemaExtension):
    """Give every top-level error an `extensions.code`; hide unexpected faults' details
    in production (they are logged with the request id instead, `log_graphql_errors`).
    Prepared operations (graph/documents.py) apply `coded_errors` themselves."""

    def __init__(self, *, mask: bool) -> None:
        self.mask = mask

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as escaped:
            # A syntax error (or too many tokens) escapes the operation from the parser
            # cache, so strawberry builds its result after this hook: code it here.
            if escaped.original_error is None and not (escaped.extensions or {}).get("code"):
                escaped.extensions = {**(escaped.extensions or {}), "code": BAD_USER_INPUT}
            raise
        result = self.execution_context.result
        if not result or not result.errors:
            return
        result.errors = coded_errors(result.errors, mask=self.mask)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of an operation over WebSocket, before it is sent: that path yields
        its results from inside `on_operation`, so the end of that hook comes too late (a
        document that did not validate got an `error` message without a code)."""
        if getattr(result, "errors", None):
            result.errors = coded_errors(result.errors, mask=self.mask)
        yield
