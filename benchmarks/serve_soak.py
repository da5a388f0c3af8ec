"""Churn on loopback for a while: honest clients that come and go beside hostile ones.

    python benchmarks/serve_soak.py [--minutes 20] [--max-streams 4] [--server-log FILE]

Starts ``python -m workbench serve`` (bundled models) on a free port, then for
``--minutes``:

* ``max-streams - 1`` honest clients at once: each streams one of the 16 kHz
  examples through ``/v1/stream`` at real-time pace in 100 ms frames; one stream
  in four is aborted at a random point (the socket just closes), the others
  send ``{"event": "end"}`` and read their finals; then it reconnects.
* one hostile client, one act at a time: an upload to ``/v1/recognize``, a slow
  body (headers and four bytes of a 100 kB body, expecting 408), a frame of odd
  length, malformed JSON, a text event other than "end", a frame over the
  message limit, a stream of empty frames (expecting the idle close).

Each minute it prints p50/p95 final latency (from sending the 100 ms frame that
completes a final's audio to receiving the final), the server's RSS, honest
streams completed and aborted, and refusals. At the end: refusals by reason and
every completed honest stream that lost a final (closed other than 1000, or
fewer finals than the first complete run of the same clip). It stops by itself.
"""
import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Server

from workbench.paths import examples

CHUNK_S = 0.1


def clips() -> dict[str, np.ndarray]:
    return {name: soundfile.read(path, dtype="int16")[0] for name, path in examples().items()
            if soundfile.info(path).samplerate == 16000}


class Tally:
    """What the clients saw, per minute and in all."""

    def __init__(self, started: float):
        self.started = started
        self.latencies = collections.defaultdict(list)  # minute -> seconds
        self.completed = collections.Counter()           # minute -> honest streams that ended with finals
        self.aborted = collections.Counter()
        self.refused = collections.Counter()              # minute -> refusals of honest clients
        self.reasons = collections.Counter()              # (who, what, answer) -> count
        self.reference: dict[str, int] = {}               # clip -> number of finals of its first complete run
        self.lost: list[str] = []

    def minute(self) -> int:
        return int((time.monotonic() - self.started) // 60)


async def honest(url: str, name: str, audio: np.ndarray, tally: Tally, abort_at: float | None) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    step = int(16000 * CHUNK_S)
    sent, finals = [], []
    try:
        async with connect(f"{url}/v1/stream?sample_rate=16000", max_size=None) as ws:
            async def receive():
                async for message in ws:
                    event = json.loads(message)
                    if event["final"]:
                        finals.append((time.monotonic(), event))

            receiver = asyncio.create_task(receive())
            started = time.monotonic()
            for index, start in enumerate(range(0, len(audio), step)):
                await asyncio.sleep(max(0.0, started + (index + 1) * CHUNK_S - time.monotonic()))
                if abort_at is not None and start >= abort_at * len(audio):
                    ws.transport.abort()  # vanish: no close frame
                    tally.aborted[tally.minute()] += 1
                    receiver.cancel()
                    return
                await ws.send(audio[start:start + step].tobytes())
                sent.append((time.monotonic(), min(len(audio), start + step) / 16000))
            await ws.send(json.dumps({"event": "end"}))
            await receiver
        code, reason = ws.close_code, ws.close_reason
    except ConnectionClosed as closed:
        code, reason = closed.rcvd.code if closed.rcvd else 1006, closed.rcvd.reason if closed.rcvd else ""
    if code == 1013:
        tally.refused[tally.minute()] += 1
        tally.reasons["honest", "stream", f"1013 {reason}"] += 1
        return
    minute = tally.minute()
    tally.completed[minute] += 1
    expected = tally.reference.setdefault(name, len(finals)) if code == 1000 else None
    if code != 1000 or len(finals) < expected:
        tally.lost.append(f"minute {minute}: {name} closed {code} {reason!r}, {len(finals)} finals "
                          f"(first run: {expected})")
    for arrival, event in finals:
        sent_at = next((t for t, end in sent if end >= event["end_s"]), None)
        if event["text"] and sent_at is not None:
            tally.latencies[minute].append(arrival - sent_at)


async def honest_client(url: str, audio: dict, tally: Tally, until: float, seed: int) -> None:
    rng = random.Random(seed)
    names = sorted(audio)
    while time.monotonic() < until:
        name = rng.choice(names)
        abort_at = rng.uniform(0.1, 0.9) if rng.random() < 0.25 else None
        await honest(url, name, audio[name], tally, abort_at)


async def closed_after(url: str, frames) -> str:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    try:
        async with connect(url, max_size=None) as ws:
            for frame in frames:
                await ws.send(frame)
                if frame == b"":
                    await asyncio.sleep(0.5)
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    return f"{ws.close_code} {ws.close_reason}"


async def slow_body(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nRIFF")
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), 60)
    finally:
        writer.close()
    return line.decode(errors="replace").strip() or "no answer"


async def hostile_client(server: Server, upload: bytes, tally: Tally, until: float, seed: int) -> None:
    import httpx

    rng, url, http = random.Random(seed), server.url, f"http://127.0.0.1:{server.port}"
    too_big = b"\x00" * (16 * 1024 * 1024 + 2)
    acts = {
        "upload": None, "slow body": None,
        "odd frame": [b"\x00" * 3201],
        "malformed JSON": ["{oops"],
        "wrong event": ['{"event": "pause"}'],
        "frame over the limit": [too_big],
        "empty frames": [b"\x00\x00" * 160] + [b""] * 80,
    }
    async with httpx.AsyncClient(timeout=120) as client:
        while time.monotonic() < until:
            act = rng.choice(sorted(acts))
            if act == "upload":
                answer = await client.post(f"{http}/v1/recognize", content=upload)
                outcome = str(answer.status_code) + ("" if answer.status_code == 200 else f" {answer.text[:60]}")
            elif act == "slow body":
                outcome = await slow_body(server.port)
            else:
                outcome = await closed_after(f"{url}/v1/stream", acts[act])
            tally.reasons["hostile", act, outcome] += 1
            await asyncio.sleep(rng.uniform(0.5, 2.0))


async def soak(server: Server, minutes: float, honest_count: int) -> Tally:
    audio = clips()
    upload = (Path(examples()["clean"])).read_bytes()
    started = time.monotonic()
    until = started + minutes * 60
    tally = Tally(started)
    rss = {}

    async def watch():
        minute = 0
        while True:
            await asyncio.sleep(max(0.0, started + (minute + 1) * 60 - time.monotonic()))
            rss[minute] = server.rss_mb()
            report(tally, minute, rss[minute])
            minute += 1

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(honest_client(server.url, audio, tally, until, seed) for seed in range(honest_count)),
                         hostile_client(server, upload, tally, until, 99))
    watcher.cancel()
    if tally.minute() not in rss:  # the last, partial minute
        report(tally, tally.minute(), server.rss_mb())
    return tally


def report(tally: Tally, minute: int, rss: float) -> None:
    latencies = tally.latencies.get(minute, [])
    p50, p95 = (f"{np.percentile(latencies, q):.2f} s" for q in (50, 95)) if latencies else ("-", "-")
    print(f"| {minute + 1} | {len(latencies)} | {p50} | {p95} | {rss:.0f} MB | {tally.completed[minute]} | "
          f"{tally.aborted[minute]} | {tally.refused[minute]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--max-streams", type=int, default=4)
    parser.add_argument("--server-log", help="the server's log (default: discarded)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(args.server_log, "wb")) if args.server_log else subprocess.DEVNULL
        run(args, Server(args.max_streams, log=log))


def run(args, server: Server) -> None:
    asyncio.run(honest(server.url, "clean", clips()["clean"], Tally(time.monotonic()), None))  # warm-up
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"{args.max_streams - 1} honest clients at real-time pace and one hostile client, "
          f"{args.minutes:g} min; server RSS after one warm-up stream {server.rss_mb():.0f} MB", flush=True)
    print("| minute | finals | latency p50 | latency p95 | server RSS | honest streams completed | aborted | "
          "refused |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        tally = asyncio.run(soak(server, args.minutes, args.max_streams - 1))
        time.sleep(3)
        print(f"server RSS 3 s after the last client: {server.rss_mb():.0f} MB; "
              f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()
    print("\n| client | act | answer | count |\n|---|---|---|---|")
    for (who, act, answer), count in sorted(tally.reasons.items()):
        print(f"| {who} | {act} | {answer[:80]} | {count} |")
    print(f"\nhonest streams that lost a final: {len(tally.lost)}")
    for line in tally.lost:
        print(f"- {line}")


if __name__ == "__main__":
    main()
