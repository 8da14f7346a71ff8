"""Phone numbers of accounts: parsed and validated with `phonenumbers`, stored as E.164.

A number written with a leading `+` (or the region's own international prefix, such as 00
in France or 011 in the US) is read as international; anything else is read as a national
number of `region` (the setting MARQUEE_DEFAULT_PHONE_REGION, "US" by
default), so with region FR both "06 12 34 56 78" and "+33 6 12 34 56 78" are +33612345678.
"""

from __future__ import annotations

import re

import phonenumbers

# Longer inputs are refused before parsing (a written number with spaces and an extension
# is far shorter); E.164 itself is at most 15 digits after the "+".
MAX_PHONE_INPUT = 40
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
# What a login must look like to be tried as a phone number: digits and the usual
# separators only, so usernames and e-mail addresses never go through the parser.
_PHONE_LIKE = re.compile(r"^[+(]?[0-9][0-9 ().\-/]*$")


def is_region(region: str) -> bool:
    """Whether `region` is a region code `phonenumbers` knows ("US", "FR", …)."""
    return region in phonenumbers.SUPPORTED_REGIONS


def normalize_phone(raw: str, region: str) -> str | None:
    """The E.164 form of `raw` (national numbers read in `region`), or None when it is not
    a valid phone number."""
    raw = raw.strip()
    if not raw or len(raw) > MAX_PHONE_INPUT:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if E164_RE.match(e164) else None


def login_phone(login: str, region: str) -> str | None:
    """The E.164 number a sign-in login names, or None when it does not look like one."""
    login = login.strip()
    if not _PHONE_LIKE.match(login):
        return None
    return normalize_phone(login, region)
