"""Many clients at once through ``/v1/stream``: latency, completeness, server CPU and memory.

    python benchmarks/serve_load.py [--clients 1,2,4,8,16] [--seconds 24] [--batching]

Starts ``python -m workbench serve`` (bundled models, one inference thread per core) on
a free port. For each N, N clients replay the bundled examples (16 kHz ones,
rotated per client, looped to ``--seconds``) at real-time pace in 100 ms
binary frames, then send ``{"event": "end"}``; their starts are spread over
one second (one ASR chunk), as independent callers' are. Reported per N:

* latency: for every chunk whose audio end lies inside a final segment, the
  time from sending that chunk (its audio end, at real-time pace) to the first
  event whose ``end_s`` reaches it (within one 40 ms output frame); p50, p95;
* finals: all streams closed 1000 after their finals; how many streams' final
  texts equal those of the first run of the same audio (at a lower N), and the
  mean CER between them (a stream that falls behind is fed larger chunks, and
  the denoiser's running normaliser then sees other chunk boundaries);
* server CPU (% of one core over the run) and RSS before, at its peak during,
  and 3 s after the clients left.

``--batching`` instead times (CPU time of one thread, so other processes do
not count) what batching the encoder calls of N streams would save: N
buffered-streaming encoder passes (chunk + contexts) one by one against one
batch of them, and the denoiser's cost per stream beside them.
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from workbench.metrics import cer
from workbench.paths import examples

CHUNK_S = 0.1
FRAME_S = 0.04
STAGGER_S = 1.0  # independent callers: N clients start spread over one ASR chunk, not on the same sample


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_audio(index: int, seconds: float) -> np.ndarray:
    """The 16 kHz examples, starting at a different one per client, looped to ``seconds``."""
    clips = [soundfile.read(path, dtype="int16")[0] for path in examples().values()
             if soundfile.info(path).samplerate == 16000]
    order = clips[index % len(clips):] + clips[:index % len(clips)]
    audio = np.concatenate(order)
    return np.tile(audio, int(np.ceil(seconds * 16000 / len(audio))))[:int(seconds * 16000)]


async def one_client(url: str, audio: np.ndarray, delay_s: float) -> dict:
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay_s)
    step = int(16000 * CHUNK_S)
    sent, events = [], []
    async with connect(f"{url}/v1/stream?sample_rate=16000", max_size=None) as ws:
        async def receive():
            async for message in ws:
                events.append((time.monotonic(), json.loads(message)))

        receiver = asyncio.create_task(receive())
        started = time.monotonic()
        for index, start in enumerate(range(0, len(audio), step)):
            await asyncio.sleep(max(0.0, started + (index + 1) * CHUNK_S - time.monotonic()))
            await ws.send(audio[start:start + step].tobytes())
            sent.append((time.monotonic(), min(len(audio), start + step) / 16000))
        await ws.send(json.dumps({"event": "end"}))
        await receiver
        code = ws.close_code
    finals = [event for _, event in events if event["final"]]
    latencies = []
    for sent_at, audio_end in sent:
        if not any(f["start_s"] <= audio_end <= f["end_s"] for f in finals):
            continue  # silence: no event covers it
        arrival = next((t for t, e in events if e["end_s"] + FRAME_S >= audio_end and t >= sent_at), None)
        if arrival is not None:
            latencies.append(arrival - sent_at)
    return {"code": code, "finals": [f["text"] for f in finals], "latencies": latencies}


class Server:
    """``python -m workbench serve`` on a free port; ``options`` are more of its arguments, ``log`` gets its stderr."""

    def __init__(self, max_streams: int, *options: str, log=subprocess.DEVNULL):
        self.port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--port", str(self.port),
                                         "--max-streams", str(max_streams), *options], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=log)
        self.ps = psutil.Process(self.process.pid)
        import httpx

        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.5)
        self.url = f"ws://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def run_load(server: Server, count: int, seconds: float) -> tuple[list[dict], float, float]:
    peak = server.rss_mb()

    async def watch():
        nonlocal peak
        while True:
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    cpu, started = server.cpu_s(), time.monotonic()
    results = await asyncio.gather(*(one_client(server.url, client_audio(i, seconds), i * STAGGER_S / count)
                                     for i in range(count)))
    wall = time.monotonic() - started
    watcher.cancel()
    return results, (server.cpu_s() - cpu) / wall, peak


def load_table(counts: list[int], seconds: float) -> None:
    server = Server(max(counts))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"{seconds:g} s of audio per client in {CHUNK_S * 1000:.0f} ms frames, starts spread over "
          f"{STAGGER_S:g} s", flush=True)
    print("| clients | latency p50 | latency p95 | all finals, closed 1000 (texts as in the first run) | server CPU | "
          "RSS before / peak / after |")
    print("|---|---|---|---|---|---|")
    asyncio.run(run_load(server, 1, 3.0))  # warm-up
    reference = {}
    try:
        for count in counts:
            before = server.rss_mb()
            results, cpu, peak = asyncio.run(run_load(server, count, seconds))
            time.sleep(3)
            after = server.rss_mb()
            latencies = np.concatenate([r["latencies"] for r in results])
            for index, result in enumerate(results):
                reference.setdefault(index % 4, result["finals"])
            same = sum(r["finals"] == reference[i % 4] for i, r in enumerate(results))
            drift = np.mean([cer(" ".join(reference[i % 4]), " ".join(r["finals"])) for i, r in enumerate(results)])
            closed = all(r["code"] == 1000 for r in results)
            print(f"| {count} | {np.percentile(latencies, 50):.2f} s | {np.percentile(latencies, 95):.2f} s | "
                  f"{'yes' if closed else 'NO'} ({same}/{count} same, CER {drift:.3f}) | {100 * cpu:.0f} % | "
                  f"{before:.0f} / {peak:.0f} / {after:.0f} MB |", flush=True)
    finally:
        server.stop()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def batching(counts: list[int]) -> None:
    """Encoder passes one by one vs one batch, and the denoiser's cost per stream, one thread."""
    import torch

    from workbench import load_denoiser, load_transcriber
    from workbench.audio import chunks
    from workbench.denoise.denoiser import HOP_MS
    from workbench.paths import DEFAULT_ASR, DEFAULT_DENOISER

    torch.set_num_threads(1)
    transcriber, denoiser = load_transcriber(DEFAULT_ASR), load_denoiser(DEFAULT_DENOISER)
    model = transcriber.model
    window = client_audio(0, 3.5)[None].astype(np.float32) / 32768  # left 2 s + chunk 1 s + right 0.5 s

    @torch.no_grad()
    def forward(batch: np.ndarray) -> None:
        signal = torch.from_numpy(batch)
        length = torch.full((len(batch),), batch.shape[1])
        features, feature_length = model.preprocessor(input_signal=signal, length=length)
        encoded, _ = model.encoder(audio_signal=features, length=feature_length)
        model.decoder(encoder_output=encoded)

    def best_of(function, repeats: int = 5) -> float:
        """CPU seconds of this thread (torch runs on it with one thread): other processes do not count."""
        times = []
        for _ in range(repeats):
            started = time.thread_time()
            function()
            times.append(time.thread_time() - started)
        return min(times)

    audio = client_audio(0, 10.0).astype(np.float32) / 32768

    def denoise_stream() -> None:
        stream = denoiser.stream(0.0, HOP_MS)
        for piece in chunks(audio, CHUNK_S):
            stream.feed(piece)

    denoiser_per_s = best_of(denoise_stream, 2) / 10.0
    print(f"CPU time, one thread. Denoiser ({HOP_MS:.0f} ms hop, 100 ms frames): {1000 * denoiser_per_s:.1f} ms "
          "per stream per audio second")
    print("| streams | ASR window passes one by one | one batch | saved | share of all work saved |")
    print("|---|---|---|---|---|")
    forward(window)
    for count in counts:
        batch = np.repeat(window, count, axis=0)
        single = best_of(lambda count=count: [forward(window) for _ in range(count)])
        batched = best_of(lambda batch=batch: forward(batch))
        total = single + count * denoiser_per_s  # per second of audio: one ASR window + 1 s of denoising
        print(f"| {count} | {1000 * single:.0f} ms | {1000 * batched:.0f} ms | {100 * (1 - batched / single):.0f} % | "
              f"{100 * (single - batched) / total:.0f} % |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=24.0, help="audio per client")
    parser.add_argument("--batching", action="store_true", help="time encoder batching instead")
    args = parser.parse_args()
    counts = [int(n) for n in args.clients.split(",")]
    if args.batching:
        batching(counts)
    else:
        load_table(counts, args.seconds)


if __name__ == "__main__":
    main()
