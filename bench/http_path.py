"""CPU per request of the HTTP path, in one process: `python -m bench.http_path`.

The app (`create_app`, no server, no socket, no database: `{ __typename }` reads none) is
called directly as ASGI with a prepared scope, one request at a time, N requests per run,
with the lean path (graph/transport.py) on and off, alternately, R runs each. It prints
this process's CPU time per request (best and median of the runs): the work between the
ASGI call and `execute` and back, without uvicorn and the socket, so a busy machine moves
it much less than a wrk run. Options: `--requests N` (3000), `--runs R` (5), `--origin`
(send an allowed Origin, so the CORS headers are added).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from graph.app import create_app
from graph.settings import Settings

BODY = b'{"query": "{ __typename }"}'


async def _requests(app: Any, count: int, origin: bool) -> float:
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ]
    if origin:
        headers.append((b"origin", b"http://localhost:5173"))
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    start = time.process_time()
    for _ in range(count):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
    elapsed = time.process_time() - start
    assert sent[0]["status"] == 200, sent[:2]
    assert b'"__typename":"Query"' in sent[1]["body"], sent[1]
    return elapsed / count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--origin", action="store_true")
    args = parser.parse_args()
    base = Settings(
        env="test",
        jwt_secret="bench-secret-not-for-production-0123456789",
        data_dir=tempfile.mkdtemp(),
    )
    apps = {lean: create_app(base.model_copy(update={"lean_http": lean})) for lean in (False, True)}
    for app in apps.values():
        await _requests(app, 200, args.origin)  # warm caches (parser, validation, plans)
    costs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.runs):
        for lean, app in apps.items():
            costs[lean].append(await _requests(app, args.requests, args.origin))
    for lean, runs in costs.items():
        micros = [round(run * 1e6, 1) for run in runs]
        print(
            f"lean={'on ' if lean else 'off'}  best {min(micros):6.1f} µs  "
            f"median {statistics.median(micros):6.1f} µs  runs {micros}"
        )


if __name__ == "__main__":
    asyncio.run(main())
