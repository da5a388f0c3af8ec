"""Speed, latency and memory of the denoiser, the transcriber and both, offline vs streaming.

    python benchmarks/pipeline.py [AUDIO] [--denoiser FILE] [--asr FILE] [--long-minutes 30]

Without model files it builds random-weight models of the reference sizes
(timing does not depend on the weights): a dns48 Demucs (hidden 48, 18.9 M
parameters) and a 13 M-parameter Conformer-CTC (d=176, 16 layers, jamo
vocabulary). RTF = processing time / audio time, on ``--threads`` threads.
"""
import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import Denoiser, load_audio, load_transcriber
from workbench.asr.stream import StreamConfig
from workbench.audio import chunks
from workbench.denoise import Demucs, load_denoiser
from workbench.denoise.denoiser import HOP_MS
from workbench.live import LiveStream
from workbench.metrics import cer
from workbench.paths import examples


def rss_mb() -> float:
    """Current resident set size (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def random_models(folder: Path) -> tuple[Denoiser, object]:
    from nemo.collections.asr.models import EncDecCTCModel

    from workbench.asr.config import JAMO_LABELS, conformer_ctc_config

    torch.manual_seed(0)
    denoiser = Denoiser(Demucs.preset("dns48"), name="random dns48")
    path = folder / "conformer.nemo"
    EncDecCTCModel(cfg=conformer_ctc_config(JAMO_LABELS, d_model=176, n_layers=16)).save_to(str(path))
    return denoiser, load_transcriber(path)


def stream_denoiser(denoiser, audio, hop_ms, scale):
    stream = denoiser.stream(dry=0.0, hop_ms=hop_ms, scale=scale)
    steps = []
    for chunk in chunks(audio, 0.016):
        start = time.perf_counter()
        if len(stream.feed(chunk)):
            steps.append(time.perf_counter() - start)
    stream.flush()
    return stream.latency, steps


def stream_transcriber(transcriber, audio, config):
    streamer = transcriber.streamer(config)
    steps = []
    for chunk in chunks(audio, 0.1):
        decoded, start = streamer.decoded_s, time.perf_counter()
        streamer.feed(chunk)
        if streamer.decoded_s > decoded:
            steps.append(time.perf_counter() - start)
    streamer.flush()
    return streamer, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", help="audio file (default: a bundled example, else 10 s of noise)")
    parser.add_argument("--denoiser", help="Demucs .th (default: random dns48)")
    parser.add_argument("--asr", help="NeMo CTC .nemo (default: random 13 M Conformer-CTC)")
    parser.add_argument("--threads", type=int, default=2)
    stream = StreamConfig()
    parser.add_argument("--hop-ms", type=float, default=HOP_MS, help="denoiser streaming hop")
    parser.add_argument("--chunk-s", type=float, default=stream.chunk_s)
    parser.add_argument("--left-s", type=float, default=stream.left_s)
    parser.add_argument("--right-s", type=float, default=stream.right_s)
    parser.add_argument("--long-minutes", type=float, default=30.0, help="length of the looped stream (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        if args.denoiser and args.asr:
            denoiser, transcriber = load_denoiser(args.denoiser), load_transcriber(args.asr)
        else:
            denoiser, transcriber = random_models(Path(folder))
            if args.denoiser:
                denoiser = load_denoiser(args.denoiser)
            if args.asr:
                transcriber = load_transcriber(args.asr)
        bundled = examples()
        source = args.audio or (next(iter(bundled.values())) if bundled else None)
        audio = load_audio(source) if source else np.random.default_rng(0).normal(0, 0.1, 160_000).astype(np.float32)
        seconds = len(audio) / 16000
        print(f"machine: {torch.get_num_threads()} threads, torch {torch.__version__}")
        print(f"audio: {source or 'random noise'} ({seconds:.1f} s)")
        print(f"denoiser: {denoiser.name}, {denoiser.parameters / 1e6:.1f} M parameters")
        print(f"asr: {transcriber.name}, {transcriber.parameters / 1e6:.1f} M parameters")

        denoiser.denoise(audio[:16000])  # warm-up
        transcriber.transcribe(audio[:16000])
        scale = Denoiser.offline_scale(audio)
        _, offline_dn = timed(denoiser.denoise, audio)
        (latency, steps), stream_dn = timed(stream_denoiser, denoiser, audio, args.hop_ms, scale)
        print(f"\ndenoiser  offline RTF {offline_dn / seconds:.3f}   streaming RTF {stream_dn / seconds:.3f} "
              f"(hop {args.hop_ms:.0f} ms)")
        print(f"          latency: algorithmic {latency / 16:.0f} ms (lookahead {(latency - args.hop_ms * 16) / 16:.0f}"
              f" ms + hop), compute per hop mean {np.mean(steps) * 1e3:.0f} ms / max {np.max(steps) * 1e3:.0f} ms")

        config = StreamConfig(args.chunk_s, args.left_s, args.right_s)
        _, offline_asr = timed(transcriber.transcribe, audio)
        (streamer, asr_steps), stream_asr = timed(stream_transcriber, transcriber, audio, config)
        print(f"asr       offline RTF {offline_asr / seconds:.3f}   streaming RTF {stream_asr / seconds:.3f} "
              f"(chunk {args.chunk_s} s, left {args.left_s} s, right {args.right_s} s)")
        print(f"          latency: algorithmic {streamer.latency_s * 1e3:.0f} ms (chunk + right), "
              f"compute per chunk mean {np.mean(asr_steps) * 1e3:.0f} ms / max {np.max(asr_steps) * 1e3:.0f} ms")

        streamed = " ".join(e.text for e in transcriber.stream(chunks(audio, 0.1), config=config) if e.final)
        offline_text = transcriber.transcribe(audio)
        print(f"          streamed finals vs offline greedy: CER {cer(offline_text, streamed):.3f} "
              f"({'identical' if streamed.replace(' ', '') == offline_text.replace(' ', '') else 'differ'})")

        both_stream = LiveStream.for_file(audio, transcriber, denoiser, dry=0.05, hop_ms=args.hop_ms, config=config)
        _, both = timed(lambda: list(both_stream.run(audio)))
        print(f"both      streaming RTF {both / seconds:.3f}, worst-case text lag "
              f"{both_stream.latency_s * 1e3:.0f} ms + compute")
        print(f"peak RSS {peak_rss_mb():.0f} MB")

        if args.long_minutes > 0:
            long_stream(LiveStream(transcriber, denoiser, 0.05, hop_ms=args.hop_ms, config=config), audio,
                        args.long_minutes)


def long_stream(stream: LiveStream, audio: np.ndarray, minutes: float) -> None:
    """Loop ``audio`` for ``minutes`` through the streaming pipeline; print RSS each minute."""
    total = int(minutes * 60 * 16000)
    source = (np.resize(audio, total)[start:start + 1600] for start in range(0, total, 1600))
    marks, next_mark, fed = {}, 0, 0

    def counted():
        nonlocal fed, next_mark
        for chunk in source:
            fed += len(chunk)
            if fed >= next_mark:
                marks[next_mark // (60 * 16000)] = rss_mb()
                next_mark += 60 * 16000
            yield chunk

    start = time.perf_counter()
    events = sum(len(stream.feed(chunk)) for chunk in counted()) + len(stream.finish())
    elapsed = time.perf_counter() - start
    print(f"\n{minutes:.0f}-minute stream: {events} events, RTF {elapsed / (total / 16000):.3f}")
    print("RSS by minute (MB): " + ", ".join(f"{m}:{v:.0f}" for m, v in sorted(marks.items())))
    first, last = marks.get(1, marks[0]), marks[max(marks)]
    print(f"growth from minute 1 to minute {max(marks)}: {last - first:+.1f} MB")


if __name__ == "__main__":
    main()
