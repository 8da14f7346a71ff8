"""Text messages: rendered from `db/outbox/templates/sms/<name>.txt` to one short line, and
the provider interface that delivers them (with the development backend, files).

A text message is billed and split by segments: 160 characters of the GSM 7-bit alphabet
(153 each when split), or 70 UTF-16 units (67 each) as soon as one character is outside it
(a Cyrillic title, an emoji). A message longer than MAX_SEGMENTS is refused when rendered
(RenderError: the row is FAILED with the reason), never sent as a surprise bill; the
templates shorten titles and names so that they fit (tests/outbox/test_sms.py proves it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.outbox.codes import SMS_TEMPLATES
from db.outbox.compose import RenderError, render_text
from db.outbox.transport import FileWriter, Transport

MAX_SEGMENTS = 3

# GSM 03.38: the basic alphabet (one septet each) and its extension table (two each).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def segments(text: str) -> int:
    """How many SMS segments `text` takes (0 for an empty text)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units, single, part = sum(2 if c in GSM_EXTENDED else 1 for c in text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 0 if units == 0 else 1 if units <= single else math.ceil(units / part)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164
    text: str
    # The row's message id, fixed at enqueue: the reference a provider can de-duplicate by.
    reference: str
    segments: int


def compose_sms(
    template: str, context: Mapping[str, Any], *, to: str, reference: str
) -> SmsMessage:
    """Render one text message (whitespace folded to one line); RenderError when it cannot
    be made or is longer than MAX_SEGMENTS."""
    if template not in SMS_TEMPLATES:
        raise RenderError(f"unknown SMS template {template!r}")
    try:
        text = " ".join(render_text(f"sms/{template}.txt", context).split())
    except Exception as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc
    count = segments(text)
    if count > MAX_SEGMENTS:
        raise RenderError(f"{count} SMS segments (at most {MAX_SEGMENTS}): {len(text)} characters")
    return SmsMessage(to=to, text=text, reference=reference, segments=count)


class SmsProvider(Transport[SmsMessage]):
    """Sends one text message to one number. A provider raises SendError like the mail
    transport: `permanent` when the number or the text is refused for good, `connection`
    when the provider cannot be reached (the rest of the batch waits too); anything else
    is retried."""


class FileSmsProvider(FileWriter[SmsMessage], SmsProvider):
    """Development: each message becomes `<directory>/<row id>.txt` (headers `To`,
    `Reference`, `Segments`, a blank line, the text)."""

    suffix = ".txt"

    def encode(self, message: SmsMessage) -> tuple[bytes, str]:
        data = (
            f"To: {message.to}\nReference: {message.reference}\n"
            f"Segments: {message.segments}\n\n{message.text}\n"
        )
        return data.encode(), f"text message {message.reference}"
