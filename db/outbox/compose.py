"""E-mails from templates: subject, plain text and HTML rendered with Jinja2 from
`db/outbox/templates/`, put together as one MIME message (text and HTML alternatives; the
HTML with its images inline as multipart/related parts).

Rendering is strict: a name the context lacks is an error (the row is marked FAILED with the
reason), never an empty spot in a customer's e-mail. It is CPU work (an order confirmation
with two tickets takes about 2.1 ms, 1.2 of it their QR codes: `python -m
bench.email_cost`, db/qr.py), so the sender makes the QR codes first, one at a time, and
lets the event loop run between them (`qr_images`).
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from db.outbox.codes import EMAIL_TEMPLATES
from db.qr import qr_png

TEMPLATE_DIR = Path(__file__).with_name("templates")

_FROM_LINE = re.compile(r"^From ", re.MULTILINE)


class RenderError(Exception):
    """The message cannot be made (unknown template, missing or malformed context)."""


def when(value: str, time_zone: str | None = None, *, short: bool = False) -> str:
    """An ISO time as people read it: 'Friday 12 June 2026, 19:30 CEST' (in `time_zone`
    when given, else in the offset the string carries); `short` for text messages:
    'Fri 12 Jun 2026 19:30 CEST'."""
    moment = datetime.fromisoformat(value)
    if time_zone and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(time_zone))
    if short:
        text = f"{moment:%a} {moment.day} {moment:%b %Y} {moment:%H:%M}"
    else:
        text = f"{moment:%A} {moment.day} {moment:%B %Y}, {moment:%H:%M}"
    zone = moment.tzname()
    return f"{text} {zone}" if zone else text


def when_short(value: str, time_zone: str | None = None) -> str:
    return when(value, time_zone, short=True)


_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    # HTML templates escape every value; subjects and plain text are not HTML.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # The templates ship with the code: not a stat() of each file on every render to see
    # whether it changed (three a message).
    auto_reload=False,
)
_env.filters["when"] = when
_env.filters["when_short"] = when_short


def render_text(name: str, values: Mapping[str, Any]) -> str:
    """One template of db/outbox/templates/ (the text messages' `sms/<name>.txt` too),
    strict: a missing value raises."""
    return _env.get_template(name).render(values)


@dataclass(frozen=True, slots=True)
class InlineImage:
    cid: str  # Content-ID without the angle brackets (the HTML says src="cid:<this>")
    filename: str
    png: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...]


def _with_payloads(context: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any], str]]:
    """(index, ticket, its QR payload) for the tickets that have a `qr_payload`."""
    tickets = context.get("tickets") or []
    found = []
    for index, ticket in enumerate(tickets):
        payload = ticket.get("qr_payload") if isinstance(ticket, Mapping) else None
        if payload:
            found.append((index, ticket, str(payload)))
    return found


def qr_payloads(context: Mapping[str, Any]) -> list[str]:
    """The QR payloads a message of `context` shows, one image each."""
    return [payload for _, _, payload in _with_payloads(context)]


def _qr_images(
    context: Mapping[str, Any], message_id: str, made: Mapping[str, bytes]
) -> dict[int, InlineImage]:
    """{ticket index: its QR code} for the tickets that have a `qr_payload`; a code's PNG
    is taken from `made` (payload: PNG) when it was made beforehand."""
    local, _, domain = message_id.strip("<>").partition("@")
    images = {}
    for index, ticket, payload in _with_payloads(context):
        reference = re.sub(r"[^A-Za-z0-9_-]", "", str(ticket.get("booking_reference", "")))
        png = made.get(payload)
        images[index] = InlineImage(
            # Derived from the Message-ID: a re-sent message is the same message.
            cid=f"qr{index + 1}.{local}@{domain or 'marquee.localhost'}",
            filename=f"ticket-{reference or index + 1}.png",
            png=qr_png(payload) if png is None else png,
        )
    return images


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    message_id: str,
    qr_images: Mapping[str, bytes] | None = None,
) -> Rendered:
    if template not in EMAIL_TEMPLATES:
        raise RenderError(f"unknown template {template!r}")
    try:
        images = _qr_images(context, message_id, qr_images or {})
        # The HTML finds a ticket's image as qr_cids[loop.index0].
        values = {**context, "qr_cids": {i: image.cid for i, image in images.items()}}
        subject = render_text(f"{template}.subject.txt", values)
        text = render_text(f"{template}.txt", values)
        html = render_text(f"{template}.html", values)
    except Exception as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc
    # One line, whatever the template or the values did.
    return Rendered(" ".join(subject.split()), text, html, tuple(images.values()))


def _header(value: str) -> str:
    """A header value as given; a line break in it would start a header of its own."""
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"a header value with a line break or NUL: {value!r}")
    return value


def _address(name: str, address: str) -> str:
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    # An internationalized address (SMTPUTF8) cannot be written in a 7-bit header; it is
    # kept as given (SMTP delivery takes the recipient from it; the header is encoded).
    return f"{name} <{address}>" if name else address


def _addresses(value: str) -> str:
    """An address header: as given when ASCII, else each display name RFC 2047-encoded
    (the address itself stays as it is)."""
    value = _header(value)
    if value.isascii():
        return value
    return ", ".join(_address(name, address) for name, address in getaddresses([value]))


def _boundary() -> str:
    """A MIME boundary no part of ours can contain: the text parts are quoted-printable,
    which writes "=" as "=3D", and the images base64, whose only "=" is padding at the end,
    so no line of a body starts with "--=_". Drawn here, because the email package draws
    its own and compiles a regular expression to check it against the message's text, for
    each multipart of each message: a tenth of a confirmation's CPU (bench/README.md)."""
    return "=_" + secrets.token_hex(16)


class OneLineCompat32(Compat32):
    """The `compat32` policy, except that a header that fits on one line (ASCII, no line
    break, at most `max_line_length` with its name) is written as it is, without building
    an `email.header.Header` to fold it: the same bytes (tests/outbox/test_compose.py
    compares them), in a fifth of the time; the folding was half of writing a message's
    bytes. Any other header is folded by `compat32` itself."""

    def _one_line(self, name: str, value: Any) -> str | None:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}"
        return None

    def fold(self, name: str, value: Any) -> str:
        line = self._one_line(name, value)
        return super().fold(name, value) if line is None else line

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = self._one_line(name, value)
        return super().fold_binary(name, value) if line is None else line.encode("ascii")


POLICY = OneLineCompat32()


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """UTF-8, quoted-printable (readable in a raw message where the text is ASCII), encoded
    by `binascii` (C) rather than the email package's `quoprimime` (Python, character by
    character: two thirds of building a confirmation's MIME structure)."""
    part = MIMENonMultipart("text", subtype, policy=POLICY, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    # An SMTP client writing with the compat32 policy escapes a line that starts with
    # "From " as ">From " (mbox's rule); quoted-printable may write the F as "=46", which
    # reads the same and is left alone by any writer.
    part.set_payload(_FROM_LINE.sub("=46rom ", encoded))
    del part["MIME-Version"]  # the message's header, not each part's
    return part


def build_message(
    rendered: Rendered, *, mail_from: str, to: str, message_id: str, date: datetime
) -> Message:
    """multipart/alternative: text/plain, then text/html (multipart/related with the images
    when there are any). `date` is when the message was enqueued: every attempt sends the
    same message.

    Built with the email package's MIME classes and its `compat32` policy: the newer
    `EmailMessage` API parses every header it is given, each part's too, and took 5.0 ms of
    CPU for an order confirmation, more than its QR codes (bench/README.md); these take
    a fraction of that for the same structure and headers. A non-ASCII subject or display
    name is RFC 2047-encoded when the message is written; a header value with a line break
    is refused (the newer API refused it too)."""
    message = MIMEMultipart("alternative", boundary=_boundary(), policy=POLICY)
    message["Subject"] = _header(rendered.subject)
    message["From"] = _addresses(mail_from)
    message["To"] = _addresses(to)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = _header(message_id)
    message.attach(_text_part(rendered.text, "plain"))
    html = _text_part(rendered.html, "html")
    if not rendered.images:
        message.attach(html)
        return message
    related = MIMEMultipart("related", boundary=_boundary(), type="text/html", policy=POLICY)
    del related["MIME-Version"]
    related.attach(html)
    for image in rendered.images:
        part = MIMEImage(image.png, "png", policy=POLICY)
        del part["MIME-Version"]
        part["Content-ID"] = f"<{_header(image.cid)}>"
        part.add_header("Content-Disposition", "inline", filename=image.filename)
        related.attach(part)
    message.attach(related)
    return message


def compose(
    template: str,
    context: Mapping[str, Any],
    *,
    mail_from: str,
    to: str,
    message_id: str,
    date: datetime,
    qr_images: Mapping[str, bytes] | None = None,
) -> Message:
    """Render and build one e-mail; RenderError when it cannot be made. `qr_images`: the
    PNGs of QR payloads made beforehand (`qr_payloads`, `db.qr.qr_png`); any other is made
    here."""
    rendered = render(template, context, message_id=message_id, qr_images=qr_images)
    try:
        return build_message(rendered, mail_from=mail_from, to=to, message_id=message_id, date=date)
    except Exception as exc:  # e.g. a header the email package refuses
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc
