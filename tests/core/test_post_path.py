"""The short path for JSON POSTs (MarqueeGraphQL.run) answers exactly as strawberry's own."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cross_web import HTTPException
from starlette.requests import Request
from strawberry.asgi import GraphQL

from db.session import SharedConnectionDatabase
from graph.app import MarqueeGraphQL, create_app
from graph.auth import create_access_token
from graph.settings import Settings
from tests.factories import create_user

TWO_OPERATIONS = "query A { __typename } query B { me { username } }"
ALIASES = "{ " + " ".join(f"a{n}: __typename" for n in range(50)) + " }"
BAD_REGISTER = (
    "mutation { register(input: {username: 'x', email: 'nope', password: 'short'}) "
    "{ accessToken errors { code field } } }"
).replace("'", '"')

CASES: list[tuple[str, Any, dict[str, str]]] = [
    ("typename", {"query": "{ __typename }"}, {}),
    ("nulls", {"query": "{ __typename }", "variables": None, "extensions": None}, {}),
    ("charset", {"query": "{ __typename }"}, {"content-type": "application/json; charset=utf-8"}),
    ("operation name", {"query": TWO_OPERATIONS, "operationName": "A"}, {}),
    ("no operation name", {"query": TWO_OPERATIONS}, {}),
    ("unknown operation", {"query": TWO_OPERATIONS, "operationName": "C"}, {}),
    ("syntax error", {"query": "{ __typename "}, {}),
    ("unknown field", {"query": "{ nope }"}, {}),
    ("alias limit", {"query": ALIASES}, {}),
    ("empty query", {"query": ""}, {}),
    ("no query", {"variables": {}}, {}),
    ("variables list", {"query": "{ __typename }", "variables": []}, {}),
    ("batch", [{"query": "{ __typename }"}], {}),
    ("bad variable", {"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}}, {}),
    ("payload errors", {"query": BAD_REGISTER}, {}),
    ("bad token", {"query": "{ me { username } }"}, {"authorization": "Bearer nope"}),
    ("anonymous me", {"query": "{ me { username } }"}, {}),
    ("subscription", {"query": "subscription { __typename }"}, {}),
]


def _request(body: bytes, headers: dict[str, str]) -> Request:
    all_headers = {"content-type": "application/json", **headers}
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def _outcome(run: Any, view: MarqueeGraphQL, body: bytes, headers: dict[str, str]) -> Any:
    try:
        response = await run(view, _request(body, headers))
    except HTTPException as exc:
        return ("HTTPException", exc.status_code, exc.reason)
    return (response.status_code, orjson.loads(response.body), response.headers.raw)


def _view(settings: Settings, db: SharedConnectionDatabase) -> MarqueeGraphQL:
    app = create_app(settings, database=db)
    route = next(r for r in app.routes if getattr(r, "path", "") == "/graphql")
    view = route.endpoint  # type: ignore[attr-defined]
    assert isinstance(view, MarqueeGraphQL)
    return view


@pytest.mark.parametrize(("name", "payload", "headers"), CASES, ids=[c[0] for c in CASES])
async def test_short_path_answers_as_strawberry(
    db: SharedConnectionDatabase,
    settings: Settings,
    name: str,
    payload: Any,
    headers: dict[str, str],
) -> None:
    view = _view(settings, db)
    body = orjson.dumps(payload)
    short = await _outcome(MarqueeGraphQL.run, view, body, headers)
    reference = await _outcome(GraphQL.run, view, body, headers)
    assert short == reference


async def test_short_path_signed_in(db: SharedConnectionDatabase, settings: Settings) -> None:
    user = await create_user(db)
    token = create_access_token(user.id, user.role, settings)
    view = _view(settings, db)
    body = orjson.dumps({"query": "{ me { username } }"})
    headers = {"authorization": f"Bearer {token}"}
    short = await _outcome(MarqueeGraphQL.run, view, body, headers)
    assert short[0] == 200
    assert short[1]["data"] == {"me": {"username": user.username}}
    assert short == await _outcome(GraphQL.run, view, body, headers)


async def test_malformed_json_takes_strawberrys_path(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    view = _view(settings, db)
    with pytest.raises(HTTPException) as info:
        await view.run(_request(b"{not json", {}))
    assert info.value.status_code == 400


class _NoStrawberryParsing(MarqueeGraphQL):
    async def parse_http_body(self, request: Any) -> Any:
        raise AssertionError("strawberry's path was taken")


async def test_plain_json_post_takes_the_short_path(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    view = _view(settings, db)
    probe = _NoStrawberryParsing(view.schema, state=view.state)
    body = orjson.dumps({"query": "{ __typename }", "variables": {}})
    response = await probe.run(_request(body, {}))
    assert orjson.loads(response.body)["data"] == {"__typename": "Query"}
