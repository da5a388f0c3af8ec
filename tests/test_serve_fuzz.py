"""Property-based fuzzing of the service's protocols (hypothesis, derandomized and bounded).

Whatever a client sends — JSON of any shape, PCM lists of any values, files
with damaged bytes, binary and text frames of any size in any order — the
answer is a 2xx or 4xx with one ``{"error"}``, or a websocket close with a
documented code; never a 500, a 1011 or a hang. A good client is served after
each run of examples.
"""
import io
import json
import struct
import time

import httpx
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from models import bundled_engine
from test_serve import CLEAN, Running, finals_text, pcm16, stream
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from workbench.serve.app import Service
from workbench.serve.limits import Limits

LIMITS = Limits(max_message_bytes=64 * 1024, max_stream_s=5.0, max_streams=4, idle_timeout_s=0.5)
CLOSE_CODES = {1000, 1003, 1007, 1008, 1009}  # normal, unsupported data, invalid payload, policy, too big
FUZZ = settings(max_examples=15, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def server():
    engine = bundled_engine(dry=1.0)
    running = Running(Service(engine, LIMITS))
    yield running
    running.stop()
    engine.close()


# -- what clients send ----------------------------------------------------------
json_leaf = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
             | st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
pcm = st.lists(st.integers(-32768, 32767), max_size=400)
samples = pcm | st.lists(st.integers(-40000, 40000) | json_leaf, max_size=20) | json_value
query = st.dictionaries(st.sampled_from(["sample_rate", "dry", "lm", "format", "token"]),
                        st.sampled_from(["8000", "16000", "48000", "0", "-1", "1e9", "0.5", "1", "nan", "none",
                                         "auto", "srt", "vtt", "xml", "", "../x"]) | st.text(max_size=6),
                        max_size=3)


def body_of(message) -> bytes:
    return json.dumps(message, allow_nan=True).encode()


recognize_body = (st.fixed_dictionaries({"data": samples}, optional={"uid": json_value, "sid": json_value})
                  .map(body_of) | json_value.map(body_of) | st.binary(max_size=200))
state_frame = st.fixed_dictionaries({"state": st.sampled_from([0, 1]) | json_leaf},
                                    optional={"data": samples}).map(lambda m: json.dumps(m, allow_nan=True))
reference_frame = state_frame | st.text(max_size=40) | st.binary(max_size=40)
stream_frame = (st.binary(max_size=3200) | st.just(b"") | st.just('{"event": "end"}') | st.text(max_size=30)
                | st.just(b"\x00" * (LIMITS.max_message_bytes + 2)))


def wav_bytes() -> bytes:
    data, rate = pcm16(CLEAN)
    buffer = io.BytesIO()
    soundfile.write(buffer, data[:rate // 2], rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


WAV = wav_bytes()


def damaged(edits: list[tuple[int, int]], cut: int) -> bytes:
    data = bytearray(WAV[:max(cut, 1)])
    for index, value in edits:
        data[index % len(data)] = value
    return bytes(data)


upload = (st.builds(damaged, st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=4),
                    st.integers(1, len(WAV)))
          | st.builds(lambda rate: WAV[:24] + struct.pack("<I", rate) + WAV[28:], st.integers(0, 2**32 - 1))
          | st.binary(max_size=300))


# -- what must come back ----------------------------------------------------------
def assert_answered(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert list(answer.json()) == ["error"] and answer.json()["error"]


def websocket_close(url: str, frames: list) -> int:
    """Send ``frames``, read until the server closes or stays quiet, close; the server's close code."""
    with connect(url, open_timeout=10, close_timeout=1, max_size=None) as ws:
        try:
            for frame in frames:
                ws.send(frame)
            while True:
                ws.recv(timeout=2)
        except TimeoutError:
            ws.close()
        except ConnectionClosed:
            pass
    assert ws.close_code is not None, "the server did not answer the close"
    return ws.close_code


@FUZZ
@given(body=recognize_body, params=query)
def test_json_requests(server, body, params):
    assert_answered(httpx.post(f"{server.http}/recognize", params=params, content=body, timeout=30))


@FUZZ
@given(body=upload, params=query)
def test_file_uploads(server, body, params):
    assert_answered(httpx.post(f"{server.http}/v1/recognize", params=params, content=body, timeout=30))


@FUZZ
@given(frames=st.lists(reference_frame, max_size=8), params=query)
def test_reference_websocket(server, frames, params):
    url = str(httpx.URL(f"{server.ws}/recognize", params=params))
    assert websocket_close(url, frames) in CLOSE_CODES


@FUZZ
@given(frames=st.lists(stream_frame, max_size=8), params=query)
def test_binary_stream(server, frames, params):
    url = str(httpx.URL(f"{server.ws}/v1/stream", params=params))
    assert websocket_close(url, frames) in CLOSE_CODES


def test_a_good_client_is_served_after_the_fuzzing(server):
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.http}/healthz").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{server.http}/healthz").json()["streams"] == 0
    data, rate = pcm16(CLEAN)
    events, close = stream(server.ws, data[:int(LIMITS.max_stream_s * rate) - rate], rate)  # within the limit
    assert close == 1000 and finals_text(events)
    answer = httpx.post(f"{server.http}/v1/recognize", content=WAV, timeout=60)
    assert answer.status_code == 200 and answer.json()["text"]
