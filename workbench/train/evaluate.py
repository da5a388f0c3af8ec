"""Evaluation on held-out sentences spoken by held-out voices.

Uses the workbench's own loaders (``load_denoiser``, ``load_transcriber``)
and CER (``workbench.metrics.corpus_cer``: NFC syllables, spaces ignored).

- CER grid: dry in {0, 0.05, 0.2, 0.5, 1} x SNR in {0, 5, 10 dB, clean};
  the noise kind cycles over the utterances (evaluation noise files; babble
  from other held-out utterances). Decoded with the ASR's label LM when one
  lies beside it, and greedily from the same scores.
- 8 kHz telephone band, resampled back to 16 kHz, without and with denoiser.
- SI-SDR improvement of the fully denoised signal (dry 0) per noise kind at 0 and 5 dB.

Writes ``out/results.json`` and ``out/results.md``; optionally the audio examples.
"""
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import data as data_mod
from . import noise as noise_mod
from .speech import SAMPLE_RATE, write

DRYS = (0.0, 0.05, 0.2, 0.5, 1.0)
SNRS = (0.0, 5.0, 10.0, None)   # None = clean
SISDR_SNRS = (0.0, 5.0)


def load_noises(manifest) -> dict[str, list[np.ndarray]]:
    """Noise files of a manifest by kind (the file name before its last ``_``)."""
    noises = {}
    for r in data_mod.read_manifest(manifest):
        kind = Path(r["audio_filepath"]).stem.rsplit("_", 1)[0]
        noises.setdefault(kind, []).append(sf.read(r["audio_filepath"], dtype="float32")[0])
    return noises


def conditions(clean, noises, rng):
    """Per utterance: its noise kind (cycling over the kinds) and the noisy versions at each SNR
    (same noise segment)."""
    kinds, out = sorted(noises), []
    for i, x in enumerate(clean):
        kind = kinds[i % len(kinds)]
        files = noises[kind]
        n = files[int(rng.integers(len(files)))]
        off = int(rng.integers(0, max(1, len(n) - len(x))))
        seg = n[off:off + len(x)]
        out.append((kind, {snr: (x if snr is None else noise_mod.mix(x, seg, snr)) for snr in SNRS}))
    return out


def run(data="runs/data", out="runs/eval", denoiser_path="runs/denoiser/denoiser.th", asr_path="runs/asr/asr.nemo",
        limit=0, smoke=False, examples=None, threads=2, seed=0, log=print):
    torch.set_num_threads(threads)
    from ..asr import load_transcriber
    from ..audio import resample
    from ..denoise import load_denoiser
    from ..metrics import corpus_cer

    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = data_mod.read_manifest(data / "eval.json")
    if limit:
        rows = rows[:limit]
    held = set((data / "sentences_heldout.txt").read_text(encoding="utf-8").split("\n"))
    train_sentences = set((data / "sentences_train.txt").read_text(encoding="utf-8").split("\n"))
    assert all(r["text"] in held and r["text"] not in train_sentences for r in rows), "eval sentence seen in training"
    refs = [r["text"] for r in rows]
    clean = [sf.read(r["audio_filepath"], dtype="float32")[0] for r in rows]
    noises = load_noises(data / "noise_eval.json")
    kinds = sorted(noises)
    rng = np.random.default_rng(seed + 100)
    conds = conditions(clean, noises, rng)

    t0 = time.time()
    den = load_denoiser(denoiser_path)
    asr = load_transcriber(asr_path)
    log(f"loaded denoiser ({den.parameters / 1e6:.2f} M) and ASR ({asr.parameters / 1e6:.2f} M); "
        f"{len(rows)} held-out utterances, {sum(map(len, clean)) / SAMPLE_RATE / 60:.1f} min")

    # CER grid, decoded with the ASR's LM (when it has one) and greedily from the same scores
    hyps = {(d, s): [] for d in DRYS for s in SNRS}
    greedy_hyps = {(d, s): [] for d in DRYS for s in SNRS}
    sisdr = {(k, s): [] for k in kinds for s in SISDR_SNRS}
    for i, (kind, versions) in enumerate(conds):
        for snr, noisy in versions.items():
            denoised = den.denoise(noisy)
            if snr in SISDR_SNRS:
                sisdr[(kind, snr)].append(noise_mod.si_sdr(denoised, clean[i]) - noise_mod.si_sdr(noisy, clean[i]))
            for dry in DRYS:
                audio = noisy if dry == 1.0 else dry * noisy + (1 - dry) * denoised
                scores = asr.log_probs(audio.astype(np.float32))
                hyps[(dry, snr)].append(asr.decode(scores))
                greedy_hyps[(dry, snr)].append(asr.decode(scores, use_lm=False))
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{len(rows)} utterances, {(time.time() - t0) / 60:.1f} min")
    grid = {(d, s): corpus_cer(refs, h) for (d, s), h in hyps.items()}
    greedy_grid = {(d, s): corpus_cer(refs, h) for (d, s), h in greedy_hyps.items()}

    # telephone: 8 kHz band, resampled to 16 kHz, plain and through the denoiser at the default dry
    tel_hyps, tel_den_hyps = [], []
    for x in clean:
        y = resample(noise_mod.telephone(x), 8000, SAMPLE_RATE)
        tel_hyps.append(asr.transcribe(y))
        tel_den_hyps.append(asr.transcribe(den.enhance(y, dry=0.05)))
    telephone = {"no denoiser": corpus_cer(refs, tel_hyps), "denoiser dry 0.05": corpus_cer(refs, tel_den_hyps)}

    # per noise kind CER at 5 dB, with and without the denoiser
    by_kind = {}
    for k in kinds:
        idx = [i for i, (kind, _) in enumerate(conds) if kind == k]
        by_kind[k] = {f"dry {d}": corpus_cer([refs[i] for i in idx], [hyps[(d, 5.0)][i] for i in idx]) for d in (0.05, 1.0)}

    results = {
        "utterances": len(rows),
        "audio_minutes": sum(map(len, clean)) / SAMPLE_RATE / 60,
        "denoiser": str(denoiser_path), "asr": str(asr_path),
        "denoiser_params": den.parameters, "asr_params": asr.parameters,
        "decoding": f"beam search + {asr.lm.order}-gram label LM" if asr.lm else "greedy",
        "cer": {f"dry={d} snr={'clean' if s is None else s}": v for (d, s), v in grid.items()},
        "greedy_cer": {f"dry={d} snr={'clean' if s is None else s}": v for (d, s), v in greedy_grid.items()},
        "telephone_cer": telephone,
        "cer_5db_by_kind": by_kind,
        "si_sdr_improvement_db": {f"{k} {s} dB": float(np.mean(v)) for (k, s), v in sisdr.items() if v},
        "examples_of_hypotheses": [{"ref": refs[i], "clean": hyps[(1.0, None)][i], "5dB": hyps[(1.0, 5.0)][i],
                                    "5dB+denoiser": hyps[(0.05, 5.0)][i]} for i in range(min(5, len(refs)))],
        "eval_minutes": (time.time() - t0) / 60,
    }
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "results.md").write_text(markdown(results, grid, greedy_grid, sisdr, kinds), encoding="utf-8")
    log(f"evaluation done in {results['eval_minutes']:.1f} min -> {out / 'results.md'}")
    log("\n" + (out / "results.md").read_text(encoding="utf-8"))
    if examples:
        write_examples(Path(examples), rows, clean, noises, rng, asr)
    return results


def markdown(results, grid, greedy_grid, sisdr, kinds):
    pct = lambda v: f"{100 * v:.1f}%"
    header = ["| dry \\ SNR | 0 dB | 5 dB | 10 dB | clean |", "|---|---|---|---|---|"]
    lines = [f"Held-out sentences, held-out voices: {results['utterances']} utterances "
             f"({results['audio_minutes']:.1f} min). CER on NFC syllables, spaces ignored. "
             f"Decoding: {results['decoding']}.", ""] + header
    for d in DRYS:
        label = f"{d}" + (" (no denoiser)" if d == 1.0 else " (default)" if d == 0.05 else "")
        lines.append(f"| {label} | " + " | ".join(pct(grid[(d, s)]) for s in SNRS) + " |")
    if results["decoding"] != "greedy":
        lines += ["", "The same, decoded greedily (no LM):", ""] + header
        lines += [f"| {d} | " + " | ".join(pct(greedy_grid[(d, s)]) for s in SNRS) + " |" for d in DRYS]
    lines += ["", "| 8 kHz telephone → 16 kHz | CER |", "|---|---|"]
    lines += [f"| {k} | {pct(v)} |" for k, v in results["telephone_cer"].items()]
    lines += ["", "CER at 5 dB per noise kind:", "", "| noise | no denoiser | denoiser dry 0.05 |", "|---|---|---|"]
    lines += [f"| {k} | {pct(v['dry 1.0'])} | {pct(v['dry 0.05'])} |" for k, v in results["cer_5db_by_kind"].items()]
    lines += ["", "SI-SDR improvement of the denoiser (dry 0), dB:", "",
              "| noise | 0 dB input | 5 dB input |", "|---|---|---|"]
    lines += [f"| {k} | " + " | ".join(f"{np.mean(sisdr[(k, s)]):+.1f}" for s in SISDR_SNRS) + " |" for k in kinds]
    return "\n".join(lines) + "\n"


EXAMPLES = (("clean", None, None), ("babble", "babble", 5.0), ("street", "brown", 5.0), ("hum", "hum", 5.0),
            ("telephone", None, None))


def write_examples(folder: Path, rows, clean, noises, rng, asr=None, log=print):
    """Short held-out utterances (held-out voices) as ``name.wav`` + ``name.txt`` (NFC reference)."""
    folder.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(rows)), key=lambda i: abs(len(clean[i]) / SAMPLE_RATE - 3.0))
    for k, (name, kind, snr) in enumerate(EXAMPLES):
        i = order[k]
        x = clean[i]
        if name == "telephone":
            sf.write(str(folder / f"{name}.wav"), noise_mod.telephone(x), 8000, subtype="PCM_16")
        elif kind is None:
            write(folder / f"{name}.wav", x)
        else:
            n = noises[kind][int(rng.integers(len(noises[kind])))]
            write(folder / f"{name}.wav", noise_mod.mix(x, n, snr, rng))
        (folder / f"{name}.txt").write_text(rows[i]["text"] + "\n", encoding="utf-8")
        log(f"example {name}: {rows[i]['text']}")
