"""The service's routes (starlette): two offline and two online recognition protocols, health, models, page.

| route | protocol |
|---|---|
| ``POST /recognize`` | JSON ``{"uid", "sid", "data": [PCM16]}`` -> ``{"text", "final", "segments", "duration_s"}`` |
| ``POST /v1/recognize`` | an audio file -> JSON ``{"text", "segments", "duration_s"}``, or ``srt`` / ``vtt`` |
| ``WS /recognize`` | JSON frames ``{"state": 0|1, "data": [PCM16]}`` -> ``{"text", "final"}`` frames |
| ``WS /v1/stream`` | binary int16 frames, then ``{"event": "end"}`` -> CLI ``--json`` events, close 1000 |
| ``GET /healthz``, ``GET /v1/models`` | status; model names, sizes, rates, defaults |
| ``GET /``, ``GET /static/NAME`` | the browser page and its scripts |

Every connection is logged in one line; every refusal is one ``{"error"}``
answer or one websocket close with a reason (see :mod:`.protocols`).
"""
import asyncio
import contextlib
import hmac
import json
import logging
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import subtitles
from ..asr import TranscriptEvent
from ..audio import SAMPLE_RATE, AudioTooLong, check_audio, load_audio, resample
from ..errors import WorkbenchError
from ..live import LiveStream, PendingChunks
from . import protocols
from .engine import Engine, release_memory
from .enhance import enhance_route
from .limits import BODY_GRACE_S, Limits, Slots
from .protocols import ClientError

log = logging.getLogger("workbench.serve")
WEB = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8"}
SUBTITLE_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}
MAX_STEP_S = 2.0     # one inference step feeds at most this much of a stream's queued audio (bounds its memory)


def segments(finals: list[TranscriptEvent]) -> list[dict]:
    """``{text, start_s, end_s, words}`` of each final that holds text."""
    return [{key: value for key, value in event.to_dict().items() if key != "final"} for event in finals if event.text]


def joined(finals: list[TranscriptEvent]) -> str:
    return " ".join(event.text for event in finals if event.text)


class Feeder:
    """Feeds one :class:`LiveStream` from a connection.

    Frames queue in :class:`PendingChunks` while the stream's previous step runs
    on an inference thread; the next step takes them as one chunk (up to
    ``MAX_STEP_S``), so a stream that fell behind catches up on larger, cheaper
    chunks. Reading goes on meanwhile, up to ``max_queued_s`` of audio ahead of inference.
    """

    def __init__(self, engine: Engine, live: LiveStream, send, max_queued_s: float):
        self.engine, self.live, self.send, self.max_queued_s = engine, live, send, max_queued_s
        self.pending = PendingChunks()
        self.queued_s = 0.0
        self._task: asyncio.Task | None = None

    async def put(self, data: bytes | np.ndarray, rate: int, seconds: float) -> None:
        self.pending.put(None, data, rate)
        self.queued_s += seconds
        if self._task is None or self._task.done():
            if self._task is not None:
                self._task.result()  # a failed step ends the connection
            self._task = asyncio.create_task(self._drain())
        if self.queued_s > self.max_queued_s:
            await self._task  # back-pressure: stop reading until inference has caught up

    async def _drain(self) -> None:
        while len(self.pending):
            for _, data, rate in self.pending.take():
                step = round(MAX_STEP_S * rate) * (2 if isinstance(data, bytes) else 1)
                for start in range(0, len(data), step):
                    piece = data[start:start + step]
                    await self.send(await self.engine.run(self.live.feed, piece, rate))
                    self.queued_s -= len(piece) / step * MAX_STEP_S

    async def finish(self) -> list[TranscriptEvent]:
        """Wait for the queued audio, then flush the stream; returns the last events."""
        if self._task is not None:
            await self._task
        return await self.engine.run(self.live.finish)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self._task is not None and not self._task.cancelled():
            self._task.exception()  # retrieved: a client that vanished is not an error to report


class Idle:
    """When a stream that sends no audio samples is closed: ``timeout_s`` after its last samples,
    not counting the server's own work meanwhile (back-pressure, finishing an utterance). Frames
    without samples do not move it."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.heard()

    def heard(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s

    def left_s(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    @contextlib.asynccontextmanager
    async def paused(self):
        started = time.monotonic()
        try:
            yield
        finally:
            self.deadline += time.monotonic() - started


class Service:
    """The routes around one :class:`Engine`, with its limits and optional token."""

    def __init__(self, engine: Engine, limits: Limits = Limits(), token: str | None = None):
        self.engine, self.limits, self.token = engine, limits, token
        self.slots = Slots(limits.max_streams)
        self.bodies = Slots(2 * limits.max_streams)  # bodies being received, before they take a stream slot
        self.files = {path.name: (path.read_bytes(), MEDIA_TYPES[path.suffix])
                      for path in sorted(WEB.iterdir()) if path.suffix in MEDIA_TYPES}

    def app(self) -> Starlette:
        routes = [
            Route("/", self.page), Route("/static/{name}", self.static),
            Route("/healthz", self.http(self.healthz, stream=False)),
            Route("/v1/models", self.http(self.models, stream=False)),
            Route("/recognize", self.http(self.recognize_json), methods=["POST"]),
            Route("/v1/recognize", self.http(self.recognize_file), methods=["POST"]),
            enhance_route(self),
            WebSocketRoute("/recognize", self.websocket(self.reference_stream)),
            WebSocketRoute("/v1/stream", self.websocket(self.stream)),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: self.http_error})

    async def _give_back(self) -> None:
        """Free a stream slot; when the last one is free, memory goes back to the system."""
        self.slots.give_back()
        if self.slots.active == 0:
            await self.engine.run(release_memory)

    # -- security --------------------------------------------------------
    def _authorized(self, headers, query_token: str | None = None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            given = query_token or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    # -- HTTP ------------------------------------------------------------
    def http(self, handler, stream: bool = True):
        """Token, body, stream slot, errors as ``{"error"}`` and one log line around
        ``handler(request, note, body)``. A streaming request's body is received whole, in a
        budget of its own (``2 x max_streams`` at once), before it takes a stream slot, so
        clients that send slowly hold no stream."""

        async def endpoint(request: Request) -> Response:
            started, note, slot, body = time.monotonic(), {}, False, b""
            try:
                if not self._authorized(request.headers):
                    raise ClientError("missing or wrong token (send Authorization: Bearer TOKEN)", status=401)
                if stream:
                    body = await self._body(request)
                    slot = self.slots.take()
                    if not slot:
                        raise ClientError(f"server busy: {self.limits.max_streams} streams running", status=503)
                response = await handler(request, note, body)
            except ClientError as error:
                response, note["error"] = JSONResponse({"error": str(error)}, error.status), str(error)
                if error.status == 408:  # the rest of the body is not read: the connection cannot go on
                    response.headers["connection"] = "close"
            except AudioTooLong as error:
                response, note["error"] = JSONResponse({"error": str(error)}, 413), str(error)
            except WorkbenchError as error:  # audio the loaders refuse
                response, note["error"] = JSONResponse({"error": str(error)}, 400), str(error)
            except Exception as error:
                log.exception("%s %s failed", request.method, request.url.path)
                response, note["error"] = JSONResponse({"error": "internal error"}, 500), type(error).__name__
            finally:
                if slot:
                    await self._give_back()
            self._log(request, f"{request.method} {request.url.path}", response.status_code, started, note)
            return response

        return endpoint

    async def http_error(self, request: Request, error: HTTPException) -> Response:
        self._log(request, f"{request.method} {request.url.path}", error.status_code, time.monotonic(), {})
        return JSONResponse({"error": error.detail}, error.status_code)

    async def _body(self, request: Request) -> bytes:
        """The whole body, in a body slot: at most ``max_message_bytes`` (413), and after
        ``BODY_GRACE_S`` at least ``min_body_bytes_per_s`` on average (408)."""
        limit, rate = self.limits.max_message_bytes, self.limits.min_body_bytes_per_s
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise ClientError(f"body of {int(length)} bytes is over the {limit}-byte limit", status=413)
        if not self.bodies.take():
            raise ClientError(f"server busy: {self.bodies.size} uploads being received", status=503)
        try:
            body, pieces = bytearray(), aiter(request.stream())
            started = asyncio.get_running_loop().time()
            while True:
                try:
                    async with asyncio.timeout_at(started + BODY_GRACE_S + len(body) / rate):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    return bytes(body)
                except TimeoutError:
                    raise ClientError(f"the body came slower than {rate:g} bytes/s", status=408) from None
                body += piece
                if len(body) > limit:
                    raise ClientError(f"body is over the {limit}-byte limit", status=413)
        finally:
            self.bodies.give_back()

    def _check_duration(self, audio: np.ndarray) -> None:
        seconds = len(audio) / SAMPLE_RATE
        if seconds > self.limits.max_stream_s:
            raise ClientError(f"{seconds:.0f} s of audio is over the {self.limits.max_stream_s:g} s limit",
                              status=413)

    async def _finals(self, audio: np.ndarray, dry: float, use_lm: bool, note: dict) -> list[TranscriptEvent]:
        self._check_duration(audio)
        note["audio_s"] = len(audio) / SAMPLE_RATE
        return await self.engine.recognize(check_audio(audio), dry, use_lm)

    async def recognize_json(self, request: Request, note: dict, body: bytes) -> Response:
        params = request.query_params
        query_rate = protocols.sample_rate(params, None)
        dry, use_lm = self._decoding(params)
        samples, body_rate = await asyncio.to_thread(protocols.recognize_body, body)
        if None not in (query_rate, body_rate) and query_rate != body_rate:
            raise ClientError(f'"sample_rate" {body_rate} in the body conflicts with ?sample_rate={query_rate}')
        rate = body_rate or query_rate or self.engine.sample_rate
        if not len(samples):
            raise ClientError('"data" holds no samples')
        if len(samples) / rate > self.limits.max_stream_s:
            raise ClientError(f"over the {self.limits.max_stream_s:g} s limit", status=413)
        audio = await self.engine.run(resample, samples, rate)
        finals = await self._finals(audio, dry, use_lm, note)
        return JSONResponse({"text": joined(finals), "final": True, "segments": segments(finals),
                             "duration_s": len(audio) / SAMPLE_RATE})

    async def recognize_file(self, request: Request, note: dict, body: bytes) -> Response:
        params = request.query_params
        dry, use_lm = self._decoding(params)
        form = protocols.output_format(params)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body = await self._uploaded_file(request, body)
        if not body:
            raise ClientError("the body is empty: send an audio file")
        audio = await self.engine.run(load_audio, body, "the uploaded file", self.limits.max_stream_s)
        finals = await self._finals(audio, dry, use_lm, note)
        if form in SUBTITLE_TYPES:
            return Response(subtitles.subtitles(finals, form), media_type=SUBTITLE_TYPES[form])
        return JSONResponse({"text": joined(finals), "segments": segments(finals),
                             "duration_s": len(audio) / SAMPLE_RATE})

    @staticmethod
    async def _uploaded_file(request: Request, body: bytes) -> bytes:
        """The one file of a multipart form (``curl -F file=@talk.wav``), from the body already read."""
        async def whole():
            yield body

        try:
            form = await MultiPartParser(request.headers, whole(), max_files=1, max_fields=8).parse()
        except (MultiPartException, ValueError, KeyError) as error:  # the parser's errors are ValueErrors
            raise ClientError(f"malformed multipart form: {str(getattr(error, 'message', error))[:80]}") from None
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        try:
            if len(files) != 1:
                raise ClientError(f"a multipart upload holds one file, got {len(files)}")
            return await files[0].read()
        finally:
            await form.close()

    async def healthz(self, request: Request, note: dict, body: bytes) -> Response:
        return JSONResponse({"status": "ok", "streams": self.slots.active, "max_streams": self.limits.max_streams})

    async def models(self, request: Request, note: dict, body: bytes) -> Response:
        return JSONResponse(self.engine.describe())

    async def page(self, request: Request) -> Response:
        return await self.static(request, "index.html")

    async def static(self, request: Request, name: str | None = None) -> Response:
        name = name or request.path_params["name"]
        if name not in self.files:  # only the page's own files: clients never name others
            raise HTTPException(404, "not found")
        content, media_type = self.files[name]
        return Response(content, media_type=media_type)

    # -- websockets ------------------------------------------------------
    def websocket(self, handler):
        """Token, stream slot, closes with a reason and one log line around ``handler(websocket, note)``."""

        async def endpoint(websocket: WebSocket) -> None:
            started, note, slot = time.monotonic(), {}, False
            await websocket.accept()
            code, reason = 1000, ""
            try:
                if not self._authorized(websocket.headers, websocket.query_params.get("token")):
                    raise ClientError("missing or wrong token (add ?token=TOKEN)", close_code=1008)
                slot = self.slots.take()
                if not slot:
                    raise ClientError(f"server busy: {self.limits.max_streams} streams running", close_code=1013)
                await handler(websocket, note)
            except ClientError as error:
                code, reason = error.close_code, error.reason
            except WebSocketDisconnect as error:  # the client closed, vanished, or sent too big a frame
                code, reason, note["left"] = error.code, error.reason or "", error.code not in (1000, 1001)
                note["closed"] = True
            except WorkbenchError as error:
                code, reason = 1007, str(error)[:120]
            except Exception as error:
                log.exception("websocket %s failed", websocket.url.path)
                code, reason = 1011, "internal error"
                note["error"] = type(error).__name__
            finally:
                if slot:
                    await self._give_back()
            if not note.get("closed"):
                try:
                    await websocket.close(code, reason)
                except (WebSocketDisconnect, RuntimeError, OSError):  # it left meanwhile
                    note["left"] = True
            if reason:
                note["error"] = reason
            self._log(websocket, f"WS {websocket.url.path}", code, started, note)

        return endpoint

    async def _receive(self, websocket: WebSocket, idle: Idle) -> dict:
        """The next message; a client that sent no samples for the idle timeout is closed (1008)."""
        try:
            message = await asyncio.wait_for(websocket.receive(), idle.left_s())
        except TimeoutError:
            raise ClientError(f"idle for {self.limits.idle_timeout_s:g} s", close_code=1008) from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))
        return message

    def _decoding(self, params) -> tuple[float, bool]:
        """``?dry=`` and ``?lm=`` of a request, with the server's defaults."""
        return protocols.dry(params, self.engine.dry), protocols.use_lm(params)

    @staticmethod
    def _sender(websocket: WebSocket, note: dict, frame):
        """``send(events)``: each event as the JSON text frame ``frame(event)``, finals counted for the log."""
        async def send(events: list[TranscriptEvent]) -> None:
            for event in events:
                note["finals"] = note.get("finals", 0) + event.final
                await websocket.send_text(json.dumps(frame(event), ensure_ascii=False))
        return send

    def _count(self, note: dict, seconds: float) -> None:
        """Add ``seconds`` of received audio; past the limit the stream is refused."""
        note["audio_s"] = note.get("audio_s", 0.0) + seconds
        if note["audio_s"] > self.limits.max_stream_s:
            raise ClientError(f"stream over the {self.limits.max_stream_s:g} s limit", close_code=1008)

    async def stream(self, websocket: WebSocket, note: dict) -> None:
        """``/v1/stream``: binary PCM16 frames at ``?sample_rate``, then ``{"event": "end"}``."""
        params = websocket.query_params
        rate = protocols.sample_rate(params, self.engine.sample_rate)
        dry, use_lm = self._decoding(params)
        note["rate"] = rate

        send = self._sender(websocket, note, TranscriptEvent.to_dict)

        feeder = Feeder(self.engine, self.engine.stream(dry, use_lm), send, self.limits.max_queued_s)
        idle = Idle(self.limits.idle_timeout_s)
        try:
            while True:
                message = await self._receive(websocket, idle)
                if message.get("bytes") is None:
                    protocols.end_frame(message.get("text") or "")
                    break
                data = message["bytes"]
                seconds = protocols.pcm_samples(data) / rate  # whole int16 samples, else close 1007
                if not data:  # an empty frame is no audio: it does not keep the stream alive
                    continue
                idle.heard()
                self._count(note, seconds)
                async with idle.paused():
                    await feeder.put(data, rate, seconds)
            await send(await feeder.finish())
        finally:
            feeder.cancel()

    async def reference_stream(self, websocket: WebSocket, note: dict) -> None:
        """``/recognize``: ``{"state": 0|1, "data"}`` frames; a final when speech turns to silence."""
        params = websocket.query_params
        rate = protocols.sample_rate(params, self.engine.sample_rate)
        dry, use_lm = self._decoding(params)
        note["rate"] = rate

        send = self._sender(websocket, note, lambda event: {"text": event.text, "final": event.final})

        feeder, idle = None, Idle(self.limits.idle_timeout_s)
        try:
            while True:
                message = await self._receive(websocket, idle)
                if message.get("text") is None:
                    raise ClientError('this endpoint takes JSON text frames {"state", "data"}', close_code=1003)
                state, samples = protocols.state_frame(message["text"])
                self._count(note, len(samples) / rate)
                if len(samples):  # frames without samples do not keep the stream alive
                    idle.heard()
                if state == 1:
                    feeder = feeder or Feeder(self.engine, self.engine.stream(dry, use_lm), send,
                                              self.limits.max_queued_s)
                    async with idle.paused():
                        await feeder.put(samples, rate, len(samples) / rate)
                elif feeder is not None:  # speech ended: close the utterance with a final
                    async with idle.paused():
                        events = await feeder.finish()
                        if not any(event.final for event in events):
                            events.append(TranscriptEvent("", True, 0.0, 0.0))
                        await send(events)
                    feeder = None
        finally:
            if feeder is not None:
                feeder.cancel()

    # -- logging ---------------------------------------------------------
    def _log(self, connection, what: str, code: int, started: float, note: dict) -> None:
        client = connection.client
        parts = [f"{client.host}:{client.port}" if client else "-", what, str(code),
                 f"{time.monotonic() - started:.2f} s"]
        if "audio_s" in note:
            parts.append(f"audio {note['audio_s']:.1f} s" + (f" at {note['rate']} Hz" if "rate" in note else ""))
        if "finals" in note:
            parts.append(f"{note['finals']} finals")
        if note.get("left"):
            parts.append("client left")
        if "error" in note:
            parts.append(f"error: {note['error']}")
        log.info(" ".join(parts))
