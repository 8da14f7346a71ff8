"""The lean path (graph/transport.py, `LeanPost`) answers a JSON POST exactly as the
Starlette app does: status, headers in order, and body, on the same requests, with
MARQUEE_LEAN_HTTP on and off; and it really skips Starlette for a plain operation."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.auth import create_access_token
from graph.settings import Settings
from graph.transport import MarqueeApp
from tests.factories import create_user

TWO_OPERATIONS = "query A { __typename } query B { me { username } }"
ALIASES = "{ " + " ".join(f"a{n}: __typename" for n in range(50)) + " }"
LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "wrong-password"}) { errors { code } }
}
"""
GRAPHQL_RESPONSE = "application/graphql-response+json"
ALLOWED_ORIGIN = "http://localhost:5173"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": _sha(text)}}


LEARNED = "{ __typename lean: __typename }"

# (name, body: JSON-able or raw bytes, extra headers)
CASES: list[tuple[str, Any, dict[str, str]]] = [
    ("typename", {"query": "{ __typename }"}, {}),
    ("nulls", {"query": "{ __typename }", "variables": None, "extensions": None}, {}),
    ("charset", {"query": "{ __typename }"}, {"content-type": "application/json; charset=utf-8"}),
    ("operation name", {"query": TWO_OPERATIONS, "operationName": "A"}, {}),
    ("no operation name", {"query": TWO_OPERATIONS}, {}),
    ("unknown operation", {"query": TWO_OPERATIONS, "operationName": "C"}, {}),
    ("operation name list", {"query": "{ __typename }", "operationName": ["x"]}, {}),
    ("operation name object", {"query": "{ __typename }", "operationName": {"a": 1}}, {}),
    ("syntax error", {"query": "{ __typename "}, {}),
    ("unknown field", {"query": "{ nope }"}, {}),
    ("alias limit", {"query": ALIASES}, {}),
    ("empty query", {"query": ""}, {}),
    ("no query", {"variables": {}}, {}),
    ("variables list", {"query": "{ __typename }", "variables": []}, {}),
    ("batch", [{"query": "{ __typename }"}], {}),
    ("bad variable", {"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}}, {}),
    ("missing variable", {"query": "query($n: Int!) { __typename }"}, {}),
    ("bad token", {"query": "{ me { username } }"}, {"authorization": "Bearer nope"}),
    ("anonymous me", {"query": "{ me { username } }"}, {}),
    ("subscription", {"query": "subscription { __typename }"}, {}),
    ("bad json", b"{not json", {}),
    ("deep json", b"[" * 5000 + b"]" * 5000, {}),
    ("not utf-8", b'{"query": "\xff"}', {}),
    ("text/plain", {"query": "{ __typename }"}, {"content-type": "text/plain"}),
    ("no content type", {"query": "{ __typename }"}, {"content-type": ""}),
    ("too large", {"query": "{ __typename }", "variables": {"x": "y" * 300_000}}, {}),
    ("accept graphql-response", {"query": "{ __typename }"}, {"accept": GRAPHQL_RESPONSE}),
    (
        "accept graphql-response, variables error",
        {"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}},
        {"accept": GRAPHQL_RESPONSE},
    ),
    (
        "accept graphql-response, syntax error",
        {"query": "{ __typename "},
        {"accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"},
    ),
    ("accept any", {"query": "{ __typename }"}, {"accept": "*/*"}),
    ("accept html", {"query": "{ __typename }"}, {"accept": "text/html"}),
    ("accept streaming", {"query": "{ __typename }"}, {"accept": "multipart/mixed"}),
    ("origin allowed", {"query": "{ __typename }"}, {"origin": ALLOWED_ORIGIN}),
    ("origin other", {"query": "{ __typename }"}, {"origin": "http://elsewhere.test"}),
    (
        "origin, graphql-response",
        {"query": "{ nope }"},
        {"origin": ALLOWED_ORIGIN, "accept": GRAPHQL_RESPONSE},
    ),
    ("apq unknown hash", {"extensions": _apq("{ unknown }")}, {}),
    ("apq wrong hash", {"query": "{ __typename }", "extensions": _apq("{ other }")}, {}),
    ("apq bad version", {"query": "{ __typename }", "extensions": {"persistedQuery": {}}}, {}),
]


@asynccontextmanager
async def _clients(
    settings: Settings, db: SharedConnectionDatabase, ip: str = "10.0.0.1"
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A client of the app with the lean path, and one of the same app without it."""
    clients = []
    for lean in (True, False):
        app = create_app(settings.model_copy(update={"lean_http": lean}), database=db)
        assert (app.lean is not None) is lean
        transport = httpx.ASGITransport(app=app, client=(ip, 40000), raise_app_exceptions=False)
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://test"))
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.aclose()


def _encode(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else orjson.dumps(payload)


async def _answer(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> Any:
    all_headers = {"content-type": "application/json", "x-request-id": "same-id", **headers}
    response = await http.post("/graphql", content=body, headers=all_headers)
    return response.status_code, response.headers.raw, response.content


@pytest.mark.parametrize(("name", "payload", "headers"), CASES, ids=[c[0] for c in CASES])
async def test_lean_path_answers_as_starlette(
    db: SharedConnectionDatabase,
    settings: Settings,
    name: str,
    payload: Any,
    headers: dict[str, str],
) -> None:
    async with _clients(settings, db) as (lean, full):
        body = _encode(payload)
        assert await _answer(lean, body, headers) == await _answer(full, body, headers)


async def test_lean_path_signed_in(db: SharedConnectionDatabase, settings: Settings) -> None:
    user = await create_user(db)
    token = create_access_token(user.id, user.role, settings)
    body = orjson.dumps({"query": "{ me { username } }"})
    headers = {"authorization": f"Bearer {token}"}
    async with _clients(settings, db) as (lean, full):
        answer = await _answer(lean, body, headers)
        assert orjson.loads(answer[2])["data"] == {"me": {"username": user.username}}
        assert answer == await _answer(full, body, headers)


async def test_lean_path_persisted_queries(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """Unknown hash, then text and hash (learned), then the hash alone: alike on both."""
    hash_only = orjson.dumps({"extensions": _apq(LEARNED)})
    with_text = orjson.dumps({"query": LEARNED, "extensions": _apq(LEARNED)})
    async with _clients(settings, db) as (lean, full):
        missing = await _answer(lean, hash_only, {})
        assert "PERSISTED_QUERY_NOT_FOUND" in missing[2].decode()
        assert missing == await _answer(full, hash_only, {})
        assert await _answer(lean, with_text, {}) == await _answer(full, with_text, {})
        found = await _answer(lean, hash_only, {})
        assert orjson.loads(found[2])["data"] == {"__typename": "Query", "lean": "Query"}
        assert found == await _answer(full, hash_only, {})


async def test_lean_path_rate_limits_by_client_address(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """The context sees the client's address on the lean path too (the rate limits key on
    it): the same attempts from one address are limited at the same point on both paths."""
    limits = settings.model_copy(update={"login_rate_per_minute": 2})
    body = orjson.dumps({"query": LOGIN, "variables": {"login": "nobody"}})
    codes: dict[str, list[Any]] = {}
    for ip, lean_wanted in (("10.8.0.1", True), ("10.8.0.2", False)):
        async with _clients(limits, db, ip=ip) as (lean, full):
            http = lean if lean_wanted else full
            answers = [await _answer(http, body, {}) for _ in range(3)]
        # Top-level errors without their message (it names the seconds left to wait, so its
        # length may differ too).
        codes[ip] = [
            (status, [h for h in raw if h[0] != b"content-length"], _without_messages(content))
            for status, raw, content in answers
        ]
    assert codes["10.8.0.1"] == codes["10.8.0.2"]
    assert codes["10.8.0.1"][-1][2]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def _without_messages(content: bytes) -> Any:
    body = orjson.loads(content)
    for error in body.get("errors", []):
        error.pop("message")
        error["extensions"].pop("retryAfter", None)
    return body


async def test_preflight_and_get_still_answered(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    preflight = {
        "origin": ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    async with _clients(settings, db) as (lean, full):
        for http in (lean, full):
            answer = await http.options("/graphql", headers=preflight)
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
            got = await http.get("/graphql", params={"query": "{ __typename }"})
            assert got.json()["data"] == {"__typename": "Query"}


async def test_an_operation_name_that_is_not_a_string_is_a_coded_400(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """A list or an object as `operationName` was looked up as a key: a plain-text 500 on
    both paths, and the connection dropped. It is a 400 naming the field, as a `query` or
    `variables` of the wrong type is."""
    async with _clients(settings, db) as (lean, plain):
        for http in (lean, plain):
            for name in (["x"], {"a": 1}, [], 1, True):
                body = orjson.dumps({"query": "{ __typename }", "operationName": name})
                status, _, content = await _answer(http, body, {})
                assert status == 400, (name, content)
                error = orjson.loads(content)["errors"][0]
                assert error["extensions"]["code"] == "BAD_USER_INPUT", name
                assert "operationName" in error["message"], name


async def test_lean_path_server_error(db: SharedConnectionDatabase, settings: Settings) -> None:
    """An unexpected error: the same plain 500 as Starlette's ServerErrorMiddleware."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    answers = []
    for lean in (True, False):
        app = create_app(settings.model_copy(update={"lean_http": lean}), database=db)
        view = next(r for r in app.routes if getattr(r, "path", "") == "/graphql").endpoint  # type: ignore[attr-defined]
        view._execute_post = broken
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answers.append(await _answer(http, b'{"query": "{ __typename }"}', {}))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500


class _Refused(Exception):
    pass


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    raise _Refused


async def test_plain_posts_skip_starlette(db: SharedConnectionDatabase, settings: Settings) -> None:
    """With Starlette's stack replaced by one that fails, a plain POST is still answered
    (and counted in the metrics); anything else reaches the stack."""
    app: MarqueeApp = create_app(settings, database=db)
    app.middleware_stack = _refuse
    transport = httpx.ASGITransport(app=app)
    labels = {"method": "POST", "status": "200"}
    before = REGISTRY.get_sample_value("marquee_http_requests_total", labels) or 0.0
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
        assert answer.json()["data"] == {"__typename": "Query"}
        again = await http.post("/graphql", json={"query": "{ __typename }"})
        ids = {answer.headers["x-request-id"], again.headers["x-request-id"]}
        assert len(ids) == 2
        assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in ids)
        with pytest.raises(_Refused):
            await http.post(
                "/graphql", content=b"{not json", headers={"content-type": "application/json"}
            )
        with pytest.raises(_Refused):
            await http.post("/healthz", json={"query": "{ __typename }"})
    after = REGISTRY.get_sample_value("marquee_http_requests_total", labels)
    assert after == before + 2
