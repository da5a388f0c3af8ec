"""Milliseconds per dry-slider move on 10 s of audio: re-mix the cached denoised signal, redraw its
spectrogram, re-encode its player. The denoiser does not run, so its size does not matter.

    python benchmarks/slider.py [AUDIO] [--denoiser FILE] [--seconds 10] [--moves 20] [--threads N]

Without files it uses a random-weight Demucs and synthetic audio. Two numbers:
``remix`` is the work a move costs (``Workbench.remix``); ``slider`` is the
time from setting the slider's value until the new image is set by the worker.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import load_audio
from workbench.denoise import Demucs, save_package
from workbench.paths import DEFAULT_DENOISER, examples
from workbench.widgets import Workbench


def test_audio(path: str | None, seconds: float) -> np.ndarray:
    """``seconds`` of the given file (or the first example, or noise-like tones), tiled if short."""
    path = path or next(iter(examples().values()), None)
    if path is None:
        t = np.arange(int(seconds * 16000)) / 16000
        audio = 0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
        audio += 0.05 * np.random.default_rng(0).standard_normal(len(t))
        return audio.astype(np.float32)
    audio = load_audio(path)
    return np.tile(audio, int(np.ceil(seconds * 16000 / len(audio))))[:int(seconds * 16000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?")
    parser.add_argument("--denoiser", default=str(DEFAULT_DENOISER))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        denoiser = Path(args.denoiser)
        if not denoiser.is_file():
            torch.manual_seed(0)
            denoiser = Path(folder) / "random.th"
            save_package(Demucs.preset("bundled"), denoiser)
        wav = Path(folder) / "bench.wav"
        soundfile.write(wav, test_audio(args.audio, args.seconds), 16000)
        bench = Workbench(denoiser=denoiser, asr=Path(folder) / "no-asr.nemo", examples={"bench": wav})
        if not bench.wait(600) or bench.session.denoised is None:
            sys.exit(f"setup failed: {bench.models.error.value or bench.source.error.value}")

        values = [round(0.05 + 0.9 * (i % 10) / 10, 2) for i in range(args.moves + 1)]
        bench.remix(values[0])  # warm-up
        remix = []
        for value in values[1:]:
            started = time.perf_counter()
            bench.remix(value)
            remix.append(1000 * (time.perf_counter() - started))

        slider = []
        for value in values[1:]:
            image = bench.spectrograms.denoised.image.value
            started = time.perf_counter()
            bench.dry.slider.value = value + 0.001
            while bench.spectrograms.denoised.image.value is image:
                time.sleep(0.0005)
            slider.append(1000 * (time.perf_counter() - started))
            bench.wait()

    print(f"{args.seconds:.0f} s audio, {args.moves} moves, {args.threads} torch threads")
    for name, times in (("remix", remix), ("slider", slider)):
        print(f"{name:7s} median {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms per slider move")


if __name__ == "__main__":
    main()
