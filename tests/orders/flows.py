"""GraphQL documents and small steps shared by the order tests: hold, check out, pay."""

from __future__ import annotations

from typing import Any

from graph.relay import to_global_id
from tests.conftest import GraphQLClient

HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) { hold { id expiresAt } errors { code seatIds } }
}
"""
ORDER_FIELDS = """
  id number status currency createdAt expiresAt paidAt cancelledAt
  subtotal { amount currency } discount { amount } total { amount currency }
  lines { kind description quantity unitPrice { amount } total { amount }
    seat { id } showtime { id } }
  tickets { id bookingReference status price { amount currency }
    seat { id } showtime { id } qrPayload }
  payments { status amount { amount } provider }
"""
CHECKOUT = f"""
mutation ($input: CheckoutInput!) {{
  checkout(input: $input) {{ order {{ {ORDER_FIELDS} }} errors {{ code message field }} }}
}}
"""
PAY = f"""
mutation ($input: PayOrderInput!) {{
  payOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} errors {{ code message field }} }}
}}
"""
CANCEL = f"""
mutation ($input: CancelOrderInput!) {{
  cancelOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} errors {{ code message field }} }}
}}
"""
CHECK_IN = """
mutation ($input: CheckInTicketInput!) {
  checkInTicket(input: $input) {
    ticket { id status checkedInAt bookingReference }
    errors { code message field checkedInAt }
  }
}
"""
ORDER = f"query ($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
ME = """
query ($first: Int) {
  me {
    loyaltyPoints totalSpent { amount currency }
    orders(first: $first) { totalCount edges { node { id number status total { amount }
      lines { description seat { id } } tickets { bookingReference seat { id } } } } }
    tickets(first: $first) { totalCount edges { node { bookingReference status
      showtime { id } seat { id } order { number } } } }
  }
}
"""


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


async def hold(gql: GraphQLClient, token: str, showtime: int, seats: list[int]) -> str:
    data = await gql.execute(
        HOLD,
        {
            "input": {
                "showtimeId": gid("Showtime", showtime),
                "seatIds": [gid("Seat", s) for s in seats],
            }
        },
        token=token,
    )
    assert data["holdSeats"]["errors"] == [], data
    hold_id: str = data["holdSeats"]["hold"]["id"]
    return hold_id


async def checkout(gql: GraphQLClient, token: str, hold_id: str, **extra: Any) -> dict[str, Any]:
    data = await gql.execute(CHECKOUT, {"input": {"holdId": hold_id, **extra}}, token=token)
    payload: dict[str, Any] = data["checkout"]
    return payload


async def pay(
    gql: GraphQLClient, token: str, order_id: str, payment_token: str = "tok_visa", **extra: Any
) -> dict[str, Any]:
    data = await gql.execute(
        PAY, {"input": {"orderId": order_id, "paymentToken": payment_token, **extra}}, token=token
    )
    payload: dict[str, Any] = data["payOrder"]
    return payload


async def buy(
    gql: GraphQLClient, token: str, showtime: int, seats: list[int], payment_token: str = "tok_visa"
) -> dict[str, Any]:
    """Hold, check out and pay: the paid order."""
    order = (await checkout(gql, token, await hold(gql, token, showtime, seats)))["order"]
    paid = await pay(gql, token, order["id"], payment_token)
    assert paid["errors"] == [], paid
    result: dict[str, Any] = paid["order"]
    return result


SEAT_MAP = """
query ($id: ID!) { showtime(id: $id) { seatMap { rows { seats { id status heldByMe } } } } }
"""


async def seat_states(
    gql: GraphQLClient, token: str | None, showtime: int
) -> dict[str, tuple[str, bool]]:
    """{seat global id: (status, heldByMe)} from the seat map."""
    data = await gql.execute(SEAT_MAP, {"id": gid("Showtime", showtime)}, token=token)
    return {
        s["id"]: (s["status"], s["heldByMe"])
        for row in data["showtime"]["seatMap"]["rows"]
        for s in row["seats"]
    }
