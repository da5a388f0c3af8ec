"""Many clients at once through ``/v1/stream``: text lag, capacity, completeness, server CPU and memory.

    python benchmarks/serve_load.py [--live auto,none] [--dry default,1] [--clients 1,2,4,8]
    python benchmarks/serve_load.py --capacity [--ladder 1,2,4,6,8,12,16,24,32] [--target-s 2]
    python benchmarks/serve_load.py --batching [--clients 1,2,4,8,16]

For each ``--live`` value (``auto``: the live mode, the bundled ``checkpoint/asr.nemo`` with
``asr_streaming.nemo`` beside it; ``none``: the old buffered stream) it starts ``python -m
workbench serve --live VALUE`` (bundled models, one inference thread per core) on a free port,
and for each ``--dry`` (``default``: the server's own, else ``?dry=``) runs N clients at once, N
from ``--clients``, or with ``--capacity`` the largest N whose text lag p95 is at most
``--target-s`` (N rising along ``--ladder`` until it fails, then bisected), with no stream refused
or dropped; a number that fails is run again up to ``--tries`` times before it counts as failed.

Audio: the held-out natural sentences read by espeak-ng's held-out voices, grouped into streams
of ``--per-session`` utterances 0.6 s apart with 1.5 s of quiet at the end over a faint noise
floor, as ``benchmarks/latency.py`` builds them (client ``i`` streams stream ``i`` mod their
number). Each client sends 100 ms binary PCM16 frames at real-time pace (frame ``k`` when its
audio has been spoken, ``(k + 1) 0.1`` s after the client's start), then ``{"event": "end"}``;
the clients' starts are spread over one second, as independent callers' are. Every event a
client receives is timed on that client's own clock from its start, which is the audio's clock:
a word that ends at 3.2 s of audio has been spoken 3.2 s after the start. Reported per N:

* lag p50, p95 (:func:`workbench.latency.measure`): per utterance, from the end of its speech to
  the first time the shown text (finals + partial) equals its final; emit p95: per word of the
  finals (their word times), first shown minus its end; revisions per minute of audio;
* words p95: per reference word (forced alignment, as ``benchmarks/latency.py``), first shown in
  the running transcript minus the end of its audio;
* finals / utterances, and the CER of the streamed finals against the references;
* chunk latency p50 / p95 (this script's earlier measure): for every frame whose audio end lies
  inside a final segment, from sending it to the first event whose ``end_s`` reaches it (within
  one 40 ms output frame);
* streams closed 1000 (the others' close codes: 1013 refused, ...), and how many streams' final
  texts equal those of the first run of the same audio (at a lower N);
* server CPU (% of one core over the run, and CPU seconds per second of audio per stream) and
  RSS before, at its peak during, and 3 s after the clients left;
* the machine's 1-minute load average before and after.

``--batching`` instead times (CPU time of one thread, so other processes do not count) what
batching the encoder calls of N streams would save: N buffered-streaming encoder passes (chunk +
contexts) one by one against one batch of them, and the denoiser's cost per stream beside them.
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from latency import Session, first_shown, sessions, synthesize

from workbench.asr import TranscriptEvent
from workbench.asr.words import Word
from workbench.audio import SAMPLE_RATE
from workbench.denoise.denoiser import DEFAULT_DRY
from workbench.latency import Latency, measure
from workbench.metrics import corpus_cer
from workbench.paths import examples

CHUNK_S = 0.1
FRAME_S = 0.04
STAGGER_S = 1.0  # independent callers: N clients start spread over one second, not on the same sample
LADDER = "1,2,4,6,8,12,16,24,32"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_audio(index: int, seconds: float) -> np.ndarray:
    """The 16 kHz examples, starting at a different one per client, looped to ``seconds`` (int16)."""
    clips = [soundfile.read(path, dtype="int16")[0] for path in examples().values()
             if soundfile.info(path).samplerate == 16000]
    order = clips[index % len(clips):] + clips[:index % len(clips)]
    audio = np.concatenate(order)
    return np.tile(audio, int(np.ceil(seconds * 16000 / len(audio))))[:int(seconds * 16000)]


def pcm16(audio: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] -> int16, as a microphone client sends it."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")


def transcript_event(message: dict) -> TranscriptEvent:
    """A ``/v1/stream`` JSON event as the :class:`TranscriptEvent` it was sent from."""
    words = tuple(Word(w["text"], w["start_s"], w["end_s"]) for w in message.get("words", ()))
    return TranscriptEvent(message["text"], message["final"], message["start_s"], message["end_s"], words)


async def one_client(url: str, audio: np.ndarray, delay_s: float, query: str) -> dict:
    """Stream int16 ``audio`` at real-time pace; ``events`` are ``(seconds since the start, JSON)``,
    ``sent`` ``(seconds since the start, audio end)`` per frame; ``code`` the close code (or why none)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    await asyncio.sleep(delay_s)
    step = round(SAMPLE_RATE * CHUNK_S)
    sent, events = [], []
    try:
        async with connect(f"{url}/v1/stream?sample_rate={SAMPLE_RATE}{query}", max_size=None,
                           open_timeout=60) as ws:
            started = time.monotonic()

            async def receive():
                async for message in ws:
                    events.append((time.monotonic() - started, json.loads(message)))

            receiver = asyncio.create_task(receive())
            try:
                for index, start in enumerate(range(0, len(audio), step)):
                    await asyncio.sleep(max(0.0, started + (index + 1) * CHUNK_S - time.monotonic()))
                    await ws.send(audio[start:start + step].tobytes())
                    sent.append((time.monotonic() - started, min(len(audio), start + step) / SAMPLE_RATE))
                await ws.send(json.dumps({"event": "end"}))
            except ConnectionClosed:
                pass  # the server closed the stream: its code says why
            await receiver
            code = ws.close_code
    except InvalidStatus as refused:
        code = f"HTTP {refused.response.status_code}"
    except (OSError, TimeoutError) as error:
        code = type(error).__name__
    return {"code": code, "events": events, "sent": sent}


def chunk_latencies(result: dict) -> list[float]:
    """Per frame whose audio end lies inside a final: from sending it to the first event reaching it."""
    finals = [event for _, event in result["events"] if event["final"]]
    latencies = []
    for sent_at, audio_end in result["sent"]:
        if not any(f["start_s"] <= audio_end <= f["end_s"] for f in finals):
            continue  # silence: no event covers it
        arrival = next((t for t, e in result["events"] if e["end_s"] + FRAME_S >= audio_end and t >= sent_at), None)
        if arrival is not None:
            latencies.append(arrival - sent_at)
    return latencies


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

    def models(self) -> dict:
        """``GET /v1/models``: what the server runs."""
        import httpx

        return httpx.get(f"http://127.0.0.1:{self.port}/v1/models", timeout=10).json()

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


async def run_load(server: Server, audios: list[np.ndarray], query: str = "") -> tuple[list[dict], float, float]:
    """Every int16 audio in ``audios`` as one client at once: their results, the server's CPU
    seconds meanwhile and its peak RSS."""
    peak = server.rss_mb()

    async def watch():
        nonlocal peak
        while True:
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    cpu = server.cpu_s()
    results = await asyncio.gather(*(one_client(server.url, audio, i * STAGGER_S / len(audios), query)
                                     for i, audio in enumerate(audios)))
    watcher.cancel()
    return results, server.cpu_s() - cpu, peak


@dataclass
class Level:
    """What N clients at once saw: the row of the table, and whether it meets the target."""

    count: int
    latency: Latency
    words: list[float]
    finals: int
    utterances: int
    cer: float
    chunk: list[float]
    codes: list
    same: int
    cpu_per_core: float
    cpu_per_audio_s: float
    rss: tuple[float, float, float]
    load: tuple[float, float]

    def passes(self, target_s: float) -> bool:
        """Lag p95 within ``target_s``, and every stream closed 1000 (none refused or dropped: a stream
        closed 1000 after its end event got all its finals)."""
        return bool(self.latency.summary()["lag_p95_s"] <= target_s) and all(code == 1000 for code in self.codes)

    def row(self) -> str:
        summary = self.latency.summary()
        words = np.percentile(self.words, 95) if self.words else np.nan
        chunk = np.percentile(self.chunk, [50, 95]) if self.chunk else [np.nan] * 2
        closed = sum(code == 1000 for code in self.codes)
        others = ", ".join(str(code) for code in self.codes if code != 1000)
        return (f"| {self.count} | {summary['lag_p50_s']:.2f} | {summary['lag_p95_s']:.2f} | {words:.2f} | "
                f"{summary['emit_p95_s']:.2f} | {summary['revisions_per_min']:.1f} | {self.finals} / {self.utterances} | "
                f"{100 * self.cer:.1f} % | {chunk[0]:.2f} / {chunk[1]:.2f} | "
                f"{closed}/{self.count}{f' (others: {others})' if others else ''}, {self.same} same | "
                f"{100 * self.cpu_per_core:.0f} % | {self.cpu_per_audio_s:.3f} | "
                f"{self.rss[0]:.0f} / {self.rss[1]:.0f} / {self.rss[2]:.0f} MB | {self.load[0]:.1f} / {self.load[1]:.1f} |")


HEADER = ("| clients | lag p50 s | lag p95 s | words p95 s | emit p95 s | revisions/min | finals / utterances | "
          "CER | chunk latency p50 / p95 s | closed 1000, texts as first run | server CPU | CPU s per audio s "
          "per stream | RSS before / peak / after | load before / after |\n|" + "---|" * 14)


def run_level(server: Server, streams: list[Session], count: int, query: str, first_finals: dict) -> Level:
    """``count`` clients at once, client ``i`` streaming ``streams[i % len(streams)]``. ``first_finals``
    (stream index -> final texts of its first run) is filled and compared with."""
    chosen = [streams[i % len(streams)] for i in range(count)]
    load_before, before = os.getloadavg()[0], server.rss_mb()
    started = time.monotonic()
    results, cpu_s, peak = asyncio.run(run_load(server, [pcm16(s.audio) for s in chosen], query))
    wall = time.monotonic() - started
    time.sleep(3)
    latency, words, hypotheses, finals, same = Latency(), [], [], 0, 0
    for index, (session, result) in enumerate(zip(chosen, results)):
        timed = [(at, transcript_event(message)) for at, message in result["events"]]
        latency += measure(timed, len(session.audio) / SAMPLE_RATE)
        shown, final_text = first_shown(timed, session.text.split())
        words += [at - end for at, end in zip(shown, session.ends) if at is not None]
        texts = [event.text for _, event in timed if event.final and event.text]
        finals += len(texts)
        hypotheses.append(final_text)
        same += first_finals.setdefault(index % len(streams), texts) == texts
    audio_s = sum(len(s.audio) for s in chosen) / SAMPLE_RATE
    return Level(count, latency, words, finals, sum(len(s.texts) for s in chosen),
                 corpus_cer([s.text for s in chosen], hypotheses), [t for r in results for t in chunk_latencies(r)],
                 [r["code"] for r in results], same, cpu_s / wall, cpu_s / audio_s,
                 (before, peak, server.rss_mb()), (load_before, os.getloadavg()[0]))


def largest_passing(passes, ladder: list[int]) -> tuple[int, int | None]:
    """The largest N with ``passes(N)``, assuming that fewer streams never fail where more pass:
    N rises along ``ladder`` until the first failure, then is bisected between the last N that
    passed (0 if none) and that failure. Returns (that N, the smallest N seen to fail, or None)."""
    good, bad = 0, None
    for count in ladder:
        if not passes(count):
            bad = count
            break
        good = count
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if passes(middle) else (good, middle)
    return good, bad


def held_out_streams(utterances: int, per_session: int) -> list[Session]:
    """``benchmarks/latency.py``'s held-out streams (word ends aligned by the bundled full-context model)."""
    import torch

    from workbench import load_transcriber
    from workbench.paths import DEFAULT_ASR

    torch.set_num_threads(1)
    full = load_transcriber(DEFAULT_ASR, live=False)
    return sessions(full, synthesize(utterances), per_session, gap_s=0.6, tail_s=1.5, floor=1e-3)


def one_setting(server: Server, streams: list[Session], query: str, counts: list[int], args) -> str | None:
    """A row per number of clients tried; with ``--capacity`` the search's answer."""
    first_finals = {}

    def passes(count: int) -> bool:
        """Up to ``--tries`` runs of ``count`` clients; it passes if one does (other work on the
        machine only ever adds lag)."""
        for _ in range(args.tries):
            level = run_level(server, streams, count, query, first_finals)
            print(level.row(), flush=True)
            if level.passes(args.target_s):
                return True
        return False

    if not args.capacity:
        for count in counts:
            passes(count)
        return None
    good, bad = largest_passing(passes, counts)
    return (f"largest N at lag p95 <= {args.target_s:g} s: {good}"
            + (f" ({bad} failed)" if bad is not None else f" (or more: {counts[-1]} passed)"))


def load_tables(args) -> None:
    streams = held_out_streams(args.utterances, args.per_session)
    counts = [int(n) for n in (args.ladder if args.capacity else args.clients).split(",")]
    seconds = sum(len(s.audio) for s in streams) / SAMPLE_RATE
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"at the start; {len(streams)} held-out streams of {args.per_session} utterances ({seconds:.0f} s, "
          f"{sum(len(s.ends) for s in streams)} words), {CHUNK_S * 1000:.0f} ms frames at real-time pace, "
          f"starts spread over {STAGGER_S:g} s", flush=True)
    summaries = []
    for live in args.live.split(","):
        server = Server(max(counts), "--live", live)
        try:
            models = server.models()
            print(f"\n## --live {live}: the server's /v1/models: {json.dumps(models, ensure_ascii=False)}", flush=True)
            asyncio.run(run_load(server, [pcm16(streams[0].audio[:round(6 * SAMPLE_RATE)])]))  # warm-up
            for dry in args.dry.split(","):
                setting = f"--live {live}, dry {DEFAULT_DRY if dry == 'default' else dry}"
                print(f"\n### {setting}\n\n{HEADER}", flush=True)
                found = one_setting(server, streams, "" if dry == "default" else f"&dry={dry}", counts, args)
                if found is not None:
                    summaries.append(f"{setting}: {found}")
                    print(summaries[-1], flush=True)
        finally:
            server.stop()
    print("", *summaries, sep="\n")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


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
    parser.add_argument("--live", default="auto,none", help="the server's --live values, one server each")
    parser.add_argument("--dry", default="default", help="dry values asked of the server (?dry=); "
                                                         "default: the server's own")
    parser.add_argument("--clients", default="1,2,4,8", help="numbers of clients at once (with --batching: streams)")
    parser.add_argument("--capacity", action="store_true",
                        help="search the largest number of clients at lag p95 <= --target-s instead")
    parser.add_argument("--ladder", default=LADDER, help="rising numbers of clients tried before bisecting")
    parser.add_argument("--target-s", type=float, default=2.0, help="lag p95 the capacity search allows")
    parser.add_argument("--tries", type=int, default=1, help="runs of a number of clients before it counts as "
                                                             "failed (a shared machine's load comes and goes)")
    parser.add_argument("--utterances", type=int, default=30, help="held-out sentences (streams of --per-session)")
    parser.add_argument("--per-session", type=int, default=5, help="utterances per stream")
    parser.add_argument("--batching", action="store_true", help="time encoder batching instead")
    args = parser.parse_args()
    if args.batching:
        batching([int(n) for n in args.clients.split(",")])
    else:
        load_tables(args)


if __name__ == "__main__":
    main()
