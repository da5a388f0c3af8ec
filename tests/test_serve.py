"""The service on a real uvicorn (free localhost port) with the bundled models: protocols, limits, hostile clients."""
import contextlib
import json
import re
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import soundfile
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from workbench import load_transcriber, paths
from workbench.__main__ import main
from workbench.serve.app import Service
from workbench.serve.cli import uvicorn_config
from workbench.serve.engine import Engine
from workbench.serve.limits import Limits

CLEAN = paths.EXAMPLES_DIR / "clean.wav"
TELEPHONE = paths.EXAMPLES_DIR / "telephone.wav"  # 8 kHz
TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Running:
    """A uvicorn server for ``service`` on a thread, as ``python -m workbench serve`` configures it."""

    def __init__(self, service: Service):
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn_config(service.app(), service.limits, "127.0.0.1", self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def server(engine):
    running = Running(Service(engine, Limits(max_message_bytes=1 << 20, max_streams=8)))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def strict(engine):
    """Small limits and a token."""
    limits = Limits(max_message_bytes=64 * 1024, max_stream_s=4.0, max_streams=1, idle_timeout_s=1.0)
    running = Running(Service(engine, limits, token=TOKEN))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cli_text():
    """Finals' text of ``python -m workbench transcribe --json PATH --dry DRY`` (run in this process)."""
    cache = {}

    def text(path, dry=0.05) -> str:
        if (path, dry) not in cache:
            out = contextlib.redirect_stdout(__import__("io").StringIO())
            with out as buffer:
                assert main(["transcribe", str(path), "--json", "--dry", str(dry)]) == 0
            events = [json.loads(line) for line in buffer.getvalue().splitlines()]
            cache[path, dry] = " ".join(e["text"] for e in events if e["final"] and e["text"])
        return cache[path, dry]

    return text


def pcm16(path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(path, dtype="int16")
    return data, rate


def stream(url: str, data: np.ndarray, rate: int, query: str = "", chunk_s: float = 0.1) -> tuple[list, int]:
    """Events and close code of /v1/stream fed ``data`` (int16) in chunks, then the end event."""
    step = max(1, int(rate * chunk_s))
    with connect(f"{url}/v1/stream?sample_rate={rate}{query}") as ws:
        for start in range(0, len(data), step):
            ws.send(data[start:start + step].astype("<i2").tobytes())
        ws.send(json.dumps({"event": "end"}))
        events = [json.loads(message) for message in ws]
    return events, ws.close_code


def server_threads() -> set[str]:
    """Threads of this process but the websocket clients' own."""
    return {thread.name for thread in threading.enumerate()
            if not thread.name.endswith(("(recv_events)", "(keepalive)"))
            and not thread.name.startswith("workbench-inference")}  # a pool of at most one per core


def finals_text(events) -> str:
    return " ".join(e["text"] for e in events if e["final"] and e["text"])


def closed_with(url: str, send, **connect_options) -> tuple[int, str]:
    """Close code and reason the server answers to what ``send(ws)`` sends."""
    with connect(url, **connect_options) as ws:
        try:
            send(ws)
            for _ in ws:
                pass
        except ConnectionClosed:
            pass
    return ws.close_code, ws.close_reason


# -- protocols ----------------------------------------------------------------
def test_offline_json_gives_the_cli_transcript(server, cli_text):
    data, rate = pcm16(CLEAN)
    answer = httpx.post(f"{server.http}/recognize", json={"uid": "u1", "sid": "s1", "data": data.tolist()},
                        timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["final"] is True and body["text"] == cli_text(CLEAN) != ""
    assert body["duration_s"] == pytest.approx(len(data) / rate, abs=1e-3)
    assert " ".join(s["text"] for s in body["segments"]) == body["text"]
    assert all(" ".join(w["text"] for w in s["words"]) == s["text"] for s in body["segments"])


def test_offline_json_at_8_khz(server, cli_text):
    data, rate = pcm16(TELEPHONE)
    answer = httpx.post(f"{server.http}/recognize?sample_rate={rate}", json={"uid": "u", "sid": "s",
                                                                            "data": data.tolist()}, timeout=60)
    assert answer.status_code == 200 and answer.json()["text"] == cli_text(TELEPHONE) != ""


def test_file_endpoint_json_and_subtitles(server, cli_text):
    body = CLEAN.read_bytes()
    answer = httpx.post(f"{server.http}/v1/recognize", content=body, timeout=60).json()
    assert answer["text"] == cli_text(CLEAN) and answer["segments"]
    for segment in answer["segments"]:  # word times within their segment, in order
        assert " ".join(w["text"] for w in segment["words"]) == segment["text"]
        starts = [w["start_s"] for w in segment["words"]]
        assert starts == sorted(starts) and segment["start_s"] <= starts[0] <= segment["words"][-1]["end_s"] <= segment["end_s"]
    srt = httpx.post(f"{server.http}/v1/recognize?format=srt", content=body, timeout=60)
    assert srt.headers["content-type"].startswith("application/x-subrip")
    cues = re.findall(r"(\d+)\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.+\n(?:.+\n)?)\n", srt.text)
    assert "".join(f"{n}\n{a} --> {b}\n{t}\n" for n, a, b, t in cues) == srt.text  # nothing else in it
    # cues of at most two lines, split at words: together they read the segments' text
    assert " ".join(t.replace("\n", " ").strip() for *_, t in cues) == " ".join(s["text"] for s in answer["segments"])
    vtt = httpx.post(f"{server.http}/v1/recognize?format=vtt&dry=1&lm=none", content=body, timeout=60)
    assert vtt.text.startswith("WEBVTT\n\n") and vtt.headers["content-type"].startswith("text/vtt")
    assert re.fullmatch(r"WEBVTT\n\n(\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n.+\n(.+\n)?\n)+", vtt.text)


def test_cli_writes_the_same_subtitles(server, capsys):
    assert main(["transcribe", str(CLEAN), "--format", "srt"]) == 0
    printed = capsys.readouterr().out
    served = httpx.post(f"{server.http}/v1/recognize?format=srt", content=CLEAN.read_bytes(), timeout=60).text
    assert printed == served and printed.startswith("1\n00:00:00,")


@pytest.mark.parametrize("path", [CLEAN, TELEPHONE], ids=["16k", "8k"])
def test_stream_gives_partials_then_the_cli_finals_and_closes_1000(server, cli_text, path):
    data, rate = pcm16(path)
    events, close = stream(server.ws, data, rate, "&dry=1")
    assert close == 1000
    assert all(set(e) == {"text", "final", "start_s", "end_s"} | ({"words"} if e["final"] else set()) for e in events)
    assert any(not e["final"] for e in events) and events[-1]["final"]
    assert finals_text(events) == cli_text(path, dry=1) != ""


def test_stream_with_the_denoiser_gives_text(server):
    data, rate = pcm16(CLEAN)
    events, close = stream(server.ws, data, rate, chunk_s=0.25)
    assert close == 1000 and finals_text(events)


def test_reference_websocket_gives_a_final_when_speech_turns_to_silence(server, cli_text):
    data, rate = pcm16(TELEPHONE)
    with connect(f"{server.ws}/recognize?sample_rate={rate}&dry=1") as ws:
        for utterance in range(2):  # two utterances on one connection
            ws.send(json.dumps({"state": 0, "data": [0] * 800}))
            for start in range(0, len(data), 800):
                ws.send(json.dumps({"state": 1, "data": data[start:start + 800].tolist()}))
            ws.send(json.dumps({"state": 0, "data": []}))
            messages = []
            while not messages or not messages[-1]["final"]:
                messages.append(json.loads(ws.recv(timeout=30)))
            assert all(set(m) == {"text", "final"} for m in messages)
            assert any(not m["final"] for m in messages)
            assert messages[-1]["text"] == cli_text(TELEPHONE, dry=1)


def test_health_models_and_page(server):
    assert httpx.get(f"{server.http}/healthz").json() == {"status": "ok", "streams": 0, "max_streams": 8}
    models = httpx.get(f"{server.http}/v1/models").json()
    assert models["asr"] == {"name": "asr.nemo", "parameters": models["asr"]["parameters"], "lm": True}
    assert models["denoiser"]["name"] == "denoiser.th" and models["denoiser"]["parameters"] > 1e6
    assert models["sample_rate"] == 16000 and models["dry"] == 0.05 and models["lm"] is True
    assert models["live"] == "asr_streaming.nemo"  # the live mode's companion, found beside asr.nemo
    page = httpx.get(server.http + "/")
    assert page.status_code == 200 and "/static/page.js" in page.text
    script = httpx.get(f"{server.http}/static/recorder.js")
    assert "export class Microphone" in script.text and script.headers["content-type"].startswith("text/javascript")
    for name in ("../serve/app.py", "app.py", "%2e%2e%2fserve%2fapp.py"):
        missing = httpx.get(f"{server.http}/static/{name}")
        assert missing.status_code == 404 and missing.json()["error"].lower() == "not found"


# -- hostile clients ------------------------------------------------------------
@pytest.mark.parametrize("body, query, message", [
    (b"{not json", "", "malformed JSON"),
    (b"[" * 100_000, "", "malformed JSON"),
    (b'{"uid": "u", "sid": "s", "data": [1, 2.5]}', "", "only integers"),
    (b'{"uid": "u", "sid": "s", "data": [1, true]}', "", "only integers"),
    (b'{"uid": "u", "sid": "s", "data": [1, "2"]}', "", "only integers"),
    (b'{"uid": "u", "sid": "s", "data": [1, 40000]}', "", "[-32768, 32767]"),
    (b'{"uid": "u", "sid": "s", "data": [1, 1e400]}', "", "only integers"),
    (b'{"uid": "u", "sid": "s", "data": [100000000000000000000000]}', "", "[-32768, 32767]"),
    (b'{"uid": "u", "sid": "s", "data": "AAAA"}', "", "must be a list"),
    (b'{"uid": 7, "sid": "s", "data": [1]}', "", '"uid" must be a string'),
    (b'{"uid": "u", "sid": "s", "data": []}', "", "no samples"),
    (b'[1, 2, 3]', "", "JSON object"),
    (b'{"uid": "u", "sid": "s", "data": [1]}', "?sample_rate=4000", "between 8000 and 48000"),
    (b'{"uid": "u", "sid": "s", "data": [1]}', "?sample_rate=abc", "integer"),
    (b'{"uid": "u", "sid": "s", "data": [1]}', "?dry=nan", "dry"),
])
def test_bad_json_requests_get_one_400(server, body, query, message):
    answer = httpx.post(f"{server.http}/recognize{query}", content=body, timeout=30)
    assert answer.status_code == 400 and list(answer.json()) == ["error"]
    assert message in answer.json()["error"]


@pytest.mark.parametrize("query, body, message", [
    ("", b"this is not audio", "cannot decode"),
    ("", b"", "empty"),
    ("?format=xml", b"x", "format"),
    ("?dry=2", b"x", "dry"),
    ("?lm=/etc/passwd", b"x", "clients cannot name server files"),
])
def test_bad_files_get_one_400(server, query, body, message):
    answer = httpx.post(f"{server.http}/v1/recognize{query}", content=body, timeout=30)
    assert answer.status_code == 400 and message in answer.json()["error"]


@pytest.mark.parametrize("path, send, code, reason", [
    ("/v1/stream", lambda ws: ws.send(b"\x01\x02\x03"), 1007, "whole int16 samples"),
    ("/v1/stream", lambda ws: ws.send("{oops"), 1007, "malformed JSON"),
    ("/v1/stream", lambda ws: ws.send('{"event": "pause"}'), 1003, '{"event": "end"}'),
    ("/v1/stream?sample_rate=96000", lambda ws: None, 1007, "between 8000 and 48000"),
    ("/v1/stream?dry=-1", lambda ws: None, 1007, "dry"),
    ("/v1/stream?lm=../x.lm.npz", lambda ws: None, 1007, "lm must be"),
    ("/recognize", lambda ws: ws.send(b"\x00\x00"), 1003, "JSON text frames"),
    ("/recognize", lambda ws: ws.send("[[[["), 1007, "malformed JSON"),
    ("/recognize", lambda ws: ws.send('{"state": 2, "data": []}'), 1007, '"state" must be 0'),
    ("/recognize", lambda ws: ws.send('{"state": 1, "data": [0.5]}'), 1007, "only integers"),
    ("/recognize", lambda ws: ws.send('{"state": 1, "data": [-40000]}'), 1007, "[-32768, 32767]"),
    ("/recognize", lambda ws: ws.send('{"state": true, "data": []}'), 1007, '"state" must be 0'),
])
def test_bad_frames_close_the_websocket_with_one_reason(server, path, send, code, reason):
    got_code, got_reason = closed_with(server.ws + path, send)
    assert got_code == code and reason in got_reason


def test_a_good_client_is_served_while_a_hostile_one_misbehaves(server, cli_text):
    data, rate = pcm16(CLEAN)
    stop, attacks = threading.Event(), []

    def misbehave():
        while not stop.is_set():
            attacks.append(closed_with(f"{server.ws}/v1/stream", lambda ws: (ws.send(b"\x00" * 3200),
                                                                             ws.send(b"\x00"))))
            with socket.create_connection(("127.0.0.1", server.port)) as raw:  # vanishes mid-stream
                key = "dGhlIHNhbXBsZSBub25jZQ=="
                raw.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
                raw.recv(1024)
            httpx.post(f"{server.http}/recognize", content=b"{", timeout=30)

    attacker = threading.Thread(target=misbehave)
    attacker.start()
    try:
        events, close = stream(server.ws, data, rate, "&dry=1")
    finally:
        stop.set()
        attacker.join(60)
    assert close == 1000 and finals_text(events) == cli_text(CLEAN, dry=1)
    assert attacks and all(code == 1007 for code, _ in attacks)


def test_clients_that_vanish_leave_nothing_behind(server, engine):
    data, _ = pcm16(CLEAN)
    threads = server_threads()
    for _ in range(3):
        ws = connect(f"{server.ws}/v1/stream")
        ws.send(data[:8000].astype("<i2").tobytes())
        ws.socket.close()  # no close frame: the client just goes away
    deadline = time.monotonic() + 20
    while httpx.get(f"{server.http}/healthz").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{server.http}/healthz").json()["streams"] == 0
    assert server_threads() <= threads
    assert sum(t.name.startswith("workbench-inference") for t in threading.enumerate()) <= engine.threads
    events, close = stream(server.ws, data, 16000, "&dry=1")
    assert close == 1000 and finals_text(events)


# -- limits and token -------------------------------------------------------------
def test_token_is_required(strict):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{strict.http}/v1/models").status_code == 401
    assert httpx.get(f"{strict.http}/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{strict.http}/v1/models", headers=auth).status_code == 200
    assert httpx.post(f"{strict.http}/recognize", json={"data": [1]}).json()["error"].startswith("missing or wrong")
    assert closed_with(f"{strict.ws}/v1/stream", lambda ws: None)[0] == 1008
    assert closed_with(f"{strict.ws}/v1/stream?token=wrong", lambda ws: None)[0] == 1008
    _events, close = stream(strict.ws, np.zeros(1600, np.int16), 16000, f"&token={TOKEN}")
    assert close == 1000
    with connect(f"{strict.ws}/v1/stream", additional_headers=auth) as ws:
        ws.send(json.dumps({"event": "end"}))
        assert list(ws) == [] and ws.close_code == 1000
    assert httpx.get(strict.http + "/").status_code == 200  # the page itself holds nothing secret


def test_size_duration_idle_and_stream_limits(strict):
    auth, token = {"Authorization": f"Bearer {TOKEN}"}, f"?token={TOKEN}"
    big = httpx.post(f"{strict.http}/v1/recognize", content=b"x" * 70_000, headers=auth)
    assert big.status_code == 413 and "limit" in big.json()["error"]
    code, _ = closed_with(f"{strict.ws}/v1/stream{token}", lambda ws: ws.send(b"\x00" * 70_000))
    assert code == 1009
    long = np.zeros(16000 * 5, np.int16)
    code, reason = closed_with(f"{strict.ws}/v1/stream{token}",
                               lambda ws: [ws.send(long[i:i + 1600].tobytes()) for i in range(0, len(long), 1600)])
    assert code == 1008 and "4 s limit" in reason
    too_long = httpx.post(f"{strict.http}/recognize", json={"data": [0] * 16000 * 5}, headers=auth)
    assert too_long.status_code == 413
    started = time.monotonic()
    assert closed_with(f"{strict.ws}/v1/stream{token}", lambda ws: None) == (1008, "idle for 1 s")
    assert time.monotonic() - started < 5
    with connect(f"{strict.ws}/v1/stream{token}") as first:  # takes the only slot
        first.send(b"\x00\x00")
        time.sleep(0.2)
        assert closed_with(f"{strict.ws}/recognize{token}", lambda ws: None)[0] == 1013
        busy = httpx.post(f"{strict.http}/recognize", json={"data": [1]}, headers=auth)
        assert busy.status_code == 503 and "busy" in busy.json()["error"]
        first.send(json.dumps({"event": "end"}))
        list(first)
    assert httpx.post(f"{strict.http}/recognize", json={"data": [1] * 1600}, headers=auth).status_code == 200


def test_other_hosts_need_a_token(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to serve 0.0.0.0 without --token" in capsys.readouterr().err
    assert main(["serve", "--ssl-certfile", "cert.pem"]) == 2
    assert "go together" in capsys.readouterr().err


def test_serve_live_none_streams_with_the_model_alone():
    import argparse

    from workbench.serve.cli import add_arguments
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).live is True and parser.parse_args(["--live", "none"]).live is False
    engine = Engine(load_transcriber(paths.DEFAULT_ASR, live=False), None, dry=1.0)
    try:
        assert engine.describe()["live"] is None
    finally:
        engine.close()
