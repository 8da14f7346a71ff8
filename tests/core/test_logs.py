"""What the log says about errors: a client's mistake is one INFO line with its code and the
request id, an unexpected fault one ERROR with its traceback (docs/architecture.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from db.session import Database, SharedConnectionDatabase, create_engine
from graph.app import create_app
from graph.auth import create_access_token
from graph.relay import to_global_id
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.harness import SEAT_AVAILABILITY, WsClient, serve_in_process

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/nowhere"
CREATE_GENRE = 'mutation { createGenre(input: {name: "Noir"}) { genre { id } } }'
HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) { hold { id } errors { code field } }
}
"""


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


@asynccontextmanager
async def _client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _error_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(("graphql error", "payload"))]


def _loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def _one_info(caplog: pytest.LogCaptureFixture, code: str, request_id: str) -> logging.LogRecord:
    lines = _error_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    (line,) = lines
    assert line.levelno == logging.INFO
    assert line.exc_info is None
    assert line.code == code  # type: ignore[attr-defined]
    assert line.request_id == request_id  # type: ignore[attr-defined]
    assert f"code={code}" in line.getMessage()
    assert f"request_id={request_id}" in line.getMessage()
    assert _loud(caplog) == [], [r.getMessage() for r in _loud(caplog)]
    return line


async def test_forbidden_is_one_info_line(
    db: SharedConnectionDatabase, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    customer = create_access_token((await create_user(db)).id, "CUSTOMER", settings)
    async with _client(settings, db) as http:
        logs.clear()
        response = await http.post(
            "/graphql",
            json={"query": CREATE_GENRE},
            headers={"Authorization": f"Bearer {customer}", "X-Request-ID": "forbidden-1"},
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    line = _one_info(logs, "FORBIDDEN", "forbidden-1")
    assert line.path == "createGenre"  # type: ignore[attr-defined]


async def test_unauthenticated_and_validation_errors_are_info(
    db: SharedConnectionDatabase, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    async with _client(settings, db) as http:
        logs.clear()
        response = await http.post("/graphql", json={"query": CREATE_GENRE})
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        _one_info(logs, "UNAUTHENTICATED", response.headers["x-request-id"])

        for query in ("{ noSuchField }", "{ me {", "query ($n: Int!) { __typename }"):
            logs.clear()
            response = await http.post("/graphql", json={"query": query})
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            _one_info(logs, "BAD_USER_INPUT", response.headers["x-request-id"])

        # Not GraphQL at all: answered (and logged) before any operation runs.
        logs.clear()
        response = await http.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        _one_info(logs, "BAD_USER_INPUT", response.headers["x-request-id"])


async def test_a_bad_variable_is_not_quoted_in_the_log(
    db: SharedConnectionDatabase, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    query = "query ($n: Int!) { movies(first: $n) { edges { cursor } } }"
    async with _client(settings, db) as http:
        logs.clear()
        response = await http.post(
            "/graphql", json={"query": query, "variables": {"n": "hunter2-secret"}}
        )
    assert "hunter2-secret" in response.text  # the client is told what was wrong
    _one_info(logs, "BAD_USER_INPUT", response.headers["x-request-id"])
    assert "hunter2-secret" not in logs.text


async def test_payload_error_is_one_info_line(
    db: SharedConnectionDatabase, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    show = await create_bookable_showtime(db)
    customer = create_access_token((await create_user(db)).id, "CUSTOMER", settings)
    seat = to_global_id("Seat", show.seat_ids[0])
    variables = {"input": {"showtimeId": to_global_id("Showtime", show.id), "seatIds": [seat]}}
    async with _client(settings, db) as http:
        logs.clear()
        response = await http.post(
            "/graphql",
            json={"query": HOLD, "variables": variables},
            headers={"Authorization": f"Bearer {customer}"},
        )
        assert response.json()["data"]["holdSeats"]["errors"] == []
        assert _error_lines(logs) == []  # success logs no error line

        variables["input"]["seatIds"] = [seat, seat]
        logs.clear()
        response = await http.post(
            "/graphql",
            json={"query": HOLD, "variables": variables},
            headers={"Authorization": f"Bearer {customer}"},
        )
    errors = response.json()["data"]["holdSeats"]["errors"]
    assert errors == [{"code": "VALIDATION_ERROR", "field": "seatIds"}]
    line = _one_info(logs, "VALIDATION_ERROR", response.headers["x-request-id"])
    assert line.getMessage().startswith("payload error code=VALIDATION_ERROR field=seatIds")


async def test_internal_error_is_one_error_with_its_traceback(
    settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    broken = Database(create_engine(UNREACHABLE, pool_size=1, max_overflow=0))
    token = create_access_token(1, "CUSTOMER", settings)
    try:
        async with _client(settings, broken) as http:
            logs.clear()
            response = await http.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        await broken.dispose()
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    rid = response.headers["x-request-id"]
    loud = _loud(logs)
    assert len(loud) == 1, [(r.name, r.getMessage()) for r in loud]
    (line,) = loud
    assert line.levelno == logging.ERROR
    assert line.exc_info is not None
    assert isinstance(line.exc_info[1], OSError)  # the connection refused, with its traceback
    assert line.request_id == rid  # type: ignore[attr-defined]
    assert line.getMessage() == f"graphql error code=INTERNAL_SERVER_ERROR path=me request_id={rid}"


async def test_websocket_errors_carry_the_connection_id(
    committed_db: Database, settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, database=committed_db)
    async with serve_in_process(app) as url, WsClient.connect(url) as ws:
        logs.clear()
        op = await ws.subscribe(SEAT_AVAILABILITY, {"id": to_global_id("Showtime", 999_999)})
        msg = await ws.message(op)
        errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        first = _error_lines(logs)
        assert [r.levelno for r in first] == [logging.INFO]
        assert first[0].code == "BAD_USER_INPUT"  # type: ignore[attr-defined]
        connection_id = first[0].request_id  # type: ignore[attr-defined]
        assert connection_id != "-"

        logs.clear()
        op = await ws.subscribe(CREATE_GENRE, {})
        msg = await ws.message(op)
        assert msg["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        _one_info(logs, "UNAUTHENTICATED", connection_id)
