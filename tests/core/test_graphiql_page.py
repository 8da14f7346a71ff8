"""The GraphiQL page at GET /graphql (graph/web/graphiql.py) without a browser: it and
every file it loads come from Marquee itself, under a Content-Security-Policy of 'self';
the vendored files are the manifest's versions; each step of the walkthrough tab runs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from graphql import OperationDefinitionNode, parse, print_ast, validate

from db.session import SharedConnectionDatabase
from graph.relay import to_global_id
from graph.web import graphiql
from graph.web.vendor import VENDOR_DIR, load_manifest
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user

HTML = {"accept": "text/html"}


class _Refs(HTMLParser):
    """The URLs a page loads (src, href) and the text of its JSON config element."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.other: list[str] = []
        self.config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        elif tag == "script" and values.get("id") == "graphiql-config":
            self._in_config = True
        elif tag == "script":
            raise AssertionError("an inline script: the CSP would refuse it")
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets.append(values["href"] or "")
        else:
            self.other.extend(v or "" for k, v in attrs if k in ("src", "href", "action"))

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data


def _page_refs(text: str) -> _Refs:
    refs = _Refs()
    refs.feed(text)
    return refs


async def test_page_and_its_files_come_from_its_own_origin(gql: GraphQLClient) -> None:
    page = await gql.http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    for directive in ("default-src", "script-src", "style-src", "connect-src"):
        assert csp[directive] == "'self'", csp
    assert "unsafe" not in page.headers["content-security-policy"]

    refs = _page_refs(page.text)
    assert len(refs.scripts) == len(graphiql.SCRIPTS)
    assert refs.stylesheets
    for url in [*refs.scripts, *refs.stylesheets, *refs.other]:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        assert (parts.scheme, parts.netloc) == ("", ""), f"{url} names another host"
        assert url.startswith("/static/"), url
    # Nothing in the page text names a host: no http(s):// or protocol-relative URL.
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert '"//' not in page.text
    assert "'//" not in page.text

    for url in refs.scripts:
        response = await gql.http.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response.headers["content-type"], url
    for url in refs.stylesheets:
        response = await gql.http.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/css"), url
        assert "http://" not in response.text, url
        assert "https://" not in response.text, url

    # The page's own script connects only to the endpoint of its config, a path.
    config = json.loads(refs.config)
    assert config["endpoint"] == "/graphql"
    own = await gql.http.get("/static/graphiql/playground.js")
    assert "http://" not in own.text
    assert "https://" not in own.text


async def test_vendored_files_are_the_manifests_versions() -> None:
    served = {*graphiql.SCRIPTS, *graphiql.STYLESHEETS}
    vendored: set[str] = set()
    for package in load_manifest():
        directory = VENDOR_DIR / package["dir"]
        meta = json.loads((directory / "package.json").read_text())
        assert (meta["name"], meta["version"]) == (package["name"], package["version"])
        for destination in package["files"].values():
            assert (directory / destination).is_file(), destination
            vendored.add(f"/static/vendor/{package['dir']}/{destination}")
        licences = [p for p in directory.iterdir() if p.name.upper().startswith("LICENSE")]
        assert licences, f"{package['name']} has no licence file"
        assert "MIT License" in licences[0].read_text() or "MIT" in meta["license"]
    # Every vendored file the page loads is one the manifest lists.
    assert {url for url in served if "/vendor/" in url} <= vendored


async def test_the_page_is_marquees_not_strawberrys(gql: GraphQLClient) -> None:
    # strawberry's page loads GraphiQL from a CDN. (Turned off, GET /graphql from a browser
    # is a 404: tests/core/test_http.py.)
    page = await gql.http.get("/graphql", headers=HTML)
    assert "Marquee GraphiQL" in page.text
    assert "unpkg" not in page.text
    assert "jsdelivr" not in page.text


# -- the walkthrough tab ---------------------------------------------------------------


def _steps() -> dict[str, str]:
    document = parse(graphiql.WALKTHROUGH.read_text())
    return {
        d.name.value: print_ast(d)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    }


async def test_walkthrough_is_valid_against_the_schema(gql: GraphQLClient) -> None:
    from graph.schema import build_schema

    schema = build_schema(gql.settings)._schema
    errors = validate(schema, parse(graphiql.WALKTHROUGH.read_text()))
    assert errors == []
    assert list(_steps()) == [
        "SignIn",
        "Movies",
        "Showtimes",
        "SeatMap",
        "SeatAvailability",  # run in Chromium: tests/browser/test_graphiql.py
        "HoldSeats",
    ]


async def test_walkthrough_steps_run_as_written(
    db: SharedConnectionDatabase, gql: GraphQLClient
) -> None:
    steps = _steps()
    await create_user(db, username="alice", password="marquee-demo")
    showtime = await create_bookable_showtime(db)
    showtime_gid = to_global_id("Showtime", showtime.id)

    # The headers editor's default, sent as it is: anonymous, not an error.
    async def run(name: str, variables: dict[str, Any], authorization: str) -> dict[str, Any]:
        response = await gql.http.post(
            "/graphql",
            json={"query": steps[name], "variables": variables},
            headers={"Authorization": authorization},
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    default = json.loads(graphiql.DEFAULT_HEADERS)["Authorization"]
    login = (await run("SignIn", {}, default))["login"]
    assert login["errors"] == []
    assert login["user"] == {"username": "alice"}
    signed_in = f"Bearer {login['accessToken']}"

    movies = (await run("Movies", {}, default))["movies"]
    assert movies["totalCount"] == 1
    showtimes = (await run("Showtimes", {}, default))["showtimes"]
    assert [e["node"]["id"] for e in showtimes["edges"]] == [showtime_gid]
    seat_map = (await run("SeatMap", {"showtimeId": showtime_gid}, default))["showtime"]
    seats = [seat for row in seat_map["seatMap"]["rows"] for seat in row["seats"]]
    assert {seat["status"] for seat in seats} == {"AVAILABLE"}

    chosen = [seats[0]["id"], seats[1]["id"]]
    variables = {"showtimeId": showtime_gid, "seatIds": chosen}
    held = (await run("HoldSeats", variables, signed_in))["holdSeats"]
    assert held["errors"] == []
    assert len(held["hold"]["seats"]) == 2
    after = (await run("SeatMap", {"showtimeId": showtime_gid}, signed_in))["showtime"]
    mine = [s["id"] for row in after["seatMap"]["rows"] for s in row["seats"] if s["heldByMe"]]
    assert sorted(mine) == sorted(chosen)
