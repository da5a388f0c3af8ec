"""Evaluation on held-out sentences spoken by held-out voices, one condition at a time.

Uses the workbench's own loaders (``load_denoiser``, ``load_transcriber``), its dry mix
(``denoise.mix`` at ``DEFAULT_DRY``) and CER (``workbench.metrics.corpus_cer``: NFC syllables,
spaces ignored). Conditions, each on the same utterances:

- clean: the generator's held-out sentences, and the natural-sentence set (held-out slice of
  konlpy's corpora + the written everyday sentences);
- every noise kind at 0 and 5 dB (evaluation noise files; babble from other held-out utterances);
- a noisy telephone line: 10 dB noise (kinds cycling), then the 8 kHz band and a codec (cycling
  over µ-law, A-law, GSM, AMR-NB), back at 16 kHz;
- reverberant: image-source rooms with RT60 0.3-0.8 s (Sabine), never used in training.

Each is decoded with the ASR's label LM (when one lies beside it) without and with the denoiser,
and greedily without it. The denoiser (dry 0) is scored per noise kind by SI-SDR improvement,
PESQ (wide band) and STOI, noisy vs denoised.

Writes ``out/results.json`` and ``out/results.md``; optionally the audio examples.
"""
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import channel
from . import data as data_mod
from . import noise as noise_mod
from .speech import SAMPLE_RATE, write

NOISE_SNRS = (0.0, 5.0)
TELEPHONE_SNR = 10.0
RT60 = (0.3, 0.8)


def load_noises(manifest) -> dict[str, list[np.ndarray]]:
    """Noise files of a manifest by kind (the file name before its last ``_``)."""
    noises = {}
    for r in data_mod.read_manifest(manifest):
        kind = Path(r["audio_filepath"]).stem.rsplit("_", 1)[0]
        noises.setdefault(kind, []).append(sf.read(r["audio_filepath"], dtype="float32")[0])
    return noises


def crop(noises: list[np.ndarray], n: int, rng) -> np.ndarray:
    """A random segment of ``n`` samples from a random file of ``noises`` (tiled if short)."""
    x = noises[int(rng.integers(len(noises)))]
    x = np.tile(x, n // len(x) + 1) if len(x) < n else x
    off = int(rng.integers(0, len(x) - n + 1))
    return x[off:off + n]


def conditions(clean, noises, seed) -> dict[str, list[np.ndarray]]:
    """Noisy versions of every ``clean`` utterance: each kind at each of ``NOISE_SNRS``, a noisy telephone
    line and a reverberant room. Utterance i of condition c draws from its own generator (seed, c, i), so
    the first n utterances hear the same noise whatever the limit."""
    kinds = sorted(noises)

    def each(c, make):
        return [make(x, i, np.random.default_rng((seed, c, i))) for i, x in enumerate(clean)]
    out = {}
    for k in kinds:
        for snr in NOISE_SNRS:
            out[f"{k} {snr:g} dB"] = each(len(out), lambda x, i, r: noise_mod.mix(x, crop(noises[k], len(x), r), snr))
    out["telephone: 10 dB noise, then band + codec"] = each(len(out), lambda x, i, r: channel.telephone(
        x, crop(noises[kinds[i % len(kinds)]], len(x), r), TELEPHONE_SNR, channel.CODECS[i % len(channel.CODECS)], r))
    rooms = [channel.room_impulse(r, float(r.uniform(*RT60)))
             for r in (np.random.default_rng((seed, len(out), j)) for j in range(min(12, len(clean))))]
    out[f"reverberant, RT60 {RT60[0]:g}-{RT60[1]:g} s"] = each(len(out), lambda x, i, r: channel.reverberate(
        x, rooms[i % len(rooms)]))
    return out


def enhancement_scores(clean, noisy, denoised) -> dict[str, float]:
    """Mean SI-SDR improvement (dB), PESQ (wide band) and STOI of noisy and denoised against clean."""
    from pesq import pesq
    from pystoi import stoi

    def mean(f, signals):
        return float(np.mean([f(c, s) for c, s in zip(clean, signals)]))
    return {"si_sdr_improvement_db": mean(noise_mod.si_sdr, denoised) - mean(noise_mod.si_sdr, noisy),
            "pesq_noisy": mean(lambda c, s: pesq(SAMPLE_RATE, c, s, "wb"), noisy),
            "pesq_denoised": mean(lambda c, s: pesq(SAMPLE_RATE, c, s, "wb"), denoised),
            "stoi_noisy": mean(lambda c, s: stoi(c, s, SAMPLE_RATE), noisy),
            "stoi_denoised": mean(lambda c, s: stoi(c, s, SAMPLE_RATE), denoised)}


def held_out_rows(data: Path, limit: int, natural_limit: int):
    """(generator rows, natural rows), at most ``limit`` and ``natural_limit`` (0: all), none of their
    sentences in training."""
    train_sentences = set((data / "sentences_train.txt").read_text(encoding="utf-8").split("\n"))
    out = []
    for manifest, n in (("eval.json", limit), ("natural.json", natural_limit)):
        rows = data_mod.read_manifest(data / manifest)
        rows = rows[:n] if n else rows
        assert not {r["text"] for r in rows} & train_sentences, f"{manifest}: sentence seen in training"
        out.append(rows)
    return out


def run(data="runs/data", out="runs/eval", denoiser_path="runs/denoiser/denoiser.th", asr_path="runs/asr/asr.nemo",
        limit=0, smoke=False, examples=None, threads=2, seed=0, log=print):
    torch.set_num_threads(threads)
    from ..asr import load_transcriber
    from ..denoise import DEFAULT_DRY, load_denoiser, mix
    from ..metrics import corpus_cer

    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, natural_rows = held_out_rows(data, limit, limit if smoke else 0)   # the natural set is only heard clean
    refs, natural_refs = [r["text"] for r in rows], [r["text"] for r in natural_rows]

    def read(rows_):
        return [sf.read(r["audio_filepath"], dtype="float32")[0] for r in rows_]
    clean, natural = read(rows), read(natural_rows)
    noises = load_noises(data / "noise_eval.json")
    t0 = time.time()
    den = load_denoiser(denoiser_path)
    asr = load_transcriber(asr_path)
    log(f"loaded denoiser ({den.parameters / 1e6:.2f} M) and ASR ({asr.parameters / 1e6:.2f} M); "
        f"{len(rows)} generator and {len(natural_rows)} natural held-out utterances, "
        f"{(sum(map(len, clean)) + sum(map(len, natural))) / SAMPLE_RATE / 60:.1f} min")

    def recognise(audio):
        scores = [asr.log_probs(x.astype(np.float32)) for x in audio]
        return [asr.decode(s) for s in scores], [asr.decode(s, use_lm=False) for s in scores]

    cer, enhancement, hypotheses = {}, {}, {}
    sets = {"clean, generator sentences": (refs, clean, clean), "clean, natural sentences": (natural_refs, natural, natural)}
    sets.update({name: (refs, audio, clean) for name, audio in conditions(clean, noises, seed + 100).items()})
    for name, (refs_, audio, reference) in sets.items():
        denoised = [den.denoise(x) for x in audio]
        lm, greedy = recognise(audio)
        lm_den, _ = recognise([mix(x, y, DEFAULT_DRY) for x, y in zip(audio, denoised)])
        hypotheses[name] = {"no denoiser": lm, f"denoiser dry {DEFAULT_DRY}": lm_den, "greedy, no denoiser": greedy}
        cer[name] = {column: corpus_cer(refs_, h) for column, h in hypotheses[name].items()}
        if name.endswith(" dB") and not name.startswith("telephone"):
            enhancement[name] = enhancement_scores(reference, audio, denoised)
        log(f"{name}: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in cer[name].items())
            + f" ({(time.time() - t0) / 60:.1f} min)")
    for snr in NOISE_SNRS:
        kinds = [n for n in cer if n.endswith(f" {snr:g} dB") and not n.startswith("telephone")]
        cer[f"mean over noise kinds, {snr:g} dB"] = {k: float(np.mean([cer[n][k] for n in kinds])) for k in cer[kinds[0]]}

    results = {
        "utterances": len(rows), "natural_utterances": len(natural_rows),
        "audio_minutes": sum(map(len, clean)) / SAMPLE_RATE / 60,
        "denoiser": str(denoiser_path), "asr": str(asr_path),
        "denoiser_params": den.parameters, "asr_params": asr.parameters,
        "decoding": f"beam search + {asr.lm.order}-gram label LM" if asr.lm else "greedy",
        "cer": cer, "enhancement": enhancement,
        "references": {"generator": refs, "natural": natural_refs},
        "hypotheses": hypotheses,   # per condition and column, in the order of the references
        "eval_minutes": (time.time() - t0) / 60,
    }
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    log(f"evaluation done in {results['eval_minutes']:.1f} min -> {out / 'results.md'}")
    log("\n" + (out / "results.md").read_text(encoding="utf-8"))
    if examples:
        write_examples(Path(examples), rows, clean, noises, np.random.default_rng(seed + 100), asr)
    return results


def markdown(results):
    pct = lambda v: f"{100 * v:.1f}%"
    columns = list(next(iter(results["cer"].values())))
    lines = [f"Held-out voices; {results['utterances']} generator sentences ({results['audio_minutes']:.1f} min) "
             f"in every condition, {results['natural_utterances']} natural sentences. CER on NFC syllables, "
             f"spaces ignored. Decoding: {results['decoding']}.", "",
             "| condition | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(pct(v[c]) for c in columns) + " |" for name, v in results["cer"].items()]
    lines += ["", "Denoiser alone (dry 0) against the clean speech:", "",
              "| noise | SI-SDR improvement | PESQ noisy → denoised | STOI noisy → denoised |", "|---|---|---|---|"]
    lines += [f"| {name} | {e['si_sdr_improvement_db']:+.1f} dB | {e['pesq_noisy']:.2f} → {e['pesq_denoised']:.2f} | "
              f"{e['stoi_noisy']:.3f} → {e['stoi_denoised']:.3f} |" for name, e in results["enhancement"].items()]
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
