"""The workbench's live path at real-time pace: LiveStream (denoiser, then recogniser) on one worker thread.

    python benchmarks/live_pace.py [AUDIO] [--seconds 30] [--chunk-s 0.1] [--quantize]

A feeder thread hands ``--chunk-s`` pieces of the audio (default: the bundled
babble example), looped to ``--seconds``, to a queue at the pace a microphone would; the worker thread
(intra-op threads: its share of the cores beside the kernel, see
:mod:`workbench.threads`) feeds them to a :class:`~workbench.live.LiveStream`
with the bundled models, as the widgets do. Prints the worker's processing
time per chunk (mean, p95, max), how far behind real time the last chunk was
finished, and the worker's CPU time per audio second.
"""
import argparse
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import load_audio, load_denoiser, load_transcriber
from workbench.audio import chunks
from workbench.live import LiveStream
from workbench.paths import DEFAULT_ASR, DEFAULT_DENOISER, examples
from workbench.threads import use_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--chunk-s", type=float, default=0.1)
    parser.add_argument("--quantize", action="store_true")
    args = parser.parse_args()
    audio = np.resize(load_audio(args.audio or examples()["babble"]), int(args.seconds * 16000))
    denoiser = load_denoiser(DEFAULT_DENOISER, quantize=args.quantize)
    transcriber = load_transcriber(DEFAULT_ASR, quantize=args.quantize)
    pieces, handoff, steps, result = list(chunks(audio, args.chunk_s)), queue.Queue(), [], {}

    def work():
        result["threads"] = use_share(2)  # the worker and the kernel's main thread
        stream, cpu = LiveStream(transcriber, denoiser), time.thread_time()
        while (item := handoff.get()) is not None:
            chunk, due = item
            start = time.perf_counter()
            stream.feed(chunk)
            steps.append(time.perf_counter() - start)
            result["behind"] = time.perf_counter() - due
        stream.finish()
        result["cpu"] = time.thread_time() - cpu

    worker = threading.Thread(target=work)
    worker.start()
    begin = time.perf_counter()
    for index, piece in enumerate(pieces):
        due = begin + (index + 1) * args.chunk_s  # the moment a microphone would deliver this piece
        time.sleep(max(0.0, due - time.perf_counter()))
        handoff.put((piece, due))
    handoff.put(None)
    worker.join()
    steps_ms = np.array(steps) * 1e3
    seconds = len(audio) / 16000
    print(f"{seconds:.1f} s of audio in {args.chunk_s * 1e3:.0f} ms pieces, {result['threads']} intra-op thread(s), "
          f"{'int8' if args.quantize else 'float'} bundled models")
    print(f"per chunk: mean {steps_ms.mean():.1f} ms, p95 {np.percentile(steps_ms, 95):.1f} ms, "
          f"max {steps_ms.max():.1f} ms; last chunk done {result['behind'] * 1e3:.0f} ms after it arrived; "
          f"worker CPU {result['cpu'] / seconds:.3f} s per audio second")


if __name__ == "__main__":
    main()
