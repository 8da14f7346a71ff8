"""Property-based fuzzing of the whole schema (hypothesis-graphql) against the real app and
PostgreSQL, as an anonymous user, a customer and a manager.

Every root query and mutation field gets generated arguments, hostile strings (NUL, lone
surrogates, very long, unicode), hostile numbers and hostile global IDs (every node type with
keys beyond 64 bits, other types' IDs, garbage), both inline and as variables. The property:
no response has an error with extensions.code INTERNAL_SERVER_ERROR, and every HTTP status is
200 or one of the documented 400/413/429.

Short mode (default, part of `make test`): a few derandomized examples per root field, so a
run is repeatable. Long mode (`make fuzz`): FUZZ_EXAMPLES examples per root field, random.

Everything runs inside the rolled-back `db` fixture, and each example in a savepoint of its
own that is rolled back after it, so examples cannot affect each other and nothing persists.
Hypothesis runs in a worker thread and hands each request to the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.auth import create_access_token
from graph.relay import to_global_id
from graph.schema import build_schema
from graph.settings import Settings
from tests import factories
from tests.fuzz.strategies import b64, custom_scalars, hoist_variables, make_plausible

pytestmark = pytest.mark.fuzz

LONG = bool(os.environ.get("FUZZ_EXAMPLES"))
EXAMPLES_PER_FIELD = int(os.environ.get("FUZZ_EXAMPLES") or 3)
ALLOWED_STATUS = {200, 400, 413, 429}
REQUEST_TIMEOUT = 30.0
PASSWORD = "correct-horse-battery"


@dataclass
class Seeded:
    ids: list[str]
    strings: list[str]
    tokens: dict[str, str | None]


async def seed(db: SharedConnectionDatabase, http: httpx.AsyncClient, cfg: Settings) -> Seeded:
    """A little of everything, so generated arguments hit real rows: users of each role, a
    genre, movies, a cinema with a hall, showtimes, a review and a customer's live hold."""
    customer = await factories.create_user(db, password=PASSWORD)
    manager = await factories.create_user(db, password=PASSWORD, role="MANAGER")
    other = await factories.create_user(db, password=PASSWORD)
    genre = await factories.create_genre(db)
    movie = await factories.create_movie(db, genre_ids=[genre])
    cinema = await factories.create_cinema(db)
    hall = await factories.create_hall(db, cinema)
    showtime = await factories.create_showtime(db, movie_id=movie, hall_id=hall)
    bookable = await factories.create_bookable_showtime(db)
    review = await factories.create_review(db, user_id=other.id, movie_id=movie)
    tokens = {
        "anonymous": None,
        "customer": create_access_token(customer.id, customer.role, cfg),
        "manager": create_access_token(manager.id, manager.role, cfg),
    }
    hold = await http.post(
        "/graphql",
        json={
            "query": "mutation ($i: HoldSeatsInput!) { holdSeats(input: $i) { hold { id } } }",
            "variables": {
                "i": {
                    "showtimeId": to_global_id("Showtime", bookable.id),
                    "seatIds": [to_global_id("Seat", s) for s in bookable.seat_ids[:2]],
                }
            },
        },
        headers={"Authorization": f"Bearer {tokens['customer']}"},
    )
    hold_id = hold.json()["data"]["holdSeats"]["hold"]["id"]
    login = await http.post(
        "/graphql",
        json={
            "query": "mutation ($i: LoginInput!) { login(input: $i) { refreshToken } }",
            "variables": {"i": {"login": customer.username, "password": PASSWORD}},
        },
    )
    refresh = login.json()["data"]["login"]["refreshToken"]
    ids = [
        to_global_id("Movie", movie),
        to_global_id("Genre", genre),
        to_global_id("Cinema", cinema),
        to_global_id("Hall", hall),
        to_global_id("Hall", bookable.hall_id),
        to_global_id("Showtime", showtime),
        to_global_id("Showtime", bookable.id),
        to_global_id("Review", review),
        to_global_id("User", customer.id),
        to_global_id("User", manager.id),
        to_global_id("User", other.id),
        hold_id,
        *(to_global_id("Seat", s) for s in bookable.seat_ids[:4]),
    ]
    strings = [
        customer.username,
        customer.email,
        other.username,
        PASSWORD,
        refresh,
        "new-password-12345",
    ]
    return Seeded(ids=ids, strings=strings, tokens=tokens)


# --- running one example and judging its response ---------------------------------------


@dataclass
class Failure:
    signature: str
    field: str
    role: str
    problem: str
    query: str
    variables: dict[str, Any]
    count: int = 1

    def size(self) -> int:
        return len(self.query) + len(json.dumps(self.variables))


@dataclass
class Findings:
    failures: dict[str, Failure] = field(default_factory=dict)
    requests: int = 0
    seen: Counter[str] = field(default_factory=Counter)

    def add(self, failure: Failure) -> None:
        known = self.failures.get(failure.signature)
        if known is None:
            self.failures[failure.signature] = failure
            return
        known.count += 1
        if failure.size() < known.size():  # keep the smallest example of each failure
            failure.count = known.count
            self.failures[failure.signature] = failure

    def report(self) -> str:
        lines = [f"{len(self.failures)} distinct failure(s) in {self.requests} requests:"]
        for f in sorted(self.failures.values(), key=lambda f: f.signature):
            variables = json.dumps(f.variables)[:600]
            lines.append(
                f"\n[{f.count}x] {f.signature}\n  role={f.role} problem={f.problem[:400]}\n"
                f"  query={f.query[:800]}\n  variables={variables}"
            )
        return "\n".join(lines)


_NOISE = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


def _normalise(message: str) -> str:
    return _NOISE.sub("_", message)[:160]


def judge(status: int, body: bytes, seen: Counter[str]) -> list[str]:
    """The problems with one response (empty when it honours the contract); `seen` counts
    the statuses and error codes met (the run's summary line)."""
    seen[str(status)] += 1
    if status not in ALLOWED_STATUS:
        return [f"HTTP {status}: {body[:300]!r}"]
    try:
        data = json.loads(body)
    except ValueError:
        return [f"HTTP {status} with a body that is not JSON: {body[:300]!r}"]
    problems = []
    if not isinstance(data, dict):
        return [f"HTTP {status} with a body that is not a JSON object: {body[:300]!r}"]
    for payload in (data.get("data") or {}).values():
        if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
            codes = [e.get("code") for e in payload["errors"] if isinstance(e, dict)]
            if not payload["errors"]:
                seen["payload:ok"] += 1
            seen.update(f"payload:{code}" for code in codes if code)
    for error in data.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        seen[str(code)] += 1
        if code == "INTERNAL_SERVER_ERROR":
            problems.append(f"INTERNAL_SERVER_ERROR at {error.get('path')}: {error.get('message')}")
    return problems


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None
) -> tuple[int, bytes]:
    # json.dumps escapes lone surrogates (\ud800) and writes NaN/Infinity as a lax client
    # would; the server must cope with both.
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await http.post("/graphql", content=body, headers=headers)
    return response.status_code, response.content


async def run_example(
    db: SharedConnectionDatabase,
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    token: str | None,
    seen: Counter[str],
) -> list[str]:
    savepoint = await db.connection.begin_nested()
    try:
        status, body = await asyncio.wait_for(post(http, query, variables, token), REQUEST_TIMEOUT)
        return judge(status, body, seen)
    except TimeoutError:
        return [f"no answer within {REQUEST_TIMEOUT} s"]
    except Exception as exc:  # the app raised through the transport: a 500
        return [f"unhandled {type(exc).__name__}: {exc}"]
    finally:
        if savepoint.is_active:
            await savepoint.rollback()


# Fixed probes run first in every mode, one per hostile class the generator also draws at
# random: NUL reaching SQL, a lone surrogate echoed back in an error, a key beyond 64 bits.
PROBES: list[tuple[str, dict[str, Any]]] = [
    (
        "mutation ($i: LoginInput!) { login(input: $i) { errors { code field } } }",
        {"i": {"login": "nul\u0000name", "password": PASSWORD}},
    ),
    ("query ($id: ID!) { node(id: $id) { id } }", {"id": "\ud800"}),
    ("{ node(id: " + json.dumps(b64("Movie:99999999999999999999")) + ") { id } }", {}),
    ("{ nodes(ids: [" + json.dumps(b64(f"SeatHold:{10**40}")) + "]) { id } }", {}),
]


# --- the fuzz -------------------------------------------------------------------------------


def hypothesis_settings() -> settings:
    return settings(
        max_examples=EXAMPLES_PER_FIELD,
        derandomize=not LONG,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def root_fields(schema: graphql.GraphQLSchema) -> list[tuple[str, str]]:
    """Every root query and mutation field (FUZZ_FIELDS=a,b narrows a run to some)."""
    out = [("query", name) for name in schema.query_type.fields]  # type: ignore[union-attr]
    out += [("mutation", name) for name in schema.mutation_type.fields]  # type: ignore[union-attr]
    only = {n for n in os.environ.get("FUZZ_FIELDS", "").split(",") if n}
    return [(kind, name) for kind, name in out if not only or name in only]


def fuzz_field(
    kind: str,
    name: str,
    schema: graphql.GraphQLSchema,
    scalars: dict[str, Any],
    execute: Callable[[str, dict[str, Any], str], list[str]],
) -> None:
    make = queries if kind == "query" else mutations
    documents = make(schema, fields=[name], custom_scalars=scalars, print_ast=lambda d: d)

    @hypothesis_settings()
    @given(document=documents, data=st.data())
    def fuzz(document: graphql.DocumentNode, data: st.DataObject) -> None:
        # Some input fields get values that pass validation, to reach deeper code.
        if data.draw(st.booleans(), label="plausible"):
            document = make_plausible(
                document,
                lambda options: data.draw(st.one_of(st.none(), st.sampled_from(options))),
            )
        # Half the examples send every literal inline; the others hoist some into variables.
        if data.draw(st.booleans(), label="use variables"):
            document, variables = hoist_variables(
                document, schema, lambda: data.draw(st.booleans(), label="hoist")
            )
        else:
            variables = {}
        execute(graphql.print_ast(document), variables, name)

    fuzz()


@pytest.mark.parametrize("role", ["anonymous", "customer", "manager"])
async def test_no_internal_errors(
    db: SharedConnectionDatabase, settings: Settings, role: str
) -> None:
    app = create_app(settings, database=db)
    schema = graphql.build_schema(build_schema(settings).as_str())
    findings = Findings()
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=REQUEST_TIMEOUT
    ) as http:
        seeded = await seed(db, http, settings)
        token = seeded.tokens[role]
        scalars = custom_scalars(seeded.ids, seeded.strings)

        def execute(query: str, variables: dict[str, Any], name: str) -> list[str]:
            future = asyncio.run_coroutine_threadsafe(
                run_example(db, http, query, variables, token, findings.seen), loop
            )
            problems = future.result(REQUEST_TIMEOUT * 2)
            findings.requests += 1
            for problem in problems:
                signature = f"{name}: {_normalise(problem)}"
                findings.add(Failure(signature, name, role, problem, query, variables))
            return problems

        def run_all() -> None:
            for query, variables in PROBES:
                execute(query, variables, "probe")
            for kind, name in root_fields(schema):
                fuzz_field(kind, name, schema, scalars, execute)

        await asyncio.to_thread(run_all)
    elapsed = time.monotonic() - started
    print(
        f"fuzz[{role}]: {findings.requests} requests in {elapsed:.1f} s; "
        f"statuses and codes: {dict(findings.seen.most_common())}"
    )
    assert not findings.failures, findings.report()
