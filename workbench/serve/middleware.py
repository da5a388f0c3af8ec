"""The service's ASGI middleware, for HTTP and websockets alike: log and metrics, token, limits.

Outermost first: :class:`AccessLog` (one line and the metrics per request or stream),
:class:`TokenGate` (401 / close 1008), :class:`StreamLimits` (a streaming request's body read
under its limits, then a stream slot: 413, 408, 503 / close 1013). A websocket refused here is
accepted, then closed with its code and reason: refusing the handshake would answer HTTP 403.
"""
import asyncio
import hmac
import logging
import time

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from .engine import serving
from .limits import BODY_GRACE_S
from .protocols import ClientError

log = logging.getLogger("workbench.serve")
NOTE = "workbench.note"  # the scope key of a connection's note: what its log line and metrics report
METRICS = "workbench.metrics"  # ... and of the app's metrics


def note(connection) -> dict:
    """The note of a request or websocket (``audio_s``, ``rate``, ``finals``, ``error``, ...)."""
    return connection.scope[NOTE]


def refused(scope: Scope, error: ClientError) -> None:
    """Note a refusal for the log line, and count it by its kind."""
    scope[NOTE]["error"] = str(error)
    scope[METRICS].refusals.labels(error.kind).inc()


def error_answer(scope: Scope, error: ClientError) -> JSONResponse:
    """The ``{"error"}`` answer of a refused request (noted for the log and the metrics)."""
    refused(scope, error)
    response = JSONResponse({"error": str(error)}, error.status)
    if error.status == 408:  # the rest of the body is not read: the connection cannot go on
        response.headers["connection"] = "close"
    return response


async def close_with(websocket: WebSocket, code: int, reason: str = "") -> None:
    """Close ``websocket`` (accepting it first if need be); a client that left meanwhile is noted."""
    try:
        if websocket.application_state is WebSocketState.CONNECTING:
            await websocket.accept()
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code, reason)
    except (RuntimeError, OSError):  # it left meanwhile
        note(websocket)["left"] = True


async def refuse(scope: Scope, receive: Receive, send: Send, error: ClientError) -> None:
    """Answer a refused request with its status, or accept and close a websocket with its code."""
    if scope["type"] == "http":
        await error_answer(scope, error)(scope, receive, send)
    else:
        refused(scope, error)
        await close_with(WebSocket(scope, receive, send), error.close_code, error.reason)


class StartupError:
    """A lifespan that failed with a message in ``app.state.startup_error`` (models that do not load)
    reports that one line to the server instead of a traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)

        async def reporting(message) -> None:
            line = getattr(scope["app"].state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and line:
                message = {**message, "message": line}
            await send(message)

        await self.app(scope, receive, reporting)


class AccessLog:
    """One log line per request or stream (client, route, status or close code, time, audio seconds,
    rate, finals, whether the client left, error) and its metrics; a websocket that fails inside is
    closed with 1011 "internal error" (an HTTP request's 500 is the app's exception handler's)."""

    def __init__(self, app: ASGIApp, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        started, record = time.monotonic(), {}
        scope[NOTE], scope[METRICS] = record, self.metrics
        serving.set(record)  # this request's task gathers its compute seconds there (see Engine.run)

        async def noting(message) -> None:
            if message["type"] == "http.response.start":
                record["code"] = message["status"]
            elif message["type"] == "websocket.accept":
                record["accepted"] = True
            elif message["type"] == "websocket.close":
                record["code"] = message.get("code", 1000)
                if message.get("reason"):
                    record.setdefault("error", message["reason"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except Exception as error:
            record["error"] = type(error).__name__
            if scope["type"] == "http":
                record["code"] = 500
                raise
            log.exception("websocket %s failed", scope["path"])
            if "code" not in record:  # neither closed nor left
                await self._close_1011(noting, record)
        finally:
            self.metrics.finished(record)
            self._log(scope, started, record)

    @staticmethod
    async def _close_1011(send: Send, record: dict) -> None:
        record["code"] = 1011
        try:
            if not record.get("accepted"):
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1011, "reason": "internal error"})
        except (RuntimeError, OSError):  # it left meanwhile
            record["left"] = True

    @staticmethod
    def _log(scope: Scope, started: float, record: dict) -> None:
        client = scope.get("client")
        what = f"{scope['method']} {scope['path']}" if scope["type"] == "http" else f"WS {scope['path']}"
        parts = [f"{client[0]}:{client[1]}" if client else "-", what, str(record.get("code", "-")),
                 f"{time.monotonic() - started:.2f} s"]
        if "audio_s" in record:
            parts.append(f"audio {record['audio_s']:.1f} s" + (f" at {record['rate']} Hz" if "rate" in record else ""))
        if "finals" in record:
            parts.append(f"{record['finals']} finals")
        if record.get("left"):
            parts.append("client left")
        if "error" in record:
            parts.append(f"error: {record['error']}")
        log.info(" ".join(parts))


class TokenGate:
    """With a token, every route but the page (``/``) and its scripts (``/static/``) needs it:
    ``Authorization: Bearer TOKEN``, or ``?token=TOKEN`` on websockets (browsers cannot set their
    headers) and on the docs page (a browser opens it as a link)."""

    def __init__(self, app: ASGIApp, token: str | None, query_paths: tuple[str, ...] = ("/docs",)):
        self.app, self.token, self.query_paths = app, token, query_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket") or self._public(scope["path"]):
            return await self.app(scope, receive, send)
        websocket = scope["type"] == "websocket"
        query = QueryParams(scope["query_string"]).get("token") if websocket or scope["path"] in self.query_paths else None
        if self._authorized(Headers(scope=scope), query):
            return await self.app(scope, receive, send)
        hint = "add ?token=TOKEN" if websocket else "send Authorization: Bearer TOKEN"
        await refuse(scope, receive, send, ClientError(f"missing or wrong token ({hint})", status=401,
                                                       close_code=1008))

    @staticmethod
    def _public(path: str) -> bool:
        return path == "/" or path.startswith("/static/")

    def _authorized(self, headers: Headers, query_token: str | None) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            given = query_token or ""
        return hmac.compare_digest(given.encode(), self.token.encode())


class StreamLimits:
    """The stream routes' limits. A ``POST`` body is received whole first, in a budget of its own
    (``2 x max_streams`` bodies at once, each at most ``max_message_bytes`` and after
    ``BODY_GRACE_S`` at least ``min_body_bytes_per_s``), so clients that send slowly hold no
    stream slot; then the request, like a websocket, takes a slot for as long as it is served."""

    def __init__(self, app: ASGIApp, service, paths: frozenset[str]):
        self.app, self.service, self.paths = app, service, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] not in self.paths or \
                (scope["type"] == "http" and scope["method"] != "POST"):
            return await self.app(scope, receive, send)
        service = self.service
        if scope["type"] == "http":
            try:
                body = await self._body(scope, receive)
            except ClientError as error:
                return await refuse(scope, receive, send, error)
            receive = _replay(body, receive)
        if not service.slots.take():
            return await refuse(scope, receive, send, ClientError(
                f"server busy: {service.limits.max_streams} streams running", status=503, close_code=1013))
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                service.slots.give_back()

        async def answering(message) -> None:
            if message["type"] in ("http.response.start", "websocket.close"):
                give_back()  # free before the client sees its answer: its next request finds the slot
            await send(message)

        try:
            await self.app(scope, receive, answering)
        finally:
            give_back()
            await service.idle()

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, in a body slot: at most ``max_message_bytes`` (413), and after
        ``BODY_GRACE_S`` at least ``min_body_bytes_per_s`` on average (408)."""
        limits, bodies = self.service.limits, self.service.bodies
        limit, rate = limits.max_message_bytes, limits.min_body_bytes_per_s
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise ClientError(f"body of {int(length)} bytes is over the {limit}-byte limit", status=413)
        if not bodies.take():
            raise ClientError(f"server busy: {bodies.size} uploads being received", status=503)
        try:
            body = bytearray()
            started = asyncio.get_running_loop().time()
            while True:
                try:
                    async with asyncio.timeout_at(started + BODY_GRACE_S + len(body) / rate):
                        message = await receive()
                except TimeoutError:
                    raise ClientError(f"the body came slower than {rate:g} bytes/s", status=408) from None
                if message["type"] == "http.disconnect":
                    raise ClientError("the client left before its body was sent")
                body += message.get("body", b"")
                if len(body) > limit:
                    raise ClientError(f"body is over the {limit}-byte limit", status=413)
                if not message.get("more_body", False):
                    return bytes(body)
        finally:
            bodies.give_back()


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole, then what the client sends next (its disconnect)."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
