"""Throughput of the dry sweep (``workbench.tuning.evaluate``) on a Dask LocalCluster of 1 and 2 workers.

    python benchmarks/evaluate.py [SOURCE] [--denoiser FILE --asr FILE] [--dry 0,0.05,0.2,0.5,1]

SOURCE is a folder (wav + txt) or a manifest; default: the bundled examples, else
``--files`` synthetic recordings. Without model files it builds random-weight models
of the reference sizes (timing does not depend on the weights): a dns48 Demucs and a
13 M-parameter Conformer-CTC. Each worker is a process with one torch thread, and has
loaded its models before the clock starts. files/s = files / wall time;
RTF = wall time / seconds of audio decoded (files' audio times the grid size).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import tuning
from workbench.models import load_models
from workbench.paths import EXAMPLES_DIR, examples

SENTENCES = ["안녕하세요 반갑습니다", "오늘 날씨가 좋네요", "지하철 역이 어디에 있나요", "커피 한 잔 주세요"]


def synthetic_set(folder: Path, files: int, seconds: float) -> Path:
    """Harmonic bursts in noise, ``seconds`` long, each with a Korean sentence as reference."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    for number in range(files):
        f0 = 110 + 30 * number + 40 * np.sin(2 * np.pi * 0.3 * t)
        voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 6))
        audio = 0.2 * (np.sin(2 * np.pi * 0.7 * t + number) > -0.2) * voiced + 0.02 * rng.standard_normal(len(t))
        soundfile.write(folder / f"synthetic{number}.wav", audio.astype(np.float32), 16000)
        (folder / f"synthetic{number}.txt").write_text(SENTENCES[number % len(SENTENCES)], encoding="utf-8")
    return folder


def random_models(folder: Path) -> tuple[str, str]:
    from nemo.collections.asr.models import EncDecCTCModel

    from workbench.asr.config import JAMO_LABELS, conformer_ctc_config
    from workbench.denoise import Demucs, save_package

    torch.manual_seed(0)
    save_package(Demucs.preset("dns48"), folder / "dns48.th")
    EncDecCTCModel(cfg=conformer_ctc_config(JAMO_LABELS, d_model=176, n_layers=16)).save_to(str(folder / "ctc.nemo"))
    return str(folder / "dns48.th"), str(folder / "ctc.nemo")


def warm(denoiser: str, asr: str) -> None:
    """Load the models into this worker's cache (and return nothing to send back)."""
    load_models(denoiser, asr, "cpu")


def run(workers: int, items, drys, denoiser: str, asr: str) -> tuple[pd.DataFrame, float]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.run(torch.set_num_threads, 1)
        client.run(warm, denoiser, asr)
        start = time.perf_counter()
        results = tuning.evaluate(items, drys, denoiser=denoiser, asr=asr, scheduler=client, progress=False)
        return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="folder or manifest (default: bundled examples, else synthetic)")
    parser.add_argument("--denoiser", help="Demucs .th (default: random dns48)")
    parser.add_argument("--asr", help="NeMo CTC .nemo (default: random 13 M Conformer-CTC)")
    parser.add_argument("--dry", default="0,0.05,0.2,0.5,1", help="dry grid")
    parser.add_argument("--files", type=int, default=8, help="synthetic files when there is no source")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each synthetic file")
    args = parser.parse_args()
    drys = [float(value) for value in args.dry.split(",")]

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if args.denoiser and args.asr:
            denoiser, asr = args.denoiser, args.asr
        else:
            denoiser, asr = random_models(folder)
            denoiser, asr = args.denoiser or denoiser, args.asr or asr
        source = args.source or (EXAMPLES_DIR if examples() else synthetic_set(folder, args.files, args.seconds))
        items = tuning.read_items(source)
        print(f"set: {source}, {len(items)} files; grid: {len(drys)} dry values; offline decoding")
        print(f"models: {denoiser}, {asr}")
        tables = {}
        for workers in (1, 2):
            results, wall = run(workers, items, drys, denoiser, asr)
            audio = results.drop_duplicates("file").audio_s.sum()
            tables[workers] = results
            print(f"{workers} Dask worker{'s' if workers > 1 else ' '} (1 thread each): {wall:6.1f} s, "
                  f"{len(items) / wall:.3f} files/s, RTF {wall / (audio * len(drys)):.3f} "
                  f"({audio:.1f} s of audio x {len(drys)} dry values)")
        print("same table from 1 and 2 workers:", tables[1].equals(tables[2]))
        summary = tuning.summarize(tables[2])
        best = tuning.best(summary)
        print(f"best dry: {best.dry:g} (corpus CER {best.cer:.4f})")


if __name__ == "__main__":
    main()
