"""GraphQL over HTTP (docs/clients.md): media types negotiated from Accept, the spec's status
codes under application/graphql-response+json, today's under application/json, 405 for a
mutation over GET, 406 and 415 for what the server cannot speak."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from graph.app import _negotiate_cached, negotiate
from tests.conftest import GraphQLClient

GRAPHQL_RESPONSE = "application/graphql-response+json"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"
LOGOUT = 'mutation { logout(input: {refreshToken: "x"}) { sessionsEnded } }'
# Anonymous: `users` is staff-only, an error raised while executing (it has a path).
FIELD_ERROR = "{ __typename users(first: 1) { totalCount } }"
BAD_VARIABLE = "query ($r: Role) { users(role: $r) { totalCount } }"


async def _post(
    gql: GraphQLClient, body: dict[str, Any], accept: str | None = APOLLO_ACCEPT
) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return await gql.http.post("/graphql", json=body, headers=headers)


def _media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].partition(";")[0].strip()


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (APOLLO_ACCEPT, GRAPHQL_RESPONSE),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/json; charset=utf-8", "application/json"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        (None, "application/json"),
        ("application/graphql-response+json;q=0.5, application/json", "application/json"),
        ("application/graphql-response+json;q=0, */*", "application/json"),
        ("text/html, */*;q=0.8", "application/json"),
    ],
)
async def test_the_response_has_the_media_type_the_client_asked_for(
    gql: GraphQLClient, accept: str | None, expected: str
) -> None:
    response = await _post(gql, {"query": "{ __typename }"}, accept)
    assert response.status_code == 200, response.text
    assert _media_type(response) == expected
    assert response.json()["data"] == {"__typename": "Query"}
    if expected == GRAPHQL_RESPONSE:
        assert "charset=utf-8" in response.headers["content-type"]


async def test_get_queries_negotiate_too(gql: GraphQLClient) -> None:
    response = await gql.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": APOLLO_ACCEPT}
    )
    assert response.status_code == 200
    assert _media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ me { ", id="syntax"),
        pytest.param("{ nope }", id="validation"),
        pytest.param("{ " + "__typename " * 5000 + "}", id="token-limit"),
    ],
)
async def test_errors_before_execution_are_400_without_data(gql: GraphQLClient, query: str) -> None:
    response = await _post(gql, {"query": query})
    assert response.status_code == 400, response.text
    assert _media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert _code(body) == "BAD_USER_INPUT"


async def test_variables_that_do_not_coerce_are_a_request_error(gql: GraphQLClient) -> None:
    response = await _post(gql, {"query": BAD_VARIABLE, "variables": {"r": "KING"}})
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_application_json_keeps_200_for_errors_of_the_document(gql: GraphQLClient) -> None:
    for body in ({"query": "{ me { "}, {"query": "{ nope }"}):
        response = await _post(gql, body, "application/json")
        assert response.status_code == 200, response.text
        assert _media_type(response) == "application/json"
        assert response.json()["data"] is None
        assert _code(response.json()) == "BAD_USER_INPUT"


@pytest.mark.parametrize("accept", [APOLLO_ACCEPT, "application/json"])
async def test_field_errors_are_200_with_data(gql: GraphQLClient, accept: str) -> None:
    response = await _post(gql, {"query": FIELD_ERROR}, accept)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["path"] == ["users"]
    assert _code(body) in ("UNAUTHENTICATED", "FORBIDDEN")


async def test_malformed_requests_are_400_in_the_negotiated_media_type(
    gql: GraphQLClient,
) -> None:
    headers = {"content-type": "application/json", "accept": APOLLO_ACCEPT}
    response = await gql.http.post("/graphql", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert _media_type(response) == GRAPHQL_RESPONSE
    assert _code(response.json()) == "BAD_USER_INPUT"
    response = await _post(gql, {"variables": {}})
    assert response.status_code == 400
    assert _media_type(response) == GRAPHQL_RESPONSE
    response = await _post(gql, {"variables": {}}, "application/json")
    assert response.status_code == 400
    assert _media_type(response) == "application/json"


@pytest.mark.parametrize("accept", [APOLLO_ACCEPT, "application/json", None])
async def test_a_mutation_over_get_is_405_allowing_post(
    gql: GraphQLClient, accept: str | None
) -> None:
    headers = {"accept": accept} if accept else {}
    response = await gql.http.get("/graphql", params={"query": LOGOUT}, headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _code(response.json()) == "BAD_USER_INPUT"
    expected = GRAPHQL_RESPONSE if accept == APOLLO_ACCEPT else "application/json"
    assert _media_type(response) == expected


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", "application/json;q=0"])
async def test_406_when_accept_allows_neither_json_type(gql: GraphQLClient, accept: str) -> None:
    response = await _post(gql, {"query": "{ __typename }"}, accept)
    assert response.status_code == 406
    assert _code(response.json()) == "BAD_USER_INPUT"
    response = await gql.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": accept}
    )
    assert response.status_code == 406


async def test_graphiql_is_still_served_to_browsers(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/graphql", None],
)
async def test_415_for_a_body_that_is_not_json(
    gql: GraphQLClient, content_type: str | None
) -> None:
    headers = {"accept": APOLLO_ACCEPT}
    if content_type:
        headers["content-type"] = content_type
    response = await gql.http.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    assert response.status_code == 415, response.text
    assert _media_type(response) == GRAPHQL_RESPONSE
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_a_json_content_type_with_charset_is_json(gql: GraphQLClient) -> None:
    response = await gql.http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=utf-8", "accept": APOLLO_ACCEPT},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_batch_is_refused_in_the_negotiated_media_type(gql: GraphQLClient) -> None:
    response = await gql.http.post(
        "/graphql",
        json=[{"query": "{ __typename }"}, {"query": "{ nope }"}],
        headers={"accept": APOLLO_ACCEPT},
    )
    assert response.status_code == 400  # batching is off
    assert _media_type(response) == GRAPHQL_RESPONSE
    assert _code(response.json()) == "BAD_USER_INPUT"


def test_negotiation_is_cached_per_header_unless_the_header_is_long() -> None:
    """A client sends the same Accept every time; a long one (a hostile client's, 5 MB
    each) is judged without being kept."""
    _negotiate_cached.cache_clear()
    assert negotiate(APOLLO_ACCEPT) == GRAPHQL_RESPONSE
    assert negotiate(APOLLO_ACCEPT) == GRAPHQL_RESPONSE
    assert _negotiate_cached.cache_info().hits == 1
    for n in range(20):
        long = f"text/x-{n}, " * 1000 + "application/json"
        assert negotiate(long) == "application/json"
    assert _negotiate_cached.cache_info().currsize == 1


SUBSCRIPTION = 'subscription { seatAvailability(showtimeId: "U2hvd3RpbWU6MQ") { sequence } }'


@pytest.mark.parametrize("accept", [APOLLO_ACCEPT, "application/json"])
async def test_a_subscription_over_http_is_400_not_an_internal_error(
    gql: GraphQLClient, accept: str
) -> None:
    response = await _post(gql, {"query": SUBSCRIPTION}, accept)
    assert response.status_code == 400, response.text
    assert _code(response.json()) == "BAD_USER_INPUT"
    response = await gql.http.get(
        "/graphql", params={"query": SUBSCRIPTION}, headers={"accept": accept}
    )
    assert response.status_code == 400, response.text
    assert _code(response.json()) == "BAD_USER_INPUT"


async def test_several_operations_need_an_operation_name(gql: GraphQLClient) -> None:
    document = (
        'query A { __typename } mutation B { logout(input: {refreshToken: "x"}) { sessionsEnded } }'
    )
    response = await _post(gql, {"query": document})
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    assert _code(body) == "BAD_USER_INPUT"
    assert "operationName" in body["errors"][0]["message"]
    # Named, the same document runs the operation asked for (and only that one).
    named = await _post(gql, {"query": document, "operationName": "A"})
    assert named.status_code == 200
    assert named.json()["data"] == {"__typename": "Query"}
