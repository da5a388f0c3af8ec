"""The service's routes (starlette): two offline and two online recognition protocols, health, models, page.

| route | protocol |
|---|---|
| ``POST /recognize`` | JSON ``{"uid", "sid", "data": [PCM16]}`` -> ``{"text", "final", "segments", "duration_s"}`` |
| ``POST /v1/recognize`` | an audio file -> JSON ``{"text", "segments", "duration_s"}``, or ``srt`` / ``vtt`` |
| ``POST /v1/enhance`` | an audio file -> the enhanced audio as a 16 kHz WAV (:mod:`.enhance`) |
| ``WS /recognize`` | JSON frames ``{"state": 0|1, "data": [PCM16]}`` -> ``{"text", "final"}`` frames |
| ``WS /v1/stream`` | binary int16 frames, then ``{"event": "end"}`` -> CLI ``--json`` events, close 1000 |
| ``GET /healthz``, ``GET /v1/models``, ``GET /metrics`` | status; model names, sizes, rates, defaults; Prometheus |
| ``GET /openapi.json``, ``GET /docs`` | the HTTP routes' schema; a page that shows it and the websocket protocols |
| ``GET /``, ``GET /static/NAME`` | the browser page and its scripts |

:func:`create_app` is the ASGI app (``uvicorn --factory workbench.serve:create_app``): its
lifespan loads the models and owns the inference threads. Token, limits and the log line are
middleware (:mod:`.middleware`); every refusal is one ``{"error"}`` answer or one websocket close
with a reason (see :mod:`.protocols`), mapped from exceptions by the app's exception handlers.
"""
import asyncio
import bisect
import contextlib
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import subtitles
from ..asr import TranscriptEvent
from ..audio import SAMPLE_RATE, AudioTooLong, check_audio, load_audio, resample
from ..errors import WorkbenchError, printable
from ..live import LiveStream, PendingChunks
from . import protocols
from .engine import Engine, configure_allocator, release_memory
from .enhance import enhance_route
from .limits import Limits, Slots
from .metrics import Metrics
from .middleware import AccessLog, StartupError, StreamLimits, TokenGate, close_with, error_answer, log, note, refused
from .protocols import ClientError
from .settings import Settings

WEB = Path(__file__).resolve().parent.parent / "web"
SUBTITLE_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}
STREAM_PATHS = frozenset({"/recognize", "/v1/recognize", "/v1/enhance", "/v1/stream"})  # each takes a stream slot
MAX_STEP_S = 2.0     # one inference step feeds at most this much of a stream's queued audio (bounds its memory)
SCHEMAS = SchemaGenerator({
    "openapi": "3.0.0",
    "info": {"title": "workbench streaming speech recognition", "version": "v1",
             "description": "The HTTP routes; the websocket protocols are described on /docs."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
})


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
    Each event's text lag goes to ``lag``: the time from the arrival of the audio at the
    event's ``end_s`` to the event.
    """

    def __init__(self, engine: Engine, live: LiveStream, send, max_queued_s: float, lag=None):
        self.engine, self.live, self.send, self.max_queued_s, self.lag = engine, live, send, max_queued_s, lag
        self.pending = PendingChunks()
        self.queued_s = 0.0
        self.received_s, self.arrived_at = [], []  # audio seconds received so far, and when, per frame
        self._task: asyncio.Task | None = None

    async def put(self, data: bytes | np.ndarray, rate: int, seconds: float) -> None:
        self.pending.put(None, data, rate)
        self.queued_s += seconds
        self.received_s.append((self.received_s[-1] if self.received_s else 0.0) + seconds)
        self.arrived_at.append(time.monotonic())
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
                    await self.send(self._lagged(await self.engine.run(self.live.feed, piece, rate)))
                    self.queued_s -= len(piece) / step * MAX_STEP_S

    def _lagged(self, events: list[TranscriptEvent]) -> list[TranscriptEvent]:
        """``events``, their lag measured."""
        if self.lag is not None and self.received_s:
            now = time.monotonic()
            for event in events:
                frame = min(bisect.bisect_left(self.received_s, event.end_s - 1e-6), len(self.received_s) - 1)
                self.lag.labels("final" if event.final else "partial").observe(now - self.arrived_at[frame])
        return events

    async def finish(self) -> list[TranscriptEvent]:
        """Wait for the queued audio, then flush the stream; returns the last events."""
        if self._task is not None:
            await self._task
        return self._lagged(await self.engine.run(self.live.finish))

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


# -- exception handlers: every error a client causes becomes one answer or one close --------------
async def client_error(connection, error: ClientError) -> Response | None:
    """A refusal: ``{"error"}`` with its status, or the websocket closed with its code and reason."""
    if isinstance(connection, WebSocket):
        refused(connection.scope, error)
        await close_with(connection, error.close_code, error.reason)
        return None
    return error_answer(connection.scope, error)


async def audio_error(connection, error: WorkbenchError) -> Response | None:
    """Audio the loaders refuse: 400 / close 1007, or 413 for a file over the duration limit."""
    if isinstance(error, AudioTooLong):
        return await client_error(connection, ClientError(str(error), status=413, kind="too_long"))
    return await client_error(connection, ClientError(str(error)))


async def client_left(websocket: WebSocket, error: WebSocketDisconnect) -> None:
    """The client closed, vanished, or sent a frame over the size limit (1009)."""
    record = note(websocket)
    record.update(code=error.code, left=error.code not in (1000, 1001))
    if error.code == 1009:  # the server's websocket protocol refused the frame
        refused(websocket.scope, ClientError(error.reason or "frame over the size limit", status=413))
    elif error.reason:
        record["error"] = error.reason


async def http_error(request: Request, error: HTTPException) -> Response:
    return JSONResponse({"error": error.detail}, error.status_code)


async def internal_error(request: Request, error: Exception) -> Response:
    """Any other failure: 500 (starlette re-raises it, so the server logs its traceback)."""
    return JSONResponse({"error": "internal error"}, 500)


class Service:
    """The routes around one :class:`Engine`, with its limits and optional token.

    ``engine`` may be None until :func:`create_app`'s lifespan loads it.
    """

    def __init__(self, engine: Engine | None, limits: Limits = Limits(), token: str | None = None):
        self.engine, self.limits, self.token = engine, limits, token
        self.slots = Slots(limits.max_streams)
        self.bodies = Slots(2 * limits.max_streams)  # bodies being received, before they take a stream slot
        self.metrics = Metrics(lambda: self.slots.active)

    def app(self, lifespan=None) -> Starlette:
        routes = [
            Route("/", self.page, include_in_schema=False),
            Mount("/static", StaticFiles(directory=WEB), name="static"),
            Route("/healthz", self.healthz),
            Route("/v1/models", self.models),
            Route("/metrics", self.prometheus),
            Route("/openapi.json", self.openapi, include_in_schema=False),
            Route("/docs", self.docs, include_in_schema=False),
            Route("/recognize", self.recognize_json, methods=["POST"]),
            Route("/v1/recognize", self.recognize_file, methods=["POST"]),
            enhance_route(self),
            WebSocketRoute("/recognize", self.reference_stream),
            WebSocketRoute("/v1/stream", self.stream),
        ]
        middleware = [Middleware(StartupError), Middleware(AccessLog, metrics=self.metrics),
                      Middleware(TokenGate, token=self.token),
                      Middleware(StreamLimits, service=self, paths=STREAM_PATHS)]
        handlers = {ClientError: client_error, WorkbenchError: audio_error, WebSocketDisconnect: client_left,
                    HTTPException: http_error, Exception: internal_error}
        return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)

    async def idle(self) -> None:
        """After a request or stream: when no slot is taken, memory goes back to the system."""
        if self.slots.active == 0 and self.engine is not None:
            await self.engine.run(release_memory)

    # -- HTTP ------------------------------------------------------------
    def _check_duration(self, audio: np.ndarray) -> None:
        seconds = len(audio) / SAMPLE_RATE
        if seconds > self.limits.max_stream_s:
            raise ClientError(f"{seconds:.0f} s of audio is over the {self.limits.max_stream_s:g} s limit",
                              status=413, kind="too_long")

    def heard(self, record: dict, seconds: float) -> None:
        """Count ``seconds`` of audio received by a request or stream."""
        record["audio_s"] = record.get("audio_s", 0.0) + seconds
        self.metrics.audio_s.inc(seconds)

    async def _finals(self, engine: Engine, audio: np.ndarray, dry: float, use_lm: bool,
                      record: dict) -> list[TranscriptEvent]:
        self._check_duration(audio)
        self.heard(record, len(audio) / SAMPLE_RATE)
        return await engine.recognize(check_audio(audio), dry, use_lm)

    def _engine(self, params) -> Engine:
        """The engine for ``?live=``."""
        return self.engine.with_live(protocols.live(params))

    async def recognize_json(self, request: Request) -> Response:
        """Recognise PCM16 samples sent as JSON (the reference offline protocol).
        ---
        summary: recognise PCM16 samples sent as JSON
        description: The body is JSON {"uid", "sid", "sample_rate", "data"}; "data" is a list of PCM16
          integers (mono), "uid", "sid" and "sample_rate" are optional. The rate is the body's
          "sample_rate", else ?sample_rate=, else the server's --sample-rate; a body rate that conflicts
          with the query's is refused.
        parameters:
          - {name: sample_rate, in: query, schema: {type: integer, minimum: 8000, maximum: 48000}}
          - {name: dry, in: query, description: share of the raw signal (default the server's), schema: {type: number, minimum: 0, maximum: 1}}
          - {name: lm, in: query, description: auto (the server's LM) or none (greedy), schema: {type: string, enum: [auto, none]}}
          - {name: live, in: query, description: auto (the live mode) or none (the model alone), schema: {type: string, enum: [auto, none]}}
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [data]
                properties:
                  uid: {type: string}
                  sid: {type: string}
                  sample_rate: {type: integer, minimum: 8000, maximum: 48000}
                  data: {type: array, items: {type: integer, minimum: -32768, maximum: 32767}}
        responses:
          200:
            description: '{"text", "final": true, "segments": [{"text", "start_s", "end_s", "words": [{"text", "start_s", "end_s"}]}], "duration_s"}'
          400: {description: '{"error"}: malformed JSON, wrong types, bad parameters'}
          401: {description: '{"error"}: missing or wrong token'}
          408: {description: '{"error"}: the body came too slowly'}
          413: {description: '{"error"}: body or audio over the limits'}
          503: {description: '{"error"}: server busy'}
        """
        params, record = request.query_params, note(request)
        query_rate = protocols.sample_rate(params, None)
        dry, use_lm = self._decoding(params)
        engine = self._engine(params)
        samples, body_rate = await asyncio.to_thread(protocols.recognize_body, await request.body())
        if None not in (query_rate, body_rate) and query_rate != body_rate:
            raise ClientError(f'"sample_rate" {body_rate} in the body conflicts with ?sample_rate={query_rate}')
        rate = body_rate or query_rate or self.engine.sample_rate
        if not len(samples):
            raise ClientError('"data" holds no samples')
        if len(samples) / rate > self.limits.max_stream_s:
            raise ClientError(f"over the {self.limits.max_stream_s:g} s limit", status=413, kind="too_long")
        audio = await engine.run(resample, samples, rate)
        finals = await self._finals(engine, audio, dry, use_lm, record)
        return JSONResponse({"text": joined(finals), "final": True, "segments": segments(finals),
                             "duration_s": len(audio) / SAMPLE_RATE})

    async def recognize_file(self, request: Request) -> Response:
        """Recognise an audio file.
        ---
        summary: recognise an audio file
        description: The body is an audio file (WAV, FLAC, OGG, MP3, ... as load_audio reads them), or a
          multipart form holding one file (curl -F file=@talk.wav). The answer is JSON, or subtitles.
        parameters:
          - {name: format, in: query, schema: {type: string, enum: [json, srt, vtt]}}
          - {name: dry, in: query, description: share of the raw signal (default the server's), schema: {type: number, minimum: 0, maximum: 1}}
          - {name: lm, in: query, description: auto (the server's LM) or none (greedy), schema: {type: string, enum: [auto, none]}}
          - {name: live, in: query, description: auto (the live mode) or none (the model alone), schema: {type: string, enum: [auto, none]}}
        requestBody:
          required: true
          content:
            application/octet-stream: {schema: {type: string, format: binary}}
            multipart/form-data: {schema: {type: object, properties: {file: {type: string, format: binary}}}}
        responses:
          200:
            description: '{"text", "segments", "duration_s"} (format=json), or SubRip / WebVTT cues'
          400: {description: '{"error"}: undecodable audio (the message names the accepted formats), bad parameters'}
          401: {description: '{"error"}: missing or wrong token'}
          408: {description: '{"error"}: the body came too slowly'}
          413: {description: '{"error"}: body or audio over the limits'}
          503: {description: '{"error"}: server busy'}
        """
        params, record = request.query_params, note(request)
        dry, use_lm = self._decoding(params)
        form = protocols.output_format(params)
        engine = self._engine(params)
        body = await request.body()
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body = await self._uploaded_file(request, body)
        if not body:
            raise ClientError("the body is empty: send an audio file")
        audio = await engine.run(load_audio, body, "the uploaded file", self.limits.max_stream_s)
        finals = await self._finals(engine, audio, dry, use_lm, record)
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

    async def healthz(self, request: Request) -> Response:
        """Health.
        ---
        summary: health and load
        responses:
          200: {description: '{"status": "ok", "streams", "max_streams"}'}
        """
        return JSONResponse({"status": "ok", "streams": self.slots.active, "max_streams": self.limits.max_streams})

    async def models(self, request: Request) -> Response:
        """The models.
        ---
        summary: the models and defaults
        responses:
          200: {description: '{"asr": {"name", "parameters", "lm"}, "live", "denoiser", "sample_rate", "model_sample_rate", "dry", "lm"}'}
        """
        return JSONResponse(self.engine.describe())

    async def prometheus(self, request: Request) -> Response:
        """Metrics.
        ---
        summary: metrics in Prometheus text format (workbench_*)
        responses:
          200: {description: 'active streams, audio seconds, real-time factor, text lag, refusals by reason'}
        """
        return Response(self.metrics.text(), media_type=self.metrics.content_type)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(SCHEMAS.get_schema(routes=request.app.routes))

    async def docs(self, request: Request) -> Response:
        return FileResponse(WEB / "docs.html")

    async def page(self, request: Request) -> Response:
        return FileResponse(WEB / "index.html")

    # -- websockets ------------------------------------------------------
    async def _receive(self, websocket: WebSocket, idle: Idle) -> dict:
        """The next message; a client that sent no samples for the idle timeout is closed (1008)."""
        try:
            message = await asyncio.wait_for(websocket.receive(), idle.left_s())
        except TimeoutError:
            raise ClientError(f"idle for {self.limits.idle_timeout_s:g} s", close_code=1008, kind="idle") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))
        return message

    def _decoding(self, params) -> tuple[float, bool]:
        """``?dry=`` and ``?lm=`` of a request, with the server's defaults."""
        return protocols.dry(params, self.engine.dry), protocols.use_lm(params)

    @staticmethod
    def _sender(websocket: WebSocket, record: dict, frame):
        """``send(events)``: each event as the JSON text frame ``frame(event)``, finals counted for the log."""
        async def send(events: list[TranscriptEvent]) -> None:
            for event in events:
                record["finals"] = record.get("finals", 0) + event.final
                await websocket.send_text(json.dumps(frame(event), ensure_ascii=False))
        return send

    def _count(self, record: dict, seconds: float) -> None:
        """Add ``seconds`` of received audio; past the limit the stream is refused."""
        self.heard(record, seconds)
        if record["audio_s"] > self.limits.max_stream_s:
            raise ClientError(f"stream over the {self.limits.max_stream_s:g} s limit", close_code=1008,
                              kind="too_long")

    def _feeder(self, engine: Engine, dry: float, use_lm: bool, send) -> Feeder:
        return Feeder(engine, engine.stream(dry, use_lm), send, self.limits.max_queued_s, self.metrics.lag)

    async def stream(self, websocket: WebSocket) -> None:
        """``/v1/stream``: binary PCM16 frames at ``?sample_rate``, then ``{"event": "end"}``."""
        await websocket.accept()
        params, record = websocket.query_params, note(websocket)
        rate = protocols.sample_rate(params, self.engine.sample_rate)
        dry, use_lm = self._decoding(params)
        engine = self._engine(params)
        record["rate"] = rate

        send = self._sender(websocket, record, TranscriptEvent.to_dict)

        feeder = self._feeder(engine, dry, use_lm, send)
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
                self._count(record, seconds)
                async with idle.paused():
                    await feeder.put(data, rate, seconds)
            await send(await feeder.finish())
        finally:
            feeder.cancel()
        await close_with(websocket, 1000)

    async def reference_stream(self, websocket: WebSocket) -> None:
        """``/recognize``: ``{"state": 0|1, "data"}`` frames; a final when speech turns to silence."""
        await websocket.accept()
        params, record = websocket.query_params, note(websocket)
        rate = protocols.sample_rate(params, self.engine.sample_rate)
        dry, use_lm = self._decoding(params)
        engine = self._engine(params)
        record["rate"] = rate

        send = self._sender(websocket, record, lambda event: {"text": event.text, "final": event.final})

        feeder, idle = None, Idle(self.limits.idle_timeout_s)
        try:
            while True:
                message = await self._receive(websocket, idle)
                if message.get("text") is None:
                    raise ClientError('this endpoint takes JSON text frames {"state", "data"}', close_code=1003)
                state, samples = protocols.state_frame(message["text"])
                self._count(record, len(samples) / rate)
                if len(samples):  # frames without samples do not keep the stream alive
                    idle.heard()
                if state == 1:
                    feeder = feeder or self._feeder(engine, dry, use_lm, send)
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


def load_engine(settings: Settings) -> Engine:
    """The models ``settings`` name, behind the inference threads."""
    from ..models import load_models

    denoiser, transcriber = load_models(settings.denoiser or None, settings.asr, settings.device, settings.lm,
                                        settings.quantize, settings.live)
    return Engine(transcriber, denoiser, settings.dry, settings.sample_rate)


def create_app(settings: Settings | None = None) -> Starlette:
    """The service as an ASGI app, from ``settings`` (default: the ``WORKBENCH_*`` variables, see
    :mod:`.settings`). Its lifespan loads the models and owns (then shuts down) the inference threads."""
    settings = Settings.from_env() if settings is None else settings
    service = Service(None, settings.limits, settings.token)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        configure_allocator()
        try:
            service.engine = load_engine(settings)
        except WorkbenchError as error:
            app.state.startup_error = f"error: {printable(str(error))}"
            raise
        try:
            yield
        finally:
            service.engine.close()

    log_to_stderr()
    return service.app(lifespan)


def log_to_stderr() -> None:
    """The service's log lines go to stderr (once per process), on a copy of fd 2: the log goes on
    even while a decoder silences fd 2."""
    if not log.handlers:
        stderr = open(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 - kept open
        handler = logging.StreamHandler(stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
