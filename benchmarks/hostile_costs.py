"""Peak RSS and wall time of the command line on hostile inputs, and of a long ``enhance``.

Crafts, in a temporary folder: one-sample WAVs at 44101 and 96001 Hz (46 bytes),
a denoiser package declaring hidden=10000 around a tiny model's tensors, a
``.nemo`` whose config is a YAML alias bomb (10^6 nodes once expanded), and
``--minutes`` of noisy audio for ``enhance`` with the bundled denoiser. Each
runs as ``python -m workbench`` with one torch thread; peak RSS comes from the
child's rusage. Run it for several ``--minutes`` to see that memory is flat.

    python benchmarks/hostile_costs.py --minutes 10 30
"""
import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from workbench.denoise import Demucs, save_package

ALIAS_BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                       + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]) + "\n"


def measure(label: str, *args) -> None:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "workbench", *map(str, args)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    message = process.stderr.read().strip().splitlines()
    print(f"{label:24s} exit {os.waitstatus_to_exitcode(status):3d}  peak RSS {usage.ru_maxrss / 1024:7.0f} MB  "
          f"{time.perf_counter() - started:7.1f} s  {message[0][:110] if message else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="*", default=[10.0], help="lengths of audio to enhance")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for rate in (44101, 96001):
            soundfile.write(folder / f"{rate}.wav", np.array([0.25], np.float32), rate, subtype="PCM_16")
            measure(f"46-byte WAV at {rate}", "enhance", folder / f"{rate}.wav", folder / "out.wav", "--dry", "1")
        model = Demucs(hidden=4, depth=3)
        model.init_kwargs["hidden"] = 10000
        save_package(model, folder / "hidden.th")
        soundfile.write(folder / "speech.wav", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
        measure("hidden=10000 .th", "enhance", folder / "speech.wav", folder / "out.wav",
                "--denoiser", folder / "hidden.th")
        with tarfile.open(folder / "bomb.nemo", "w") as tar:
            info = tarfile.TarInfo("./model_config.yaml")
            info.size = len(ALIAS_BOMB)
            tar.addfile(info, io.BytesIO(ALIAS_BOMB.encode()))
        measure("YAML alias bomb .nemo", "transcribe", folder / "speech.wav", "--asr", folder / "bomb.nemo",
                "--dry", "1")
        rng = np.random.default_rng(1)
        tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(60 * 16000) / 16000)
        for minutes in options.minutes:
            with soundfile.SoundFile(folder / "long.wav", "w", 16000, 1, subtype="PCM_16") as handle:
                for _ in range(int(minutes)):
                    handle.write((tone + 0.05 * rng.standard_normal(len(tone))).astype(np.float32))
            measure(f"enhance {minutes:g} min", "enhance", folder / "long.wav", folder / "out.wav")


if __name__ == "__main__":
    main()
