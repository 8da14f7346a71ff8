"""The senders in the server: started by the start-up hook from settings, stopped with the
app; SMTP when configured (its password never logged), else .eml files in development;
text messages as files in development, none when told, none in production unless set."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from db.orders.signing import generate_signing_key, private_key_seed
from db.outbox import actions, queries
from db.session import Database
from graph.outbox.worker import start_outbox_worker
from graph.settings import Settings
from tests.outbox import contexts
from tests.outbox.conftest import SmtpServer, free_port


def _settings(tmp_path: Path, **values: object) -> Settings:
    defaults: dict[str, object] = {
        "env": "test",
        "jwt_secret": "test-secret-not-for-production-0123456789",
        "data_dir": tmp_path,
        "outbox_interval_seconds": 0.05,
    }
    return Settings(**{**defaults, **values})


async def _enqueue(db: Database, key: str) -> None:
    async with db.transaction() as session:
        await actions.enqueue_email(
            session,
            template="order_confirmation",
            to="ada@example.com",
            context=contexts.order_confirmation(),
            dedupe_key=key,
        )


async def _enqueue_sms(db: Database, key: str) -> None:
    async with db.transaction() as session:
        await actions.enqueue_sms(
            session,
            template="showtime_cancelled",
            to="+33612345678",
            context=contexts.showtime_cancelled(),
            dedupe_key=key,
        )


async def _until_sent(db: Database, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while await queries.status_counts(db) != {"SENT": 1}:
        assert time.monotonic() < deadline, await queries.status_counts(db)
        await asyncio.sleep(0.02)


async def test_the_hook_sends_by_smtp_and_never_logs_the_password(
    committed_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpServer(free_port(), auth=("mailer", "hunter2"))
    server.start()
    settings = _settings(
        tmp_path,
        smtp_url=f"smtp://mailer:hunter2@127.0.0.1:{server.port}",
        mail_from="Odeon <box-office@odeon.example>",
    )
    try:
        with caplog.at_level("DEBUG"):
            stop = await start_outbox_worker(SimpleNamespace(settings=settings, db=committed_db))
            try:
                await _enqueue(committed_db, "order:1:confirmation")
                await _until_sent(committed_db)
            finally:
                await stop()
    finally:
        server.stop()
    [received] = server.received
    assert received.message["From"] == "Odeon <box-office@odeon.example>"
    assert f"smtp://mailer:***@127.0.0.1:{server.port}" in caplog.text
    assert "hunter2" not in caplog.text


async def test_without_smtp_development_writes_eml_files(
    committed_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    with caplog.at_level("INFO", logger="marquee.outbox"):
        stop = await start_outbox_worker(SimpleNamespace(settings=settings, db=committed_db))
        try:
            await _enqueue(committed_db, "order:1:confirmation")
            await _until_sent(committed_db)
        finally:
            await stop()
    [row] = await queries.list_messages(committed_db)
    path = tmp_path / "outbox" / f"{row.id}.eml"
    assert str(path) in caplog.text
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == row.message_id


async def test_production_without_smtp_sends_nothing_and_says_so(
    committed_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(
        tmp_path,
        env="production",
        ticket_signing_key=private_key_seed(generate_signing_key()),
        allow_sandbox_payments_in_production=True,
        payment_webhook_secret="w" * 40,
    )
    with caplog.at_level("WARNING", logger="marquee.outbox"):
        stop = await start_outbox_worker(SimpleNamespace(settings=settings, db=committed_db))
        await _enqueue(committed_db, "order:1:confirmation")
        await _enqueue_sms(committed_db, "order:1:sms")
        await asyncio.sleep(0.2)
        await stop()
    assert "MARQUEE_SMTP_URL is not set" in caplog.text
    assert "MARQUEE_SMS_PROVIDER is not set" in caplog.text
    assert await queries.status_counts(committed_db) == {"PENDING": 2}
    assert not (tmp_path / "outbox").exists()
    assert not (tmp_path / "sms").exists()


async def test_text_messages_are_files_in_development_and_none_when_told(
    committed_db: Database, tmp_path: Path
) -> None:
    off = _settings(tmp_path / "off", sms_provider="none")
    stop = await start_outbox_worker(SimpleNamespace(settings=off, db=committed_db))
    await _enqueue_sms(committed_db, "order:1:sms")
    await asyncio.sleep(0.2)
    await stop()
    assert await queries.status_counts(committed_db) == {"PENDING": 1}

    stop = await start_outbox_worker(
        SimpleNamespace(settings=_settings(tmp_path / "on"), db=committed_db)
    )
    try:
        await _until_sent(committed_db)
    finally:
        await stop()
    [row] = await queries.list_messages(committed_db)
    written = (tmp_path / "on" / "sms" / f"{row.id}.txt").read_text()
    assert written.startswith(f"To: +33612345678\nReference: {row.message_id}\n")
    assert "MQ-100042" in written


async def test_an_interval_of_zero_runs_no_sender(committed_db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path, outbox_interval_seconds=0)
    stop = await start_outbox_worker(SimpleNamespace(settings=settings, db=committed_db))
    await _enqueue(committed_db, "order:1:confirmation")
    await asyncio.sleep(0.2)
    await stop()
    assert await queries.status_counts(committed_db) == {"PENDING": 1}


async def test_a_malformed_smtp_url_stops_start_up_without_showing_the_password(
    committed_db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, smtp_url="smtp://mailer:hunter2@mail.example.com:twenty-five")
    with pytest.raises(ValueError, match=r"smtp://mailer:\*\*\*@") as info:
        await start_outbox_worker(SimpleNamespace(settings=settings, db=committed_db))
    assert "hunter2" not in str(info.value)
