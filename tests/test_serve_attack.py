"""The service under attack and overload (a real uvicorn, limits shrunk so each case takes seconds).

Slow bodies hold no stream slot and are cut off with 408; a file's declared
duration is checked against the service's own limit before decoding; a client
faster than inference is slowed, not disconnected; frames without samples do
not keep a stream alive.
"""
import contextlib
import io
import json
import socket
import time

import httpx
import numpy as np
import pytest
import soundfile
from models import bundled_engine
from test_serve import CLEAN, TELEPHONE, Running, closed_with, finals_text, pcm16, stream
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from workbench.__main__ import main
from workbench.serve.app import Service
from workbench.serve.limits import BODY_GRACE_S, Limits

TIGHT = Limits(max_message_bytes=4 << 20, max_stream_s=30.0, max_streams=2, idle_timeout_s=1.0,
               min_body_bytes_per_s=2000.0, max_queued_s=0.5, ping_interval_s=0.2, ping_timeout_s=0.3)


@pytest.fixture(scope="module")
def tight():
    engine = bundled_engine()
    running = Running(Service(engine, TIGHT))
    yield running
    running.stop()
    engine.close()


def hanging_body(port: int, path: str = "/v1/recognize") -> socket.socket:
    """A request that announces a 1 MB body and sends four bytes of it."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nRIFF".encode())
    return sock


def status_line(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096).split(b"\r\n")[0]
    except TimeoutError:
        return b"(no answer)"


def test_slow_bodies_hold_no_stream_and_are_cut_off_with_408(tight):
    data, rate = pcm16(CLEAN)
    started = time.monotonic()
    bodies = [hanging_body(tight.port, path) for path in ("/v1/recognize", "/recognize") * TIGHT.max_streams]
    try:
        time.sleep(0.3)
        extra = httpx.post(f"{tight.http}/v1/recognize", content=CLEAN.read_bytes(), timeout=10)
        assert extra.status_code == 503 and "uploads being received" in extra.json()["error"]
        events, close = stream(tight.ws, data, rate, "&dry=1")  # streams are served meanwhile
        assert close == 1000 and finals_text(events)
        answers = [status_line(sock, 10) for sock in bodies]
        assert answers == [b"HTTP/1.1 408 Request Timeout"] * len(bodies)
        assert BODY_GRACE_S <= time.monotonic() - started < BODY_GRACE_S + 4
    finally:
        for sock in bodies:
            sock.close()
    assert httpx.post(f"{tight.http}/v1/recognize", content=CLEAN.read_bytes(), timeout=60).status_code == 200
    assert httpx.get(f"{tight.http}/healthz").json()["streams"] == 0


def test_a_body_that_keeps_up_is_read(tight):
    """Slow but above the rate: a 6 kB body in 1 kB pieces every 0.3 s (3.3 kB/s, limit 2 kB/s)."""
    body = json.dumps({"data": [0] * 1600}).encode()
    with socket.create_connection(("127.0.0.1", tight.port)) as sock:
        sock.sendall(f"POST /recognize HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                     "Content-Type: application/json\r\n\r\n".encode())
        for start in range(0, len(body), 1000):
            time.sleep(0.3)
            sock.sendall(body[start:start + 1000])
        assert status_line(sock, 30) == b"HTTP/1.1 200 OK"


def test_a_declared_duration_over_the_service_limit_is_refused_before_decoding(tight, tmp_path):
    """Three hours of silence at 1 kHz (a small FLAC) decode to 3 h at 16 kHz: 690 MB and half a
    minute of an inference thread before the service's limit of 30 s was applied."""
    path = tmp_path / "hours.flac"
    soundfile.write(path, np.zeros(3 * 3600 * 1000, np.int16), 1000, subtype="PCM_16")
    started = time.monotonic()
    answer = httpx.post(f"{tight.http}/v1/recognize", content=path.read_bytes(), timeout=300)
    assert answer.status_code == 413 and "declares 10800 s of audio" in answer.json()["error"]
    assert time.monotonic() - started < 5


def test_a_client_faster_than_inference_is_slowed_not_disconnected(tight, tmp_path):
    """24 s of speech sent at once: the server stops reading (queue 0.5 s), its pings (every 0.2 s,
    timeout 0.3 s) wait behind the unread frames; the stream still gets every final and closes 1000."""
    data, rate = pcm16(CLEAN)
    audio = np.tile(data, max(1, round(24 * rate / len(data))))  # about 24 s, under the 30 s limit
    path = tmp_path / "long.wav"
    soundfile.write(path, audio, rate, subtype="PCM_16")
    events, close = stream(tight.ws, audio, rate, "&dry=1")
    assert close == 1000
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["transcribe", str(path), "--json", "--dry", "1"]) == 0
    expected = [json.loads(line) for line in out.getvalue().splitlines()]
    assert finals_text(events) == finals_text(expected) != ""


@pytest.mark.parametrize("path, nothing", [
    ("/v1/stream", b""),
    ("/recognize", json.dumps({"state": 0, "data": []})),
    ("/recognize", json.dumps({"state": 1, "data": []})),
])
def test_frames_without_samples_do_not_keep_a_stream_alive(tight, path, nothing):
    first = b"\x00\x00" * 160 if path == "/v1/stream" else json.dumps({"state": 1, "data": [0] * 160})
    started = time.monotonic()

    def send(ws):
        ws.send(first)
        while time.monotonic() - started < 6:
            ws.send(nothing)
            time.sleep(0.05)

    code, reason = closed_with(tight.ws + path, send)
    assert (code, reason) == (1008, "idle for 1 s")
    assert time.monotonic() - started < 3


def test_a_stream_that_sends_audio_is_not_idle(tight):
    """Audio every 0.5 s, slower than real time, for 3 s: never idle for 1 s."""
    with connect(f"{tight.ws}/v1/stream") as ws:
        for _ in range(6):
            ws.send(b"\x00\x00" * 1600)
            time.sleep(0.5)
        ws.send(json.dumps({"event": "end"}))
        try:
            list(ws)
        except ConnectionClosed:
            pass
    assert ws.close_code == 1000


def test_frames_sent_after_the_server_closed_do_not_stall_the_close(tight):
    """A client that goes on sending after a refusal: its unread frames filled the queue, and the
    close handshake waited for its 10 s timeout."""
    started = time.monotonic()
    with connect(f"{tight.ws}/v1/stream", close_timeout=10) as ws:
        ws.send(b"\x00" * 3)  # odd length: closed 1007
        with contextlib.suppress(ConnectionClosed):
            for _ in range(12):
                ws.send(b"\x00\x00" * 1600)
            ws.recv(timeout=5)
    assert ws.close_code == 1007
    assert time.monotonic() - started < 3


# -- HTTP traps (issue 28 §2) ------------------------------------------------------
def test_the_json_body_may_name_its_sample_rate(tight):
    data, rate = pcm16(TELEPHONE)  # 8 kHz: read at the server's 16 kHz it would be nonsense
    by_query = httpx.post(f"{tight.http}/recognize?sample_rate={rate}", json={"data": data.tolist()}, timeout=60)
    by_body = httpx.post(f"{tight.http}/recognize", json={"sample_rate": rate, "data": data.tolist()}, timeout=60)
    both = httpx.post(f"{tight.http}/recognize?sample_rate={rate}", json={"sample_rate": rate, "data": data.tolist()},
                      timeout=60)
    assert by_body.status_code == 200 and by_body.json() == by_query.json() == both.json()
    assert by_body.json()["duration_s"] == pytest.approx(len(data) / rate, abs=1e-3) and by_body.json()["text"]


@pytest.mark.parametrize("query, rate, message", [
    ("?sample_rate=16000", 8000, '"sample_rate" 8000 in the body conflicts with ?sample_rate=16000'),
    ("", "8000", '"sample_rate" must be an integer'),
    ("", True, '"sample_rate" must be an integer'),
    ("", 8000.0, '"sample_rate" must be an integer'),
    ("", 4000, "between 8000 and 48000"),
])
def test_a_bad_or_conflicting_body_rate_gets_400(tight, query, rate, message):
    answer = httpx.post(f"{tight.http}/recognize{query}", json={"sample_rate": rate, "data": [0] * 1600})
    assert answer.status_code == 400 and message in answer.json()["error"]


def test_an_undecodable_upload_is_told_the_accepted_formats(tight):
    answer = httpx.post(f"{tight.http}/v1/recognize", content=b"this is not audio" * 10)
    assert answer.status_code == 400
    assert "not a supported audio file (accepted: WAV, FLAC, OGG (Vorbis, Opus), MP3" in answer.json()["error"]
    assert "Error" not in answer.json()["error"]  # no exception class names


def test_a_multipart_upload_is_recognised_like_the_file(tight):
    wav = CLEAN.read_bytes()
    plain = httpx.post(f"{tight.http}/v1/recognize", content=wav, timeout=60).json()
    form = httpx.post(f"{tight.http}/v1/recognize", files={"file": ("clean.wav", wav, "audio/wav")},
                      data={"note": "x"}, timeout=60)
    assert form.status_code == 200 and form.json() == plain and plain["text"]


@pytest.mark.parametrize("headers, body, message", [
    ({"content-type": "multipart/form-data; boundary=xyz"},
     b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\n', "holds one file, got 0"),
    ({"content-type": "multipart/form-data; boundary=xyz"}, b"garbage" * 10, "multipart"),
    ({"content-type": "multipart/form-data"}, b"garbage", "multipart"),
    ({"content-type": "multipart/form-data; boundary=xyz"}, b"".join(
        b'--xyz\r\nContent-Disposition: form-data; name="f%d"; filename="a.wav"\r\n\r\nRIFF\r\n' % i for i in range(2))
     + b"--xyz--\r\n", "multipart"),
])
def test_a_bad_multipart_upload_gets_one_400(tight, headers, body, message):
    answer = httpx.post(f"{tight.http}/v1/recognize", content=body, headers=headers, timeout=30)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text
