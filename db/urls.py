"""The one rule for the http(s) URLs people give (avatars, posters, trailers, product images):
an absolute http or https URL with a host, written in the characters of RFC 3986 (unreserved,
reserved and percent-encoding). Anything else, spaces, quotes, angle brackets, non-ASCII, is
refused rather than stored: a client that writes the URL into an HTML attribute must find no
way out of it there."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def is_http_url(value: str) -> bool:
    if _URL_CHARACTERS.fullmatch(value) is None:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # not parseable at all, e.g. an unclosed IPv6 bracket "http://[::1"
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
