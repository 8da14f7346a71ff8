"""The HTTP surface: limits, error codes and masking, GET, health, readiness and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from db.orders.signing import generate_signing_key, private_key_seed
from db.session import Database, SharedConnectionDatabase, create_engine
from graph.app import create_app
from graph.auth import create_access_token
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/nowhere"


@asynccontextmanager
async def _client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_query_depth_limit(db: SharedConnectionDatabase, settings: Settings) -> None:
    limited = settings.model_copy(update={"max_query_depth": 2})
    async with _client(limited, db) as http:
        ok = await http.post("/graphql", json={"query": "{ me { username } }"})
        assert ok.json()["data"] == {"me": None}
        deep = "{ users(first: 1) { edges { node { username } } } }"
        body = (await http.post("/graphql", json={"query": deep})).json()
        assert _code(body) == "BAD_USER_INPUT"
        assert "depth" in body["errors"][0]["message"]


async def test_query_cost_limit(db: SharedConnectionDatabase, settings: Settings) -> None:
    limited = settings.model_copy(update={"max_query_cost": 50})
    async with _client(limited, db) as http:
        query = "{ users(first: 100) { edges { node { id username role } } } }"
        body = (await http.post("/graphql", json={"query": query})).json()
        assert _code(body) == "BAD_USER_INPUT"
        assert "cost" in body["errors"][0]["message"]
        assert body.get("data") is None


async def test_alias_and_token_limits(gql: GraphQLClient) -> None:
    too_many_aliases = "{ " + " ".join(f"a{n}: __typename" for n in range(50)) + " }"
    assert _code(await gql.raw(too_many_aliases)) == "BAD_USER_INPUT"
    too_many_tokens = "{ " + " ".join(["__typename"] * 5000) + " }"
    assert _code(await gql.raw(too_many_tokens)) == "BAD_USER_INPUT"


async def test_unknown_field_and_bad_variables_are_bad_user_input(gql: GraphQLClient) -> None:
    assert _code(await gql.raw("{ nope }")) == "BAD_USER_INPUT"
    assert _code(await gql.raw("{ me { ")) == "BAD_USER_INPUT"
    bad_enum = "query ($r: Role) { users(role: $r) { totalCount } }"
    assert _code(await gql.raw(bad_enum, {"r": "KING"})) == "BAD_USER_INPUT"
    bad_date = "mutation ($d: Date) { updateProfile(input: {birthDate: $d}) { errors { code } } }"
    assert _code(await gql.raw(bad_date, {"d": "not-a-date"})) == "BAD_USER_INPUT"
    bad_id = '{ node(id: "%%%") { id } }'
    assert _code(await gql.raw(bad_id)) == "BAD_USER_INPUT"
    # A nullable variable sent as null where the argument is non-null with a default:
    # validation allows the variable there, and graphql-core refuses the null when it
    # coerces the field's arguments (was an internal error quoting graphql-core).
    # Dates and times at the ends of Python's range, which a time zone moved past them (an
    # OverflowError in the database driver, an internal error, before).
    after = "query ($t: DateTime) { showtimes(filter: {startsAfter: $t}) { totalCount } }"
    for moment in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+23:59", "9999-06-01T00:00Z"):
        answer = await gql.raw(after, {"t": moment})
        assert _code(answer) == "BAD_USER_INPUT", (moment, answer)
        assert "year must be from 2 to 9998" in answer["errors"][0]["message"], answer
    literal = '{ showtimes(filter: {startsBefore: "0001-01-01T00:00:00+23:59"}) { totalCount } }'
    assert _code(await gql.raw(literal)) == "BAD_USER_INPUT"
    assert "errors" not in await gql.raw(after, {"t": "9998-12-31T23:00:00-00:30"})
    for day in ("0001-01-01", "9999-12-31"):
        assert _code(await gql.raw(bad_date, {"d": day})) == "BAD_USER_INPUT"
    null_for_default = "query ($s: MovieSort) { movies(sort: $s) { totalCount } }"
    answer = await gql.raw(null_for_default, {"s": None})
    assert _code(answer) == "BAD_USER_INPUT", answer
    assert "Argument 'sort'" in answer["errors"][0]["message"]


async def test_malformed_requests_get_coded_json_errors(gql: GraphQLClient) -> None:
    response = await gql.http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _code(response.json()) == "BAD_USER_INPUT"
    response = await gql.http.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_bodies_that_are_not_a_json_object_get_coded_json_errors(
    gql: GraphQLClient,
) -> None:
    """A JSON scalar, bytes that are not UTF-8, an integer of more than 4,300 digits (the
    standard library's limit): each a 400 with a coded error, never a plain-text 500."""
    huge = b"9" * 4301
    bodies = [
        b'"x"',
        b"1",
        b"null",
        b"true",
        b"1.5",
        b'{"query":"{__typename}\xff"}',
        b'{"query":"{__typename}","x":' + huge + b"}",
        b'[{"query":"{__typename}","variables":{"n":' + huge + b"}}]",
    ]
    for body in bodies:
        response = await gql.http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (body[:40], response.status_code, response.text)
        assert _code(response.json()) == "BAD_USER_INPUT", body[:40]
    response = await gql.http.get(
        "/graphql",
        params={"query": "{ __typename }", "variables": '{"n":' + "9" * 4301 + "}"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_get_runs_queries_but_not_mutations(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", params={"query": "{ __typename me { id } }"})
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query", "me": None}
    mutation = 'mutation { logout(input: {refreshToken: "x"}) { sessionsEnded } }'
    response = await gql.http.get("/graphql", params={"query": mutation})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_graphiql_and_introspection_can_be_turned_off(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _client(settings, db) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    closed = settings.model_copy(update={"graphiql": False, "introspection": False})
    async with _client(closed, db) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        body = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert _code(body.json()) == "BAD_USER_INPUT"


async def test_request_body_limit(db: SharedConnectionDatabase, settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1000})
    async with _client(small, db) as http:
        padding = " " * 2000
        response = await http.post(
            "/graphql",
            content=('{"query": "{ __typename }"' + padding + "}").encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert _code(response.json()) == "BAD_USER_INPUT"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            yield b'{"query": "{ __typename }"'
            for _ in range(10):
                yield b" " * 200
            yield b"}"

        response = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        fine = await http.post("/graphql", json={"query": "{ __typename }"})
        assert fine.status_code == 200


async def test_unexpected_errors_are_masked_in_production() -> None:
    production = Settings(
        env="production",
        jwt_secret="production-secret-0123456789abcdef",
        ticket_signing_key=private_key_seed(generate_signing_key()),
        allow_sandbox_payments_in_production=True,
        payment_webhook_secret="w" * 40,
    )
    broken = Database(create_engine(UNREACHABLE, pool_size=1, max_overflow=0))
    token = create_access_token(1, "CUSTOMER", production)
    try:
        async with _client(production, broken) as http:
            response = await http.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
            assert _code(body) == "INTERNAL_SERVER_ERROR"
            rid = response.headers["x-request-id"]
            assert body["errors"][0]["message"] == f"Internal server error (request id {rid})."
            assert "127.0.0.1" not in response.text
            assert "Errno" not in response.text
    finally:
        await broken.dispose()


async def test_unexpected_errors_are_shown_in_development() -> None:
    development = Settings(env="development", jwt_secret="dev-secret-0123456789abcdef-0123456789")
    broken = Database(create_engine(UNREACHABLE, pool_size=1, max_overflow=0))
    token = create_access_token(1, "CUSTOMER", development)
    try:
        async with _client(development, broken) as http:
            body = (
                await http.post(
                    "/graphql",
                    json={"query": "{ me { id } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
            assert _code(body) == "INTERNAL_SERVER_ERROR"
            # The exception's type, but never SQL, parameters or addresses of the database.
            assert "Internal server error (request id " in body["errors"][0]["message"]
            assert "Error" in body["errors"][0]["message"].partition(").")[2]
    finally:
        await broken.dispose()


async def test_health_and_readiness(gql: GraphQLClient, settings: Settings) -> None:
    assert (await gql.http.get("/healthz")).json() == {"status": "ok"}
    ready = await gql.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    broken = Database(create_engine(UNREACHABLE, pool_size=1, max_overflow=0))
    try:
        async with _client(settings, broken) as http:
            assert (await http.get("/healthz")).status_code == 200
            unready = await http.get("/readyz")
            assert unready.status_code == 503
            assert unready.json() == {"status": "unavailable"}
    finally:
        await broken.dispose()


async def test_metrics_and_request_id(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    user = await create_user(db)
    await gql.execute("{ me { id } }", token=gql.token_for(user))
    response = await gql.http.get("/metrics")
    assert response.status_code == 200
    assert "marquee_http_requests_total" in response.text
    assert "marquee_sql_statements_total" in response.text
    response = await gql.http.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    assert len((await gql.http.get("/healthz")).headers["x-request-id"]) == 32
    # An id that is not visible ASCII is replaced, not echoed (nor a 500, as it was).
    for given in (b"\xff", b"a\x01b", "caf\u00e9".encode()):
        for answer in (
            await gql.http.get("/healthz", headers={"X-Request-ID": given}),
            await gql.http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": given}
            ),
        ):
            assert answer.status_code == 200, answer.text
            assert len(answer.headers["x-request-id"]) == 32
