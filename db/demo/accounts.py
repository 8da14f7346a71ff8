"""Demo accounts: an admin, a manager and a few customers with known passwords."""

from __future__ import annotations

import random

from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.accounts.passwords import hash_password

DEMO_PASSWORD = "marquee-demo"
DEMO_USERS = [
    ("admin", "admin@marquee.test", "Ada Admin", "ADMIN"),
    ("manager", "manager@marquee.test", "Max Manager", "MANAGER"),
    ("alice", "alice@marquee.test", "Alice Moreau", "CUSTOMER"),
    ("bob", "bob@marquee.test", "Bob Lindqvist", "CUSTOMER"),
    ("chloe", "chloe@marquee.test", "Chloé Dubois", "CUSTOMER"),
    ("dmitri", "dmitri@marquee.test", "Dmitri Volkov", "CUSTOMER"),
]
# Some customers gave a phone number (E.164, as stored); they can sign in with it in any
# format, e.g. alice with "+33 6 12 34 56 78". The others have none.
DEMO_PHONES = {
    "alice": "+33612345678",
    "bob": "+46701234567",
    "dmitri": "+12015550123",
}
# Of those, these also get their booking confirmations and cancellation notices by SMS
# (in development: files under .marquee/sms/).
DEMO_SMS_OPT_IN = frozenset({"alice", "dmitri"})


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    hashed = hash_password(DEMO_PASSWORD)
    for username, email, name, role in DEMO_USERS:
        session.add(
            User(
                username=username,
                email=email,
                phone=DEMO_PHONES.get(username),
                sms_opt_in=username in DEMO_SMS_OPT_IN,
                password_hash=hashed,
                full_name=name,
                role=role,
            )
        )
    await session.flush()
    lines.append(
        f"demo users (password '{DEMO_PASSWORD}'): "
        + ", ".join(f"{u} ({r})" for u, _, _, r in DEMO_USERS)
    )
    lines.append(
        "demo phone numbers (sign in with them too): "
        + ", ".join(f"{u} {p}" for u, p in DEMO_PHONES.items())
        + f" (texted about bookings: {', '.join(sorted(DEMO_SMS_OPT_IN))})"
    )
