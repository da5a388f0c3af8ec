"""``python -m workbench serve`` as a subprocess: its own memory after hostile streams, and its log.

An in-process test server shares the test's memory, so resident memory is
measured here on a server of its own, as an operator runs it.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
BAD_MP3 = b"\xff\xfb\x90\x00" + bytes(range(256)) * 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server command listening on ``port``, its output in ``log``; :meth:`wait` until it answers."""

    def __init__(self, command: list[str], port: int, log: Path, env: dict | None = None, root: Path = ROOT):
        self.port, self.log = port, log
        self.http, self.ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        environ = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root), **(env or {})}
        environ.pop("MALLOC_ARENA_MAX", None)  # the service sets its own malloc settings
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=root, env=environ, stdout=out, stderr=subprocess.STDOUT)

    def wait(self) -> None:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{self.http}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                assert time.monotonic() < deadline and self.process.poll() is None, self.log.read_text()[-2000:]
                time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Served(ServerProcess):
    """``python -m workbench serve`` on a free port, answering."""

    def __init__(self, log: Path, *args: str, root: Path = ROOT):
        port = free_port()
        super().__init__([sys.executable, "-m", "workbench", "serve", "--port", str(port), *args], port, log, root=root)
        self.wait()

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def settled_rss_mb(self) -> float:
        """RSS once no stream runs and a second has passed."""
        deadline = time.monotonic() + 120
        while httpx.get(f"{self.http}/healthz").json()["streams"] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        return self.rss_mb()

def speech() -> np.ndarray:
    import soundfile

    data, _ = soundfile.read(ROOT / "audio_example" / "clean.wav", dtype="int16")
    return data


def served_stream(url: str, data: np.ndarray, query: str = "") -> int:
    with connect(f"{url}/v1/stream{query}") as ws:
        for start in range(0, len(data), 1600):
            ws.send(data[start:start + 1600].tobytes())
        ws.send(json.dumps({"event": "end"}))
        list(ws)
    return ws.close_code


def aborted_streams(url: str, count: int, data: np.ndarray) -> None:
    """``count`` streams, two at a time, that send a second of audio and vanish without a close frame."""
    def one():
        ws = connect(f"{url}/v1/stream")
        for start in range(0, 16000, 1600):
            ws.send(data[start:start + 1600].tobytes())
        ws.socket.close()

    for _ in range(count // 2):
        pair = [threading.Thread(target=one) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()


def big_frames(url: str, count: int, size: int) -> None:
    """``count`` frames of ``size`` bytes of noise, sent as fast as the server takes them; a stream
    the server closes is replaced by a new one, the last one vanishes."""
    frame = np.random.default_rng(0).integers(-3000, 3000, size // 2, dtype=np.int16).tobytes()
    sent = 0
    while sent < count:
        with contextlib.suppress(ConnectionClosed, OSError):
            ws = connect(f"{url}/v1/stream", max_size=None)
            while sent < count:
                sent += 1
                ws.send(frame)
        ws.socket.close()


def hostile_rss(served: Served, aborted: int = 150, frames: int = 36) -> dict:
    """Settled RSS (MB) after a warm-up, after ``aborted`` streams, and after ``frames`` 16 MiB frames."""
    data = speech()
    assert served_stream(served.ws, data) == served_stream(served.ws, data, "?dry=1") == 1000  # warm
    rss = {"baseline": served.settled_rss_mb()}
    aborted_streams(served.ws, aborted, data)
    rss["aborted"] = served.settled_rss_mb()
    big_frames(served.ws, frames, 16 * MIB)
    rss["big frames"] = served.settled_rss_mb()
    assert served_stream(served.ws, data) == 1000
    rss["after"] = served.settled_rss_mb()
    return rss


def test_memory_comes_back_after_hostile_streams_and_the_log_survives_concurrent_decodes(tmp_path):
    served = Served(tmp_path / "serve.log", "--max-streams", "2", "--max-stream-s", "60")
    try:
        rss = hostile_rss(served, aborted=40, frames=12)
        print(rss)
        assert max(rss.values()) - rss["baseline"] < 100, rss

        def upload():
            for _ in range(5):
                httpx.post(f"{served.http}/v1/recognize", content=BAD_MP3, timeout=30)

        uploads = [threading.Thread(target=upload) for _ in range(2)]
        for thread in uploads:
            thread.start()
        for thread in uploads:
            thread.join()
        httpx.get(f"{served.http}/v1/models?after-the-decodes")
        time.sleep(0.5)
        log = served.log.read_text()
        assert log.count("POST /v1/recognize 400") == 10 and "GET /v1/models 200" in log, log[-2000:]
    finally:
        served.stop()
