"""`POST /webhooks/payments/{provider}`: the providers' webhooks (docs/orders.md, "Webhooks").

The body is read raw (capped), verified by the provider (signature and timestamp: 400 when
not genuine or stale, nothing changed), then processed once per event id: a replay is
answered 200 and changes nothing. Unexpected failures answer 500, so the provider sends the
event again later."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.payments import actions as payment_actions
from db.payments.providers import InvalidWebhook
from graph.orders.services import payments_of

log = logging.getLogger("marquee.webhooks")

MAX_BODY = 64 * 1024


async def payment_webhook(request: Request) -> Response:
    state = request.app.state.marquee
    payments = payments_of(state.services, state.db, state.settings)
    provider = payments.providers.get(request.path_params.get("provider", ""))
    if provider is None:
        return JSONResponse({"error": "unknown provider"}, status_code=404)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        event = provider.parse_webhook(request.headers, body)
    except InvalidWebhook as exc:
        log.warning("refused a %s webhook: %s", provider.name, exc)
        return JSONResponse({"error": "invalid signature or event"}, status_code=400)
    outcome = await payment_actions.handle_webhook(
        payments.db, provider, event, payments.fulfilment
    )
    log.info("%s webhook %s (%s): %s", provider.name, event.id, event.type, outcome)
    return JSONResponse({"received": True, "outcome": outcome})
