"""Persisted queries through the real app and PostgreSQL (docs/persisted-queries.md):
Apollo's automatic persisted queries over POST and GET, what is never stored, the cap on
learned documents, sharing between instances, the allow-list mode and its CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.persisted import actions, queries
from db.session import Database, SharedConnectionDatabase
from graph.app import create_app
from graph.auth import create_access_token
from graph.persisted import MAX_LEARNED_DOCUMENT
from graph.relay import to_global_id
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.harness import ROOT, SEAT_AVAILABILITY, WsClient, serve_in_process

MOVIES = "query Movies($first: Int!) { movies(first: $first) { totalCount } }"
LOGIN = (
    'mutation SignIn($login: String!) { login(input: {login: $login, password: "wrong"}) '
    "{ accessToken errors { code } } }"
)
INTROSPECTION = "query IntrospectionQuery { __schema { queryType { name } } }"

Client = Callable[..., httpx.AsyncClient]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(text)}}


@pytest.fixture
def client(db: SharedConnectionDatabase, settings: Settings) -> Client:
    """A client of a new app instance (its own in-process cache) on the test's database."""

    def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=overrides), database=db)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    return make


@pytest.fixture
async def http(client: Client) -> AsyncIterator[httpx.AsyncClient]:
    async with client() as http:
        yield http


async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await http.post("/graphql", json=body)
    return response.status_code, response.json()


async def get(http: httpx.AsyncClient, **params: Any) -> tuple[int, dict[str, Any]]:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    response = await http.get(
        "/graphql", params=encoded, headers={"Accept": "application/json, */*"}
    )
    return response.status_code, response.json()


def ok(status: int, body: dict[str, Any]) -> None:
    assert status == 200, body
    assert "errors" not in body, body


def code(body: dict[str, Any]) -> str:
    codes: str = body["errors"][0]["extensions"]["code"]
    return codes


async def test_apq_round_trip_over_post(http: httpx.AsyncClient, db: Database) -> None:
    hashed = {"variables": {"first": 2}, "extensions": persisted(MOVIES)}
    status, body = await post(http, hashed)
    assert (status, body["errors"][0]["message"]) == (200, "PersistedQueryNotFound")
    assert code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert await queries.find_document(db, sha(MOVIES)) is None

    status, body = await post(http, {"query": MOVIES, **hashed})
    assert status == 200
    assert isinstance(body["data"]["movies"]["totalCount"], int)
    row = await queries.find_document(db, sha(MOVIES))
    assert row is not None
    assert (row.document, row.registered) == (MOVIES, False)

    status, body = await post(http, hashed)
    assert status == 200, body
    assert "errors" not in body
    assert isinstance(body["data"]["movies"]["totalCount"], int)


async def test_apq_round_trip_over_get(http: httpx.AsyncClient, db: Database) -> None:
    params: dict[str, Any] = {
        "extensions": persisted(MOVIES),
        "variables": {"first": 1},
        "operationName": "Movies",
    }
    status, body = await get(http, **params)
    assert (status, code(body)) == (200, "PERSISTED_QUERY_NOT_FOUND")

    status, body = await get(http, query=MOVIES, **params)
    assert status == 200, body
    assert isinstance(body["data"]["movies"]["totalCount"], int)

    status, body = await get(http, **params)
    assert status == 200, body
    assert isinstance(body["data"]["movies"]["totalCount"], int)
    assert await queries.find_document(db, sha(MOVIES)) is not None


async def test_a_long_document_runs_but_is_not_learned(
    http: httpx.AsyncClient, db: Database
) -> None:
    """Comments cost no tokens, so a document can be as long as a request body: one over
    MAX_LEARNED_DOCUMENT is answered and not stored (400 such documents of 250 kB made a
    100 MB table); its hash alone stays unknown, and a short one is still learned."""
    long = "# " + "x" * MAX_LEARNED_DOCUMENT + "\n{ __typename }"
    status, body = await post(http, {"query": long, "extensions": persisted(long)})
    assert (status, body["data"]) == (200, {"__typename": "Query"})
    assert await queries.find_document(db, sha(long)) is None
    status, body = await post(http, {"extensions": persisted(long)})
    assert code(body) == "PERSISTED_QUERY_NOT_FOUND"
    short = "# short\n{ __typename }"
    await post(http, {"query": short, "extensions": persisted(short)})
    found = await queries.find_document(db, sha(short))
    assert found is not None
    assert found[0] == short


async def test_a_stored_mutation_stays_405_over_get(http: httpx.AsyncClient) -> None:
    variables = {"login": "nobody"}
    status, body = await post(
        http, {"query": LOGIN, "variables": variables, "extensions": persisted(LOGIN)}
    )
    assert status == 200
    assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    response = await http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(LOGIN)), "variables": json.dumps(variables)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    # Over POST the hash alone runs it.
    status, body = await post(http, {"variables": variables, "extensions": persisted(LOGIN)})
    assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_anonymous_persisted_gets_are_cacheable_and_nothing_else(
    client: Client, db: Database, settings: Settings
) -> None:
    """ETag and public Cache-Control only for an anonymous GET of a persisted query answered
    without errors; a signed-in viewer's answer (of any GET) and an error are `no-store`."""
    params = {
        "extensions": json.dumps(persisted(MOVIES)),
        "variables": json.dumps({"first": 1}),
    }
    user = await create_user(db)
    token = create_access_token(user.id, user.role, settings)
    async with client(persisted_queries_max_age=30) as http:
        missing = await http.get("/graphql", params=params)
        assert code(missing.json()) == "PERSISTED_QUERY_NOT_FOUND"
        assert missing.headers["cache-control"] == "no-store"
        assert "etag" not in missing.headers
        await http.get("/graphql", params={**params, "query": MOVIES})

        found = await http.get("/graphql", params=params)
        ok(found.status_code, found.json())
        assert found.headers["cache-control"] == "public, max-age=30"
        assert "Authorization" in found.headers["vary"]
        etag = found.headers["etag"]
        again = await http.get("/graphql", params=params, headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        other = await http.get("/graphql", params=params, headers={"If-None-Match": '"x"'})
        assert other.status_code == 200
        assert other.content == found.content

        signed_in = await http.get(
            "/graphql",
            params=params,
            headers={"Authorization": f"Bearer {token}", "If-None-Match": etag},
        )
        ok(signed_in.status_code, signed_in.json())
        assert signed_in.headers["cache-control"] == "no-store"
        assert "etag" not in signed_in.headers
        # A plain GET (no persisted query): no cache headers when anonymous, and no-store
        # for a viewer (with a token, or a cookie that may hold one): no cache keeps it.
        plain = await http.get("/graphql", params={"query": "{ __typename }"})
        assert "cache-control" not in plain.headers
        mine = {"query": "{ me { username } }"}
        for credentials in ({"Authorization": f"Bearer {token}"}, {"Cookie": "session=x"}):
            answer = await http.get("/graphql", params=mine, headers=credentials)
            ok(answer.status_code, answer.json())
            assert answer.headers["cache-control"] == "no-store", credentials


async def test_hash_mismatch_and_bad_extensions_are_coded_errors(
    http: httpx.AsyncClient, db: Database
) -> None:
    other = "{ __typename }"
    status, body = await post(http, {"query": MOVIES, "extensions": persisted(other)})
    assert (status, code(body)) == (400, "PERSISTED_QUERY_HASH_MISMATCH")
    assert await queries.find_document(db, sha(other)) is None
    assert await queries.find_document(db, sha(MOVIES)) is None

    status, body = await post(http, {"query": other, "extensions": persisted(other, version=2)})
    assert (status, code(body)) == (400, "PERSISTED_QUERY_VERSION_UNSUPPORTED")

    bad = {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}}
    status, body = await post(http, {"query": other, "extensions": bad})
    assert (status, code(body)) == (400, "PERSISTED_QUERY_INVALID")
    status, body = await get(http, extensions={"persistedQuery": "x"})
    assert (status, code(body)) == (400, "PERSISTED_QUERY_INVALID")


DEEP = "query Deep { " + "me { favorites(first: 1) { edges { node { " * 4 + "id" + " } } } }" * 4
COSTLY = (
    "query Costly { movies(first: 100) { edges { node { showtimes(first: 100) { edges "
    "{ node { seatMap { rows { seats { id } } } } } } } } } }"
)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("query Broken { movies(first: 1) { totalCount }", "Syntax Error"),
        ("query Unknown { noSuchField }", "Cannot query field 'noSuchField'"),
        (DEEP + " }", "Query depth"),
        (COSTLY, "Query cost"),
    ],
)
async def test_documents_that_fail_before_execution_are_never_stored(
    http: httpx.AsyncClient, db: Database, document: str, reason: str
) -> None:
    _, body = await post(http, {"query": document, "extensions": persisted(document)})
    assert body.get("data") is None, body
    assert body["errors"][0]["message"].startswith(reason), body
    assert await queries.find_document(db, sha(document)) is None
    _, body = await post(http, {"extensions": persisted(document)})
    assert code(body) == "PERSISTED_QUERY_NOT_FOUND"


async def test_learned_documents_are_capped_least_recently_used_first(
    client: Client, db: Database
) -> None:
    q0, q1, q2, q3 = (f"query Q{i} {{ __typename }}" for i in range(4))

    async def stored() -> set[str]:
        return {row.sha256 for row in await queries.list_documents(db)}

    async with client(persisted_queries_max_learned=2) as http:
        for document in (q0, q1):
            await post(http, {"query": document, "extensions": persisted(document)})
    assert await stored() == {sha(q0), sha(q1)}
    # Another instance (nothing cached) uses Q0, so Q1 is now the least recently used.
    async with client(persisted_queries_max_learned=2) as http:
        _, body = await post(http, {"extensions": persisted(q0)})
        assert body["data"] == {"__typename": "Query"}
        await post(http, {"query": q2, "extensions": persisted(q2)})
    assert await stored() == {sha(q0), sha(q2)}
    # Registered documents are never evicted, nor counted against the cap.
    async with db.transaction() as session:
        await actions.register(session, [(sha(MOVIES), MOVIES)])
        assert await actions.learn(session, sha(q3), q3, cap=2)
    assert await stored() == {sha(MOVIES), sha(q2), sha(q3)}
    async with client(persisted_queries_max_learned=2) as http:
        _, body = await post(http, {"extensions": persisted(q0)})
        assert code(body) == "PERSISTED_QUERY_NOT_FOUND"


async def test_learning_is_rate_limited_per_worker(client: Client, db: Database) -> None:
    """Past the rate, a document runs but is not stored; the client's next hash-only request
    is told PersistedQueryNotFound and sends the text again, as the protocol has it."""
    first, second = "query First { __typename }", "query Second { __typename }"
    async with client(persisted_queries_learn_per_second=0.001) as http:
        for document in (first, second):
            status, body = await post(http, {"query": document, "extensions": persisted(document)})
            assert (status, body["data"]) == (200, {"__typename": "Query"})
        _, body = await post(http, {"extensions": persisted(second)})
        assert code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert await queries.find_document(db, sha(first)) is not None
    assert await queries.find_document(db, sha(second)) is None


async def test_another_instance_finds_what_one_stored(client: Client) -> None:
    async with client() as first:
        status, body = await post(
            first, {"query": MOVIES, "variables": {"first": 1}, "extensions": persisted(MOVIES)}
        )
        assert status == 200, body
    async with client() as second:
        status, body = await post(
            second, {"variables": {"first": 1}, "extensions": persisted(MOVIES)}
        )
        assert status == 200, body
        assert isinstance(body["data"]["movies"]["totalCount"], int)


async def test_off_mode_answers_not_supported_and_runs_text(client: Client, db: Database) -> None:
    async with client(persisted_queries="off") as http:
        status, body = await post(http, {"extensions": persisted(MOVIES)})
        assert (status, code(body)) == (200, "PERSISTED_QUERY_NOT_SUPPORTED")
        status, body = await post(
            http, {"query": MOVIES, "variables": {"first": 1}, "extensions": persisted(MOVIES)}
        )
        ok(status, body)
    assert await queries.find_document(db, sha(MOVIES)) is None


async def test_allowlist_accepts_only_registered_documents(client: Client, db: Database) -> None:
    async with db.transaction() as session:
        await actions.register(session, [(sha(MOVIES), MOVIES)])
    variables = {"first": 1}
    async with client(persisted_queries="allowlist") as http:
        # Registered: by text, by text and hash, by hash alone (POST and GET).
        for body_in in (
            {"query": MOVIES, "variables": variables},
            {"query": MOVIES, "variables": variables, "extensions": persisted(MOVIES)},
            {"variables": variables, "extensions": persisted(MOVIES)},
        ):
            status, body = await post(http, body_in)
            ok(status, body)
        status, body = await get(http, variables=variables, extensions=persisted(MOVIES))
        ok(status, body)

        other = "query Other { movies(first: 1) { totalCount } }"
        status, body = await post(http, {"query": other})
        assert (status, code(body)) == (400, "PERSISTED_QUERY_NOT_ALLOWED")
        # APQ registration is refused, and nothing is stored.
        status, body = await post(http, {"query": other, "extensions": persisted(other)})
        assert (status, code(body)) == (400, "PERSISTED_QUERY_NOT_ALLOWED")
        assert await queries.find_document(db, sha(other)) is None
        status, body = await post(http, {"extensions": persisted(other)})
        assert (status, code(body)) == (200, "PERSISTED_QUERY_NOT_FOUND")
        # Introspection only (GraphiQL's docs) is allowed while introspection is on.
        status, body = await post(http, {"query": INTROSPECTION})
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
        # A document learned before the switch to allow-list mode is not registered.
        async with db.transaction() as session:
            await actions.learn(session, sha(other), other, cap=10)
        status, body = await post(http, {"query": other})
        assert (status, code(body)) == (400, "PERSISTED_QUERY_NOT_ALLOWED")
    async with client(persisted_queries="allowlist", introspection=False) as http:
        status, body = await post(http, {"query": INTROSPECTION})
        assert (status, code(body)) == (400, "PERSISTED_QUERY_NOT_ALLOWED")


async def test_allowlist_holds_over_the_websocket(
    committed_db: Database, settings: Settings
) -> None:
    """A subscription's document must be registered too; an unregistered one gets an
    `error` message with the code and is not run, and the connection stays usable."""
    show = await create_bookable_showtime(committed_db)
    async with committed_db.transaction() as session:
        await actions.register(session, [(sha(SEAT_AVAILABILITY), SEAT_AVAILABILITY)])
    app = create_app(
        settings.model_copy(update={"persisted_queries": "allowlist"}), database=committed_db
    )
    variables = {"id": to_global_id("Showtime", show.id)}
    async with serve_in_process(app) as url, WsClient.connect(url) as ws:
        await app.state.marquee.services["seat_hub"].connected.wait()
        unregistered = SEAT_AVAILABILITY.replace("seatId status", "seatId")
        refused = await ws.subscribe(unregistered, variables)
        message = await ws.message(refused)
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        accepted = await ws.subscribe(SEAT_AVAILABILITY, variables)
        event = await ws.next(accepted)
        assert event["seatAvailability"]["snapshot"] is True


async def test_a_get_with_extensions_is_an_operation_not_graphiql(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(MOVIES))},
        headers={"Accept": "text/html, */*"},
    )
    assert response.headers["content-type"].startswith("application/json")
    assert code(response.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_cli_registers_and_lists(
    committed_db: Database, database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "ops.graphql"
    source.write_text(
        "fragment T on Movie { title }\n"
        "query A { movies(first: 1) { edges { node { ...T } } } }\n"
        "query B { __typename }\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}

    async def marquee(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "graph.cli",
            "persisted-queries",
            *args,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    out = await marquee("register", str(source))
    # The file as written, and each operation alone (A with its fragment), printed.
    alone_a = (
        "query A {\n  movies(first: 1) {\n    edges {\n      node {\n        ...T\n      }\n"
        "    }\n  }\n}\n\nfragment T on Movie {\n  title\n}"
    )
    # As Apollo Client sends it: __typename in every selection set but the operation's own.
    apollo_a = (
        "query A {\n  movies(first: 1) {\n    edges {\n      node {\n        ...T\n"
        "        __typename\n      }\n      __typename\n    }\n    __typename\n  }\n}\n\n"
        "fragment T on Movie {\n  title\n  __typename\n}"
    )
    alone_b = "query B {\n  __typename\n}"
    for document in (source.read_text(), alone_a, apollo_a, alone_b):
        assert sha(document) in out, out
        row = await queries.find_document(committed_db, sha(document))
        assert row is not None
        assert row.registered
    # And the whole file printed (as gql sends it); B as Apollo sends it is B alone.
    assert out.strip().endswith("5 documents registered")
    listing = await marquee("list")
    assert f"{sha(alone_b)}  registered" in listing, listing

    # A registered operation runs in allow-list mode, sent as Apollo sends it.
    settings = Settings(
        env="test",
        jwt_secret="test-secret-not-for-production-0123456789",
        data_dir=tmp_path,
        persisted_queries="allowlist",
    )
    app = create_app(settings, database=committed_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        status, body = await post(http, {"query": alone_b, "extensions": persisted(alone_b)})
        assert (status, body["data"]) == (200, {"__typename": "Query"}), body


async def test_cli_refuses_a_file_that_does_not_parse(tmp_path: Path) -> None:
    source = tmp_path / "bad.graphql"
    source.write_text("query {")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "graph.cli",
        "persisted-queries",
        "register",
        str(source),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 1
    assert "bad.graphql" in err.decode()
