"""uvicorn's httptools protocol, writing a response's head and body in one socket write.

uvicorn writes the status line and headers when the app sends `http.response.start` and
the body when it sends `http.response.body`: two `transport.write` calls, so two `send`
system calls and usually two TCP segments per response. A GraphQL answer is one body
message, so the head can wait for it: `CoalescingCycle` keeps the head uvicorn formats
and writes it in front of the first body write (or on its own, before a close or when the
body writes nothing, as for HEAD). uvicorn's own code still formats and checks everything.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _HeadKeeper:
    """The transport as uvicorn's `send` sees it while it writes a response's head: the
    head is kept, not written; anything else goes to the real transport."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.head = b""

    def write(self, data: bytes) -> None:
        self.head += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _HeadFirst:
    """The transport while the body is written: the kept head goes out first, in the same
    write as the body's first bytes."""

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self.head: bytes | None = head

    def flush(self) -> None:
        if self.head is not None:
            head, self.head = self.head, None
            self.transport.write(head)

    def write(self, data: bytes) -> None:
        if self.head is not None:
            data, self.head = self.head + data, None
        self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingCycle(RequestResponseCycle):
    """A request-response cycle whose head waits for the first body message."""

    head: bytes | None = None

    async def send(self, message: Any) -> None:
        transport = self.transport
        if not self.response_started and message["type"] == "http.response.start":
            keeper = _HeadKeeper(transport)
            self.transport = keeper  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            self.head = keeper.head or None
            return
        head = self.head
        if head is None:
            await super().send(message)
            return
        self.head = None
        first = _HeadFirst(transport, head)
        self.transport = first  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            if not transport.is_closing():
                first.flush()  # nothing was written (HEAD, an empty body): the head alone


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`http=` for uvicorn.Config: the httptools protocol with `CoalescingCycle`s."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle's task has been created but has not run yet: switching its class now
        # makes every `send` of this request go through CoalescingCycle.send.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = CoalescingCycle
