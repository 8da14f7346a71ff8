"""Markdown to safe HTML: markdown-it-py renders, nh3 sanitizes against an allow-list.

Pages are rendered once, when written (db/pages/actions.py), and the HTML is stored beside
the Markdown, so reads cost nothing and clients can insert `bodyHtml` as it is.

Two layers, so that neither alone has to be perfect:
- markdown-it-py with the CommonMark preset, tables and strikethrough, and raw HTML
  *disabled*: HTML written in the Markdown is shown as text, not passed through. Its link
  validation already refuses `javascript:`, `vbscript:`, `file:` and most `data:` URLs.
- nh3 (ammonia) then keeps only the tags and attributes Markdown produces, only http,
  https and mailto URLs (relative ones too), drops `<script>` and `<style>` with their
  content, drops every other attribute (`on*` handlers, `style`, `id`...), and gives
  every link `rel="noopener noreferrer"`.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

ALLOWED_TAGS = frozenset(
    {
        "a",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    # Fenced code's language (`language-python`), for client-side highlighting; see below.
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with their content, not just unwrapped.
REMOVED_WITH_CONTENT = frozenset({"script", "style"})

_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep a class only where it names a code block's language; every other attribute
    that reached here is on the allow-list already."""
    if attribute == "class":
        return value if tag == "code" and _LANGUAGE_CLASS.fullmatch(value) else None
    return value


def sanitize_html(html: str) -> str:
    """HTML reduced to the allow-list (also safe for HTML that did not come from Markdown)."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(REMOVED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(body: str) -> str:
    """The HTML stored as a page's `body_html`."""
    return sanitize_html(_markdown.render(body))
