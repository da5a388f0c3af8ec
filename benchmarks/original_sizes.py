"""The original system's model sizes on this CPU: dns48 and a 120 M-parameter, 2048-token Conformer-CTC.

    python benchmarks/original_sizes.py [--seconds 20] [--threads 1,2]

Random weights of the real shapes (speed does not depend on the values): a
dns48 Demucs (hidden 48, 18.9 M) and a Conformer-CTC with d_model 512 and 18
layers over a 2048-piece BPE tokenizer trained here on Korean word lists
(about 120 M), built with the project's own config builder. Every figure is a
real-time factor (processing time / audio time) of streaming ``--seconds`` of
audio fed in 16 ms pieces, as fast as possible, with float and with int8
weights (``quantize=True``):

* dns48 alone at a 16 ms and a 64 ms hop, the recogniser alone (buffered
  streaming, 1 s chunks with 2 s / 0.5 s context), on each ``--threads`` count;
* both together (dns48 at a 64 ms hop, dry 0.05, into the recogniser), placed
  four ways on the process's cores: one thread running both on 1 or on all cores,
  a denoiser thread and a recogniser thread with their share of the cores each
  (:mod:`workbench.threads`), and the same two threads with all cores each
  (oversubscribed).

Each RTF is printed as wall-clock time and, in brackets, CPU time of all the
process's threads per audio second: on a machine shared with other jobs (the
load average is printed before and after) the wall clock says what this run
got, the CPU time what the work costs; spinning OpenMP threads count as CPU time.
"""
import argparse
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.asr import load_transcriber
from workbench.asr.config import conformer_ctc_config
from workbench.denoise import DEFAULT_DRY, Demucs, Denoiser
from workbench.denoise.denoiser import HOP_MS
from workbench.threads import cores, share

PIECE = 256  # 16 ms of input per feed


def bpe_tokenizer(folder: Path, size: int = 2048) -> Path:
    """A BPE tokenizer of ``size`` pieces trained on Korean words, in NeMo's layout."""
    import sentencepiece
    from wordfreq import top_n_list

    words = top_n_list("ko", 30_000)
    text = folder / "text.txt"
    text.write_text("\n".join(" ".join(words[i:i + 8]) for i in range(0, len(words), 8)), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(text), model_prefix=str(folder / "tokenizer"),
                                             vocab_size=size, model_type="bpe", character_coverage=0.99,
                                             minloglevel=2)
    vocab = [line.split("\t")[0] for line in (folder / "tokenizer.vocab").read_text("utf-8").splitlines()]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    return folder


def conformer_120m(folder: Path) -> Path:
    """A random Conformer-CTC, d_model 512 x 18 layers, 2048 BPE pieces, saved as ``folder/conformer.nemo``."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from nemo.collections.asr.models import EncDecCTCModelBPE

        config = conformer_ctc_config(tokenizer_dir=str(bpe_tokenizer(folder)), d_model=512, n_layers=18, n_heads=8)
        EncDecCTCModelBPE(cfg=config).save_to(str(folder / "conformer.nemo"))
    return folder / "conformer.nemo"


def pieces(audio: np.ndarray) -> list[np.ndarray]:
    return [audio[i:i + PIECE] for i in range(0, len(audio), PIECE)]


def denoise_only(denoiser, audio, hop_ms):
    stream = denoiser.stream(dry=DEFAULT_DRY, hop_ms=hop_ms)
    for piece in pieces(audio):
        stream.feed(piece)
    stream.flush()


def recognise_only(transcriber, audio):
    stream = transcriber.streamer()
    for piece in pieces(audio):
        stream.feed(piece)
    stream.flush()


def together_one_thread(denoiser, transcriber, audio, threads):
    torch.set_num_threads(threads)
    enhancer, recogniser = denoiser.stream(dry=DEFAULT_DRY, hop_ms=HOP_MS), transcriber.streamer()
    for piece in pieces(audio):
        recogniser.feed(enhancer.feed(piece))
    recogniser.feed(enhancer.flush())
    recogniser.flush()


def together_two_threads(denoiser, transcriber, audio, threads):
    """A denoiser thread hands its output to a recogniser thread through a queue."""
    handoff = queue.Queue()

    def enhance():
        torch.set_num_threads(threads)
        enhancer = denoiser.stream(dry=DEFAULT_DRY, hop_ms=HOP_MS)
        for piece in pieces(audio):
            handoff.put(enhancer.feed(piece))
        handoff.put(enhancer.flush())
        handoff.put(None)

    def recognise():
        torch.set_num_threads(threads)
        recogniser = transcriber.streamer()
        while (chunk := handoff.get()) is not None:
            recogniser.feed(chunk)
        recogniser.flush()

    workers = [threading.Thread(target=enhance), threading.Thread(target=recognise)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def rtf(job, seconds) -> str:
    """'wall (cpu)': wall-clock and CPU-time (all threads of this process) seconds per audio second."""
    start, start_cpu = time.perf_counter(), time.process_time()
    job()
    return f"{(time.perf_counter() - start) / seconds:.3f} ({(time.process_time() - start_cpu) / seconds:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", default="1,2", help="intra-op thread counts for the models alone")
    args = parser.parse_args()
    torch.manual_seed(0)
    audio = (np.random.default_rng(0).standard_normal(int(args.seconds * 16000)) * 0.1).astype(np.float32)
    demucs = Demucs.preset("dns48").eval()
    denoisers = {"float": Denoiser(demucs, name="random dns48"), "int8": Denoiser(demucs, quantize=True)}
    with tempfile.TemporaryDirectory() as folder:
        path = conformer_120m(Path(folder))
        transcribers = {weights: load_transcriber(path, quantize=weights == "int8") for weights in ("float", "int8")}
    transcriber = transcribers["float"]
    print(f"{args.seconds:.0f} s of audio; torch {torch.__version__}; {cores()} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"denoiser: dns48, {denoisers['float'].parameters / 1e6:.1f} M parameters; "
          f"recogniser: random Conformer-CTC, d_model 512 x 18 layers, {transcriber.blank} BPE pieces, "
          f"{transcriber.parameters / 1e6:.1f} M parameters")
    for weights in ("float", "int8"):
        transcribers[weights].transcribe(audio[:16000])  # warm-up

    print("\nalone | threads | float RTF | int8 RTF")
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for name, job in (("dns48, 16 ms hop", lambda w: denoise_only(denoisers[w], audio, 16)),
                          (f"dns48, {HOP_MS:.0f} ms hop", lambda w: denoise_only(denoisers[w], audio, HOP_MS)),
                          ("Conformer 120 M, buffered 1 s / 2 s / 0.5 s",
                           lambda w: recognise_only(transcribers[w], audio))):
            times = {w: rtf(lambda w=w, job=job: job(w), args.seconds) for w in ("float", "int8")}
            print(f"{name} | {threads} | {times['float']} | {times['int8']}")

    every, each = cores(), share(2)
    print(f"\ndns48 ({HOP_MS:.0f} ms) + Conformer 120 M together on {every} cores | float RTF | int8 RTF")
    both = [(denoisers[w], transcribers[w]) for w in ("float", "int8")]
    placements = (
        (f"one thread, {every} intra-op threads", lambda w: together_one_thread(*both[w], audio, every)),
        ("one thread, 1 intra-op thread", lambda w: together_one_thread(*both[w], audio, 1)),
        (f"denoiser thread + recogniser thread, {each} intra-op each (workbench.threads)",
         lambda w: together_two_threads(*both[w], audio, each)),
        (f"denoiser thread + recogniser thread, {every} intra-op each (oversubscribed)",
         lambda w: together_two_threads(*both[w], audio, every)),
    )
    for name, job in placements:
        times = {w: rtf(lambda i=i, job=job: job(i), args.seconds) for i, w in enumerate(("float", "int8"))}
        print(f"{name} | {times['float']} | {times['int8']}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
