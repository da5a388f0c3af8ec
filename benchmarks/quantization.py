"""What int8 dynamic quantization (``quantize=True``) costs in CER and gains in speed on the bundled models.

    python benchmarks/quantization.py SOURCE [--snr 5] [--threads 1]

SOURCE is a folder of ``x.wav`` beside ``x.txt`` or a JSON-lines manifest, as
for ``python -m workbench evaluate``. Each utterance is transcribed offline
(beam search with the bundled label LM) clean by the recogniser alone, and
mixed with pink noise at ``--snr`` dB through the denoiser at the default dry
mix; once with float weights and once with both models quantized. Prints the
corpus CER and the real-time factor of each, and the CER difference.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import load_audio, load_denoiser, load_transcriber
from workbench.denoise import DEFAULT_DRY
from workbench.metrics import corpus_cer
from workbench.paths import DEFAULT_ASR, DEFAULT_DENOISER
from workbench.train import noise
from workbench.tuning import read_items


def run(denoiser, transcriber, signals, dry):
    """(transcripts, RTF) of ``signals`` through the denoiser (unless None) and the recogniser."""
    start, texts = time.perf_counter(), []
    for audio in signals:
        texts.append(transcriber.transcribe(audio if denoiser is None else denoiser.enhance(audio, dry)))
    return texts, (time.perf_counter() - start) / (sum(map(len, signals)) / 16000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("--denoiser", default=str(DEFAULT_DENOISER))
    parser.add_argument("--asr", default=str(DEFAULT_ASR))
    parser.add_argument("--snr", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    items = read_items(args.source)
    clean = [load_audio(item.audio) for item in items]
    references = [item.text for item in items]
    rng = np.random.default_rng(0)
    noisy = [noise.add_noise(x, noise.make("pink", len(x), rng), args.snr) for x in clean]
    print(f"{len(items)} utterances ({sum(map(len, clean)) / 16000 / 60:.1f} min) from {args.source}; "
          f"{args.threads} thread(s)")
    print("condition | float CER | int8 CER | difference (points) | float RTF | int8 RTF")
    models = {quantize: (load_denoiser(args.denoiser, quantize=quantize), load_transcriber(args.asr, quantize=quantize))
              for quantize in (False, True)}
    for name, signals, use_denoiser in (("clean, recogniser alone", clean, False),
                                        (f"pink noise {args.snr:g} dB, denoiser at dry {DEFAULT_DRY}", noisy, True)):
        cers, rtfs = {}, {}
        for quantize, (denoiser, transcriber) in models.items():
            texts, rtfs[quantize] = run(denoiser if use_denoiser else None, transcriber, signals, DEFAULT_DRY)
            cers[quantize] = corpus_cer(references, texts)
        print(f"{name} | {cers[False]:.2%} | {cers[True]:.2%} | {100 * (cers[True] - cers[False]):+.2f} | "
              f"{rtfs[False]:.3f} | {rtfs[True]:.3f}")


if __name__ == "__main__":
    main()
