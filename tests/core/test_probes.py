"""The background probes that every process sends every round (the sweeper's, the sandbox's
webhook deliveries) read the first entry of an index, whatever the planner's statistics say:
with statistics taken while a table was small and thousands of rows since (a busy day after
a quiet start), an `EXISTS (… WHERE due <= now())` was planned as a scan of the whole table
(docs/architecture.md)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.sql import Executable

from db.orders.actions import _SWEEP_DUE, sweep_due
from db.payments.sandbox import _ANY_WEBHOOK_DUE
from db.session import Database
from tests.factories import create_user

ROWS = 5000


async def _plan(db: Database, stmt: Executable) -> list[dict[str, Any]]:
    """Every node of the statement's plan, as PostgreSQL would run it now."""
    sql = db.static_sql(stmt)
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        plan = await driver.fetchval(f"EXPLAIN (FORMAT JSON) {sql.text}", *sql.arguments(None))
    # The pool's connections decode json themselves (db/session.py).
    data = json.loads(plan) if isinstance(plan, str) else plan
    nodes, todo = [], [data[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def _scanned(nodes: list[dict[str, Any]], table: str) -> set[str]:
    return {n["Node Type"] for n in nodes if n.get("Relation Name") == table}


async def test_the_probes_read_an_index_not_the_table(committed_db: Database) -> None:
    db = committed_db
    user = await create_user(db)
    async with db.engine.begin() as conn:
        # Statistics of the empty tables, then a day's rows: none due.
        await conn.execute(text("ANALYZE idempotency_keys, sandbox_charges"))
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (user_id, operation, key, request_hash)"
                " SELECT :user, 'checkout', 'k' || i, repeat('0', 64)"
                " FROM generate_series(1, :rows) i"
            ),
            {"user": user.id, "rows": ROWS},
        )
        await conn.execute(
            text(
                "INSERT INTO sandbox_charges (id, reference, token, amount, currency, status)"
                " SELECT 'ch_' || i, 'ref_' || i, 'tok_visa', 10, 'EUR', 'succeeded'"
                " FROM generate_series(1, :rows) i"
            ),
            {"rows": ROWS},
        )

    sweep = await _plan(db, _SWEEP_DUE)
    assert _scanned(sweep, "idempotency_keys") <= {"Index Only Scan", "Index Scan"}, sweep
    assert _scanned(sweep, "idempotency_keys")
    webhooks = await _plan(db, _ANY_WEBHOOK_DUE)
    assert _scanned(webhooks, "sandbox_charges") <= {"Index Only Scan", "Index Scan"}, webhooks
    assert _scanned(webhooks, "sandbox_charges")

    # And they still answer: nothing due, then an old key and a due webhook.
    assert not await sweep_due(db)
    assert not await db.fetch_static(_ANY_WEBHOOK_DUE)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '26 hours'"
                " WHERE key = 'k1'"
            )
        )
        await conn.execute(
            text("UPDATE sandbox_charges SET webhook_due_at = now() WHERE id = 'ch_7'")
        )
    assert await sweep_due(db)
    assert await db.fetch_static(_ANY_WEBHOOK_DUE)
