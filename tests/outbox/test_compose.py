"""The e-mails themselves: every template renders, HTML escapes, text does not, a missing
value is an error (never a blank), each ticket's QR code is an inline PNG."""

from __future__ import annotations

import email
import email.policy
import io
import random
import string
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from typing import Any

import pytest

from db.outbox.codes import EmailTemplate
from db.outbox.compose import (
    POLICY,
    InlineImage,
    Rendered,
    RenderError,
    build_message,
    compose,
    render,
    when,
)
from tests.outbox import contexts

MESSAGE_ID = "<0123abcd@marquee.localhost>"
PASSWORD_TEMPLATES = {EmailTemplate.SET_PASSWORD, EmailTemplate.PASSWORD_RESET}


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_template_renders_subject_text_and_html(template: EmailTemplate) -> None:
    context = getattr(contexts, template.value)(customer_name="Ada <script>alert(1)</script>")
    rendered = render(template.value, context, message_id=MESSAGE_ID)
    assert rendered.subject
    assert "\n" not in rendered.subject
    # The text version is not HTML; the HTML version escapes every value.
    assert "Hello Ada <script>alert(1)</script>," in rendered.text
    assert "<script>" not in rendered.html
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    if template in PASSWORD_TEMPLATES:
        link = context["secret_link"]
        assert link in rendered.text
        assert f'href="{link}"' in rendered.html
        assert "your order" not in rendered.html  # not the sale's footer
    else:
        assert "MQ-100042" in rendered.text or "MQ-100042" in rendered.subject
        assert "Metropolis" in rendered.html


def confirmation(
    context: dict[str, Any],
    *,
    mail_from: str = "Marquee <tickets@marquee.localhost>",
    to: str = "ada@example.com",
    message_id: str = MESSAGE_ID,
) -> Message:
    return compose(
        "order_confirmation",
        context,
        mail_from=mail_from,
        to=to,
        message_id=message_id,
        date=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    )


def received(message: Message) -> EmailMessage:
    """The message as a mail client reads it: its bytes, parsed."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_order_confirmation_has_one_qr_code_per_ticket_with_a_payload() -> None:
    context = contexts.order_confirmation(tickets=3)
    context["tickets"][1]["qr_payload"] = ""  # no code for this one
    message = received(confirmation(context))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == [
        "text/plain",
        "multipart/related",
    ]
    assert [p.get_all("MIME-Version") for p in message.walk()] == [["1.0"]] + [None] * 5
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert [i.get_filename() for i in images] == ["ticket-K7Q2-0001.png", "ticket-K7Q2-0003.png"]
    assert [i["Content-ID"] for i in images] == [
        "<qr1.0123abcd@marquee.localhost>",
        "<qr3.0123abcd@marquee.localhost>",
    ]
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert html.get_content().count('src="cid:') == 2
    assert message["Date"] == "Mon, 01 Jun 2026 12:00:00 +0000"


def test_a_missing_value_is_a_render_error_naming_it() -> None:
    context = contexts.order_confirmation()
    del context["hall_name"]
    with pytest.raises(RenderError, match="'hall_name' is undefined"):
        render("order_confirmation", context, message_id=MESSAGE_ID)
    with pytest.raises(RenderError, match="unknown template"):
        render("../base", {}, message_id=MESSAGE_ID)


def test_times_read_in_the_cinemas_time_zone() -> None:
    new_york = when("2026-01-09T19:05:00+00:00", "America/New_York")
    assert new_york == "Friday 9 January 2026, 14:05 EST"
    assert when("2026-01-09T19:05:00+01:00") == "Friday 9 January 2026, 19:05 UTC+01:00"


def test_non_ascii_headers_are_encoded_and_read_back() -> None:
    context = contexts.order_confirmation(customer_name="Zoë")
    context["movie_title"] = "Amélie — the director's cut"
    raw = confirmation(
        context,
        mail_from="Cinéma Marquee <tickets@marquee.localhost>",
        to="Zoë Martin <zoe@example.com>",
    ).as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()  # RFC 2047 words, not raw UTF-8, in the headers
    message = received(email.message_from_bytes(raw))
    assert "Amélie — the director's cut" in message["Subject"]
    assert message["From"].addresses[0].display_name == "Cinéma Marquee"
    assert message["From"].addresses[0].addr_spec == "tickets@marquee.localhost"
    assert message["To"].addresses[0].display_name == "Zoë Martin"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Hello Zoë," in text.get_content()


@pytest.mark.parametrize("field", ["to", "mail_from", "message_id"])
def test_a_header_value_with_a_line_break_is_a_render_error(field: str) -> None:
    values = {
        "mail_from": "Marquee <tickets@marquee.localhost>",
        "to": "ada@example.com",
        "message_id": MESSAGE_ID,
    }
    values[field] += "\r\nBcc: victim@example.com"
    with pytest.raises(RenderError, match="line break"):
        confirmation(contexts.order_confirmation(), **values)


def _built(rendered: Rendered) -> Message:
    return build_message(
        rendered,
        mail_from="tickets@marquee.localhost",
        to="ada@example.com",
        message_id=MESSAGE_ID,
        date=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    )


def test_the_boundaries_are_not_in_any_part() -> None:
    """The message's own boundaries start with "=_", which no encoded body line can: text
    that looks like a boundary line is written quoted-printable ("=3D"), the images base64."""
    fake = "--=_" + "0" * 32
    rendered = Rendered(
        subject="Boundaries",
        text=f"{fake}\n{fake}--\nthe end",
        html=f"<p>\n{fake}\n</p>",
        images=(InlineImage(cid="qr1.x@marquee.localhost", filename="a.png", png=b"=_" * 64),),
    )
    message = _built(rendered)
    raw = message.as_bytes()
    boundaries = {part.get_boundary() for part in message.walk() if part.is_multipart()}
    assert len(boundaries) == 2
    assert all(str(b).startswith("=_") for b in boundaries)
    lines = {line.rstrip(b"-") for line in raw.splitlines() if line.startswith(b"--=_")}
    assert lines == {f"--{b}".encode() for b in boundaries}
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    plain = parsed.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().splitlines()[:2] == [fake, f"{fake}--"]
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]


def test_headers_are_written_as_compat32_writes_them() -> None:
    """The messages' policy writes a header that fits on one line without folding it: the
    bytes are those of the email package's `compat32` policy, for every header of a
    message (non-ASCII ones included, which it leaves to `compat32`) and for any ASCII
    value, spaces, tabs and encoded-word look-alikes included."""
    rng = random.Random(20261205)
    alphabet = string.ascii_letters + string.digits + ' \t=?<>@.,;:"()-_/'
    for _ in range(5000):
        name = rng.choice(["Subject", "To", "X-A-Rather-Long-Header-Name"])
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        assert POLICY.fold_binary(name, value) == email.policy.compat32.fold_binary(name, value)
        assert POLICY.fold(name, value) == email.policy.compat32.fold(name, value)
    context = contexts.order_confirmation(customer_name="Zoë")
    context["movie_title"] = "Amélie — the director's cut, " + "long " * 20
    message = confirmation(context, to="Zoë Martin <zoe@example.com>")
    ours = message.as_bytes()
    theirs = io.BytesIO()
    BytesGenerator(theirs, mangle_from_=False, policy=email.policy.compat32).flatten(message)
    assert ours == theirs.getvalue()


def test_text_parts_are_quoted_printable_and_read_back_exactly() -> None:
    text = "Zoë's tickets\n" + "x" * 200 + "\ntrailing space \n= sign\nFrom here\n.\n"
    rendered = Rendered(subject="QP", text=text, html=f"<p>{text}</p>", images=())
    message = _built(rendered)
    raw = message.as_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 76
    assert b"\n>From" not in raw
    parsed = received(message)
    for kind, expected in (("plain", text), ("html", f"<p>{text}</p>")):
        part = parsed.get_body(preferencelist=(kind,))
        assert part is not None
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
        assert part.get_content() == expected
