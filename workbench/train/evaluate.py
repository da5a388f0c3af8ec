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

from .. import manifest
from ..audio import SAMPLE_RATE
from . import channel
from . import noise as noise_mod
from .speech import write

NOISE_SNRS = (0.0, 5.0)
TELEPHONE_SNR = 10.0
RT60 = (0.3, 0.8)


def load_noises(manifest_path) -> dict[str, list[np.ndarray]]:
    """Noise files of a manifest by kind (the file name before its last ``_``)."""
    noises = {}
    for entry in manifest.read(manifest_path):
        kind = Path(entry.audio).stem.rsplit("_", 1)[0]
        noises.setdefault(kind, []).append(sf.read(entry.audio, dtype="float32")[0])
    return noises


def crop(noises: list[np.ndarray], length: int, rng) -> np.ndarray:
    """A random segment of ``length`` samples from a random file of ``noises`` (tiled if short)."""
    noise = noises[int(rng.integers(len(noises)))]
    noise = np.tile(noise, length // len(noise) + 1) if len(noise) < length else noise
    start = int(rng.integers(0, len(noise) - length + 1))
    return noise[start:start + length]


def conditions(clean, noises, seed) -> dict[str, list[np.ndarray]]:
    """Noisy versions of every ``clean`` utterance: each kind at each of ``NOISE_SNRS``, a noisy telephone
    line and a reverberant room. Utterance i of condition c draws from its own generator (seed, c, i), so
    the first n utterances hear the same noise whatever the limit."""
    kinds = sorted(noises)

    def each(condition, make):
        """``make(speech, index, rng)`` for every utterance."""
        return [make(speech, index, np.random.default_rng((seed, condition, index)))
                for index, speech in enumerate(clean)]
    out = {}
    for kind in kinds:
        for snr in NOISE_SNRS:
            out[f"{kind} {snr:g} dB"] = each(len(out), lambda speech, index, rng, kind=kind, snr=snr: noise_mod.add_noise(
                speech, crop(noises[kind], len(speech), rng), snr))
    out["telephone: 10 dB noise, then band + codec"] = each(len(out), lambda speech, index, rng: channel.telephone(
        speech, crop(noises[kinds[index % len(kinds)]], len(speech), rng), TELEPHONE_SNR,
        channel.CODECS[index % len(channel.CODECS)], rng))
    rooms = [channel.room_impulse(rng, float(rng.uniform(*RT60)))
             for rng in (np.random.default_rng((seed, len(out), room)) for room in range(min(12, len(clean))))]
    out[f"reverberant, RT60 {RT60[0]:g}-{RT60[1]:g} s"] = each(len(out), lambda speech, index, rng: channel.reverberate(
        speech, rooms[index % len(rooms)]))
    return out


def enhancement_scores(clean, noisy, denoised) -> dict[str, float]:
    """Mean SI-SDR improvement (dB), PESQ (wide band) and STOI of noisy and denoised against clean."""
    from pesq import pesq
    from pystoi import stoi

    from ..metrics import si_sdr

    def mean(score, signals):
        """Mean of ``score(signal, reference)`` over the utterances."""
        return float(np.mean([score(signal, reference) for reference, signal in zip(clean, signals)]))

    def wide_band_pesq(signal, reference):
        return pesq(SAMPLE_RATE, reference, signal, "wb")

    def stoi_of(signal, reference):
        return stoi(reference, signal, SAMPLE_RATE)
    return {"si_sdr_improvement_db": mean(si_sdr, denoised) - mean(si_sdr, noisy),
            "pesq_noisy": mean(wide_band_pesq, noisy), "pesq_denoised": mean(wide_band_pesq, denoised),
            "stoi_noisy": mean(stoi_of, noisy), "stoi_denoised": mean(stoi_of, denoised)}


def held_out_rows(data: Path, limit: int, natural_limit: int) -> tuple[list[manifest.Entry], list[manifest.Entry]]:
    """(generator entries, natural entries), at most ``limit`` and ``natural_limit`` (0: all), none of their
    sentences in training."""
    train_sentences = set((data / "sentences_train.txt").read_text(encoding="utf-8").split("\n"))
    out = []
    for name, most in (("eval.json", limit), ("natural.json", natural_limit)):
        entries = manifest.read(data / name)
        entries = entries[:most] if most else entries
        assert not {entry.text for entry in entries} & train_sentences, f"{name}: sentence seen in training"
        out.append(entries)
    return tuple(out)


def run(data="runs/data", out="runs/eval", denoiser_path="runs/denoiser/denoiser.th", asr_path="runs/asr/asr.nemo",
        limit=0, smoke=False, examples=None, threads=2, seed=0, log=print):
    torch.set_num_threads(threads)
    from ..asr import load_transcriber
    from ..denoise import DEFAULT_DRY, load_denoiser, mix
    from ..metrics import corpus_cer

    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, natural_rows = held_out_rows(data, limit, limit if smoke else 0)   # the natural set is only heard clean
    refs, natural_refs = [entry.text for entry in rows], [entry.text for entry in natural_rows]

    def read(entries):
        return [sf.read(entry.audio, dtype="float32")[0] for entry in entries]
    clean, natural = read(rows), read(natural_rows)
    noises = load_noises(data / "noise_eval.json")
    t0 = time.time()
    denoiser = load_denoiser(denoiser_path)
    asr = load_transcriber(asr_path)
    log(f"loaded denoiser ({denoiser.parameters / 1e6:.2f} M) and ASR ({asr.parameters / 1e6:.2f} M); "
        f"{len(rows)} generator and {len(natural_rows)} natural held-out utterances, "
        f"{(sum(map(len, clean)) + sum(map(len, natural))) / SAMPLE_RATE / 60:.1f} min")

    def recognise(audio):
        scores = [asr.log_probs(signal.astype(np.float32)) for signal in audio]
        return [asr.decode(score) for score in scores], [asr.decode(score, use_lm=False) for score in scores]

    cer, enhancement, hypotheses = {}, {}, {}
    sets = {"clean, generator sentences": (refs, clean, clean), "clean, natural sentences": (natural_refs, natural, natural)}
    sets.update({name: (refs, audio, clean) for name, audio in conditions(clean, noises, seed + 100).items()})
    for name, (refs_, audio, reference) in sets.items():
        denoised = [denoiser.denoise(signal) for signal in audio]
        lm, greedy = recognise(audio)
        lm_denoised, _ = recognise([mix(signal, enhanced, DEFAULT_DRY) for signal, enhanced in zip(audio, denoised)])
        hypotheses[name] = {"no denoiser": lm, f"denoiser dry {DEFAULT_DRY}": lm_denoised, "greedy, no denoiser": greedy}
        cer[name] = {column: corpus_cer(refs_, texts) for column, texts in hypotheses[name].items()}
        if name.endswith(" dB") and not name.startswith("telephone"):
            enhancement[name] = enhancement_scores(reference, audio, denoised)
        log(f"{name}: " + ", ".join(f"{column} {100 * rate:.1f}%" for column, rate in cer[name].items())
            + f" ({(time.time() - t0) / 60:.1f} min)")
    for snr in NOISE_SNRS:
        noisy = [name for name in cer if name.endswith(f" {snr:g} dB") and not name.startswith("telephone")]
        cer[f"mean over noise kinds, {snr:g} dB"] = {column: float(np.mean([cer[name][column] for name in noisy]))
                                                     for column in cer[noisy[0]]}

    results = {
        "utterances": len(rows), "natural_utterances": len(natural_rows),
        "audio_minutes": sum(map(len, clean)) / SAMPLE_RATE / 60,
        "denoiser": str(denoiser_path), "asr": str(asr_path),
        "denoiser_params": denoiser.parameters, "asr_params": asr.parameters,
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
    lines = [(f"Held-out voices; {results['utterances']} generator sentences ({results['audio_minutes']:.1f} min) "
              f"in every condition, {results['natural_utterances']} natural sentences. CER on NFC syllables, "
              f"spaces ignored. Decoding: {results['decoding']}."), "",
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
    near_3_s = sorted(range(len(rows)), key=lambda index: abs(len(clean[index]) / SAMPLE_RATE - 3.0))
    for index, (name, kind, snr) in zip(near_3_s, EXAMPLES):
        speech = clean[index]
        if name == "telephone":
            sf.write(str(folder / f"{name}.wav"), noise_mod.telephone(speech), 8000, subtype="PCM_16")
        elif kind is None:
            write(folder / f"{name}.wav", speech)
        else:
            noise = noises[kind][int(rng.integers(len(noises[kind])))]
            write(folder / f"{name}.wav", noise_mod.add_noise(speech, noise, snr, rng))
        (folder / f"{name}.txt").write_text(rows[index].text + "\n", encoding="utf-8")
        log(f"example {name}: {rows[index].text}")
