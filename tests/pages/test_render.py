"""Markdown rendering and sanitizing (db/pages/render.py), without the database."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from db.pages.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown, sanitize_html

_SAFE_URL = re.compile(r"(https?:|mailto:|/|#|[^:]*$)", re.IGNORECASE)


def _markup(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The start tags of an HTML fragment with their attributes, as a browser parses them."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    collector = Collector()
    collector.feed(html)
    collector.close()
    return found


def test_headings_lists_links_and_code() -> None:
    html = render_markdown(
        "# Title\n\n## Section\n\n- one\n- two\n\n3. three\n4. four\n\n"
        'A [link](https://example.com/a?b=1 "Example"), **bold**, *em*, `x < y`.\n\n'
        "```python\nprint('<hi>')\n```\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<h2>Section</h2>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<ol start="3">' in html
    assert (
        '<a href="https://example.com/a?b=1" title="Example" rel="noopener noreferrer">link</a>'
        in html
    )
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<code>x &lt; y</code>" in html
    assert "<pre><code class=\"language-python\">print('&lt;hi&gt;')\n</code></pre>" in html


def test_tables_and_strikethrough() -> None:
    html = render_markdown("| a | b |\n|--:|---|\n| 1 | ~~2~~ |\n")
    assert "<table>" in html
    assert "<th>a</th>" in html
    assert "<td><s>2</s></td>" in html
    # The alignment markdown-it writes as a style attribute is dropped with every style.
    assert "style" not in html


def test_relative_and_mailto_links_are_kept() -> None:
    html = render_markdown("[faq](/pages/faq) [mail](mailto:help@marquee.test)")
    assert '<a href="/pages/faq" rel="noopener noreferrer">faq</a>' in html
    assert '<a href="mailto:help@marquee.test" rel="noopener noreferrer">mail</a>' in html


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "Hello <script>alert(1)</script> world",
        "<ScRiPt>alert(1)</sCrIpT>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
        "<style>body { display: none }</style>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        "<javascript:alert(1)>",
        '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
        '```" onclick="alert(1)\ncode\n```',
    ],
)
def test_dangerous_input_is_neutralised(markdown: str) -> None:
    # Raw HTML in Markdown is shown as text (escaped), so only the markup the output really
    # contains is judged: every tag and attribute on the allow-list, links and images only
    # to http(s), mailto or relative URLs.
    for tag, attributes in _markup(render_markdown(markdown)):
        assert tag in ALLOWED_TAGS
        for name, value in attributes:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name)
            if name in ("href", "src"):
                assert _SAFE_URL.match(value or ""), value


def test_raw_html_in_markdown_is_escaped_text() -> None:
    html = render_markdown("Before <b>bold</b> <img src=x onerror=alert(1)> after")
    assert html == (
        "<p>Before &lt;b&gt;bold&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt; after</p>\n"
    )


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ("<p>a<style>p{}</style>b</p>", "<p>ab</p>"),
        (
            '<img src="https://i.example/p.png" onerror="alert(1)">',
            '<img src="https://i.example/p.png">',
        ),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            '<a href="https://e.example" target="_blank">x</a>',
            '<a href="https://e.example" rel="noopener noreferrer">x</a>',
        ),
        ('<p onclick="alert(1)" style="color:red" id="x" class="y">t</p>', "<p>t</p>"),
        ('<iframe src="https://e.example"></iframe><object></object><form></form>', ""),
        ('<code class="language-js">1</code>', '<code class="language-js">1</code>'),
        ('<code class="evil">1</code>', "<code>1</code>"),
        ("<p>a<!-- comment -->b</p>", "<p>ab</p>"),
    ],
)
def test_sanitize_html_allow_list(dirty: str, clean: str) -> None:
    # Defense in depth: even HTML that did not come from the Markdown renderer is reduced.
    assert sanitize_html(dirty) == clean


def test_the_checker_sees_markup() -> None:
    # The checker above is not blind: real markup would fail it.
    assert _markup('<p><a href="javascript:x" onclick="y">z</a></p>') == [
        ("p", []),
        ("a", [("href", "javascript:x"), ("onclick", "y")]),
    ]
    assert not _SAFE_URL.match("javascript:alert(1)")
