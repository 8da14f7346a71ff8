"""The public keys of ticket signatures: `query ticketSigningKeys` and
GET /.well-known/marquee/ticket-keys.json, for door scanners that verify offline."""

from __future__ import annotations

import strawberry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.orders.signing import PublicKeyJwk
from graph.context import Info
from graph.settings import Settings

TICKET_KEYS_PATH = "/.well-known/marquee/ticket-keys.json"
# Scanners refresh the keys now and then; five minutes bounds how long a newly rotated key is
# unknown to a scanner that is online.
TICKET_KEYS_MAX_AGE = 300


@strawberry.type(
    description=(
        "A public key that verifies the Ed25519 signature of ticket QR payloads "
        "(docs/orders.md). The same keys are served as a JSON Web Key Set at "
        f"{TICKET_KEYS_PATH}."
    )
)
class TicketSigningKey:
    key_id: str = strawberry.field(
        description="The key id, as named by the fifth field of a payload (JWK `kid`)."
    )
    algorithm: str = strawberry.field(
        description="The signature algorithm: always `Ed25519` (JWK kty OKP, crv Ed25519, "
        "alg EdDSA)."
    )
    public_key: str = strawberry.field(
        description="The raw 32-byte public key, base64url without padding (JWK `x`)."
    )
    current: bool = strawberry.field(
        description="Whether new tickets are signed with this key; the others are retired "
        "keys that still verify the tickets they signed."
    )

    @classmethod
    def from_jwk(cls, jwk: PublicKeyJwk) -> TicketSigningKey:
        return cls(
            key_id=jwk["kid"], algorithm="Ed25519", public_key=jwk["x"], current=jwk["current"]
        )


@strawberry.type
class Query:
    @strawberry.field(
        description="The public keys that verify ticket QR payloads, the current one first: "
        "a door scanner keeps them to check tickets offline."
    )
    def ticket_signing_keys(self, info: Info) -> list[TicketSigningKey]:
        return [
            TicketSigningKey.from_jwk(k)
            for k in info.context.settings.ticket_signer().public_keys()
        ]


async def ticket_keys(request: Request) -> Response:
    """The verifying keys as a JSON Web Key Set (RFC 7517), each with a `current` flag."""
    settings: Settings = request.app.state.marquee.settings
    return JSONResponse(
        {"keys": settings.ticket_signer().public_keys()},
        headers={
            "Cache-Control": f"public, max-age={TICKET_KEYS_MAX_AGE}",
            # Public data: a scanner running in a browser may fetch it from any origin.
            "Access-Control-Allow-Origin": "*",
        },
    )
