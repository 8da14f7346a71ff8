"""SMTP URLs (and passwords kept out of logs and errors), SMTP login, the .eml backend."""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db.outbox.compose import compose
from db.outbox.transport import FileTransport, SendError, SmtpConfig, SmtpTransport, mask_url
from tests.outbox import contexts
from tests.outbox.conftest import SmtpServer, free_port


def test_smtp_urls() -> None:
    assert SmtpConfig.from_url("smtp://mail.example.com") == SmtpConfig("mail.example.com", 25)
    assert SmtpConfig.from_url("smtp://u%40x:p%2Fw@mail:2525?starttls=true") == SmtpConfig(
        "mail", 2525, "u@x", "p/w", use_tls=False, start_tls=True
    )
    assert SmtpConfig.from_url("smtp://mail?starttls=true").port == 587
    assert SmtpConfig.from_url("smtp://mail?starttls=false").start_tls is False
    tls = SmtpConfig.from_url("smtps://u:p@mail")
    assert (tls.port, tls.use_tls, tls.start_tls) == (465, True, False)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:hunter2@mail",
        "smtp://u:hunter2@",
        "smtp://u:hunter2@mail?tls=1",
        "smtps://u:hunter2@mail?starttls=true",
        "smtp://u:hunter2@mail:port",
    ],
)
def test_a_bad_smtp_url_is_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL") as info:
        SmtpConfig.from_url(url)
    assert "hunter2" not in str(info.value)


def test_mask_url() -> None:
    assert mask_url("smtp://user:hunter2@mail:587?starttls=true") == (
        "smtp://user:***@mail:587?starttls=true"
    )
    assert mask_url("smtp://mail:25") == "smtp://mail:25"
    transport = SmtpTransport(SmtpConfig.from_url("smtps://user:hunter2@mail"))
    assert transport.description == "SMTP smtps://user:***@mail:465"


def _message(
    message_id: str = "<m1@marquee.localhost>",
    *,
    context: dict[str, object] | None = None,
    to: str = "ada@example.com",
) -> email.message.Message:
    return compose(
        "order_confirmation",
        contexts.order_confirmation() if context is None else context,
        mail_from="Marquee <tickets@marquee.localhost>",
        to=to,
        message_id=message_id,
        date=datetime(2026, 6, 1, tzinfo=UTC),
    )


async def test_smtp_login_with_the_credentials_of_the_url() -> None:
    server = SmtpServer(free_port(), auth=("mailer", "s3cret/pw"))
    server.start()
    try:
        good = SmtpTransport(
            SmtpConfig.from_url(f"smtp://mailer:s3cret%2Fpw@127.0.0.1:{server.port}"), timeout=5
        )
        await good.send(1, _message())
        await good.close()
        assert server.logins == ["mailer"]
        assert len(server.received) == 1

        bad = SmtpTransport(
            SmtpConfig.from_url(f"smtp://mailer:wrong-pw@127.0.0.1:{server.port}"), timeout=5
        )
        with pytest.raises(SendError) as info:
            await bad.send(2, _message("<m2@marquee.localhost>"))
        # Credentials are the server's business, not the message's: retried, batch stopped.
        assert info.value.connection
        assert not info.value.permanent
        assert "wrong-pw" not in info.value.reason
        assert len(server.received) == 1
    finally:
        server.stop()


async def test_the_file_backend_writes_a_parseable_eml_and_logs_its_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FileTransport(tmp_path / "outbox")
    with caplog.at_level("INFO", logger="marquee.outbox"):
        await transport.send(42, _message())
    path = tmp_path / "outbox" / "42.eml"
    assert str(path) in caplog.text
    assert [p.name for p in path.parent.iterdir()] == ["42.eml"]  # no temporary left
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    assert parsed["Message-ID"] == "<m1@marquee.localhost>"
    assert parsed["Subject"] == "Your tickets for Metropolis (order MQ-100042)"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    assert "K7Q2-0001" in text.get_content()
    assert sum(p.get_content_type() == "image/png" for p in parsed.walk()) == 2


@contextlib.contextmanager
def _smtp_server(*, smtputf8: bool = True) -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), smtputf8=smtputf8)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _send_by_smtp(server: SmtpServer, message: email.message.Message) -> None:
    transport = SmtpTransport(SmtpConfig.from_url(f"smtp://127.0.0.1:{server.port}"), timeout=5)
    try:
        await transport.send(1, message)
    finally:
        await transport.close()


async def test_a_line_starting_with_from_arrives_as_written() -> None:
    """An SMTP client that writes a message with the email package's compat32 policy (as
    aiosmtplib's `send_message` does for the MIME classes the e-mails are built with)
    escapes a body line that starts with "From " as ">From "; a film called "From Dusk Till
    Dawn" on a line of its own must arrive as it was written, in the text and in the HTML."""
    context = contexts.order_confirmation()
    context["movie_title"] = "From Dusk Till Dawn"
    with _smtp_server() as server:
        await _send_by_smtp(server, _message(context=context))
    received = server.received[0].message
    for kind in ("plain", "html"):
        part = received.get_body(preferencelist=(kind,))
        assert part is not None
        body = part.get_content()
        assert "From Dusk Till Dawn" in body
        assert not re.search(r"^>From", body, re.MULTILINE)


async def test_smtp_delivers_the_bytes_the_file_backend_writes(tmp_path: Path) -> None:
    """Both backends send what the message writes with its own policy (db/outbox/compose.py),
    to the addresses of its From and To headers."""
    message = _message(to="Ada Lovelace <ada@example.com>")
    with _smtp_server() as server:
        await _send_by_smtp(server, message)
    await FileTransport(tmp_path).send(1, message)
    [arrived] = server.received
    assert arrived.mail_from == "tickets@marquee.localhost"
    assert arrived.rcpt_tos == ["ada@example.com"]
    eml = (tmp_path / "1.eml").read_bytes()
    written = email.message_from_bytes(eml, policy=email.policy.default)
    assert arrived.message.as_bytes() == written.as_bytes()


@pytest.mark.parametrize("smtputf8", [True, False])
async def test_a_non_ascii_address_goes_by_smtputf8_or_not_at_all(smtputf8: bool) -> None:
    context = contexts.order_confirmation(customer_name="Zoë")
    message = _message(context=context, to="Zoë <zoë@example.com>")
    with _smtp_server(smtputf8=smtputf8) as server:
        if smtputf8:
            await _send_by_smtp(server, message)
        else:
            with pytest.raises(SendError, match="SMTPUTF8"):
                await _send_by_smtp(server, message)
    if smtputf8:
        [arrived] = server.received
        assert arrived.rcpt_tos == ["zoë@example.com"]
        text = arrived.message.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Hello Zoë," in text.get_content()
    else:
        assert server.received == []
