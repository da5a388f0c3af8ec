"""uvicorn's websocket protocol with a ping timeout that counts only the time the server reads.

A stream that sends faster than inference is not read from (back-pressure): its
frames wait in the kernel and in the protocol's queue of ``ws_max_queue`` messages,
and the client's pong waits behind them. The stock keepalive then closes a live,
well-behaved client with 1011 "keepalive ping timeout". Here a late pong is
forgiven while the server is the one not reading (its queue is full), or while
frames keep arriving (a peer that sends is alive); a peer silent for
``ping_timeout`` while the server reads is still closed with 1011.
"""
import asyncio

from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State


class PatientWebSocketProtocol(WebSocketProtocol):
    """:class:`WebSocketProtocol` whose keepalive does not count the server's own back-pressure."""

    heard_at = 0.0  # loop time of the last frame read from the peer

    async def read_message(self):
        """The next message; once the server is closing, data frames still arriving are dropped
        (nobody will read them, and a full queue would stall the close handshake until its timeout)."""
        while True:
            message = await super().read_message()
            self.heard_at = self.loop.time()
            if message is None or self.state is not State.CLOSING:
                return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close; frames queued unread are dropped first, so reading goes on to the client's close frame."""
        self.messages.clear()
        if self._put_message_waiter is not None and not self._put_message_waiter.done():
            self._put_message_waiter.set_result(None)
        await super().close(code, reason)

    async def asgi_receive(self):
        """The next ASGI event; when the server failed the connection (a frame over the size limit:
        1009, a late pong: 1011) and no close frame came back, the app is told that code, not 1006."""
        message = await super().asgi_receive()
        if message["type"] == "websocket.disconnect" and self.close_rcvd is None and self.close_sent is not None:
            message = {**message, "code": self.close_sent.code, "reason": self.close_sent.reason}
        return message

    def _server_not_reading(self) -> bool:
        return self.max_queue is not None and len(self.messages) >= self.max_queue

    async def keepalive_ping(self) -> None:
        if self.ping_interval is None:
            return
        try:
            while True:
                await asyncio.sleep(self.ping_interval)
                pong_waiter = await self.ping()
                if self.ping_timeout is None:
                    continue
                while True:
                    try:
                        async with asyncio.timeout(self.ping_timeout):
                            await asyncio.shield(pong_waiter)
                        break
                    except TimeoutError:
                        heard_lately = self.loop.time() - self.heard_at < self.ping_timeout
                        if not (self._server_not_reading() or heard_lately):
                            self.fail_connection(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                            return
        except ConnectionClosed:
            pass
