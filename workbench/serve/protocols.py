"""What clients send, checked: query parameters, JSON bodies and frames, PCM16 data.

Every problem raises :class:`ClientError`, which carries both answers: the
HTTP status (400, 413) and the websocket close code (1003 unsupported data,
1007 invalid payload, 1008 policy, 1009 too big), with one line of reason.
"""
import json

import numpy as np

MIN_RATE, MAX_RATE = 8000, 48000
FORMATS = ("json", "srt", "vtt")
PCM_MIN, PCM_MAX = -32768, 32767


KINDS = {401: "unauthorized", 408: "slow_body", 409: "no_denoiser", 413: "too_large", 503: "busy"}


class ClientError(Exception):
    """A request or frame the server refuses; ``str(error)`` is the reason shown to the client,
    ``kind`` the reason counted in the metrics (by default from the status; ``invalid`` for 400)."""

    def __init__(self, reason: str, status: int = 400, close_code: int = 1007, kind: str | None = None):
        super().__init__(reason)
        self.status, self.close_code = status, close_code
        self.kind = kind or KINDS.get(status, "invalid")

    @property
    def reason(self) -> str:
        return str(self)[:120]  # a websocket close reason must fit in 123 bytes


def sample_rate(params, default: int | None) -> int | None:
    """``?sample_rate=`` (8000..48000 Hz), else ``default`` (the server's rate)."""
    text = params.get("sample_rate")
    if text is None:
        return default
    try:
        rate = int(text)
    except ValueError:
        raise ClientError(f"sample_rate must be an integer, got {text[:20]!r}") from None
    return _in_range(rate)


def _in_range(rate: int) -> int:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ClientError(f"sample_rate must be between {MIN_RATE} and {MAX_RATE} Hz, got {rate}")
    return rate


def dry(params, default: float) -> float:
    """``?dry=`` in [0, 1], else the server's dry."""
    text = params.get("dry")
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise ClientError(f"dry must be a number between 0 and 1, got {text[:20]!r}")
    return value


def use_lm(params) -> bool:
    """``?lm=auto|on|true|1`` decodes with the server's LM (when it has one), ``none|off|false|0`` greedily."""
    text = params.get("lm", "auto").lower()
    if text in ("auto", "on", "true", "1"):
        return True
    if text in ("none", "off", "false", "0"):
        return False
    raise ClientError(f"lm must be auto or none, got {text[:20]!r} (clients cannot name server files)")


def live(params) -> bool:
    """``?live=auto`` streams in the live mode (when the server has its low-latency companion),
    ``none`` with the model alone (as ``--live none``); anything else is refused (400 / close 1008)."""
    text = params.get("live", "auto").lower()
    if text not in ("auto", "none"):
        raise ClientError(f"live must be auto or none, got {text[:20]!r} (clients cannot name server files)",
                          close_code=1008)
    return text == "auto"


def output_format(params) -> str:
    text = params.get("format", "json")
    if text not in FORMATS:
        raise ClientError(f"format must be one of {', '.join(FORMATS)}, got {text[:20]!r}")
    return text


def parse_json(text: str | bytes) -> object:
    """JSON that Python can hold; anything else (including nesting deep enough to recurse) is malformed."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ClientError("malformed JSON") from None


def pcm_from_list(data: object) -> np.ndarray:
    """A JSON list of PCM16 integers -> float32 samples in [-1, 1)."""
    if not isinstance(data, list):
        raise ClientError(f'"data" must be a list of PCM16 integers, got {type(data).__name__}')
    if not all(type(value) is int for value in data):  # bool and float are not samples
        bad = next(value for value in data if type(value) is not int)
        raise ClientError(f'"data" must hold only integers, found {json.dumps(bad)[:20]}')
    try:
        samples = np.array(data, np.int64)
    except OverflowError:
        samples = None
    if samples is None or (len(samples) and (samples.min() < PCM_MIN or samples.max() > PCM_MAX)):
        raise ClientError(f'"data" samples must lie in [{PCM_MIN}, {PCM_MAX}]')
    return samples.astype(np.float32) / 32768.0


def pcm_samples(data: bytes) -> int:
    """How many int16 samples a binary frame holds; an odd byte count is refused."""
    if len(data) % 2:
        raise ClientError(f"binary frames must hold whole int16 samples, got {len(data)} bytes")
    return len(data) // 2


def recognize_body(body: bytes) -> tuple[np.ndarray, int | None]:
    """``{"uid": str, "sid": str, "sample_rate": int, "data": [PCM16 ints]}`` -> (samples, rate);
    ``uid``, ``sid`` and ``sample_rate`` are optional (rate None when absent)."""
    message = parse_json(body)
    if not isinstance(message, dict):
        raise ClientError("the body must be a JSON object with a \"data\" list")
    for key in ("uid", "sid"):
        if key in message and not isinstance(message[key], str):
            raise ClientError(f'"{key}" must be a string')
    rate = message.get("sample_rate")
    if rate is not None:
        if type(rate) is not int:
            raise ClientError(f'"sample_rate" must be an integer, got {json.dumps(rate)[:20]}')
        _in_range(rate)
    if "data" not in message:
        raise ClientError('the body has no "data" list')
    return pcm_from_list(message["data"]), rate


def state_frame(text: str) -> tuple[int, np.ndarray]:
    """``{"state": 0|1, "data": [PCM16 ints]}`` -> (state, samples)."""
    message = parse_json(text)
    if not isinstance(message, dict) or "state" not in message:
        raise ClientError('frames must be JSON objects {"state": 0|1, "data": [...]}')
    state = message["state"]
    if type(state) is not int or state not in (0, 1):
        raise ClientError('"state" must be 0 (silence) or 1 (speech)')
    return state, pcm_from_list(message.get("data", []))


def end_frame(text: str) -> None:
    """The only text frame ``/v1/stream`` takes: ``{"event": "end"}``."""
    message = parse_json(text)
    if message != {"event": "end"}:
        raise ClientError('the only text frame is {"event": "end"}; audio goes in binary frames',
                          close_code=1003)
