"""Synthetic data set: sentences -> espeak-ng speech -> noise files -> NeMo manifests.

Layout under ``out``::

    sentences_train.txt, sentences_heldout.txt
    wav/train/*.wav      training voices, training sentences
    wav/tel/*.wav        8 kHz telephone-band copies (stored back at 16 kHz for NeMo)
    wav/eval/*.wav       held-out voices, held-out sentences (evaluation)
    wav/val/*.wav        held-out voices, other held-out sentences (validation, eval babble)
    noise/{train,eval}/KIND_I.wav
    asr_train.json, asr_val.json, eval.json, noise_train.json, noise_eval.json

Manifest lines are NeMo's: {"audio_filepath", "duration", "text"} with the
text in NFC syllables; the ASR decomposes it to jamo (see ``asr.py``).
Everything is derived from ``seed``.
"""
import json
import random
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

from . import noise, speech, text

SR = speech.SAMPLE_RATE


def _synth_job(job):
    path, sentence, voice, seed, tel_path = job
    r = np.random.default_rng(seed)
    x = speech.synthesize(sentence, voice)
    x = x / (np.abs(x).max() + 1e-9) * r.uniform(0.2, 0.9)   # level variety
    speech.write(path, x)
    out = [(str(path), len(x) / SR, sentence)]
    if tel_path:
        y = noise.upsample_telephone(noise.telephone(x))
        speech.write(tel_path, y)
        out.append((str(tel_path), len(y) / SR, sentence))
    return out


def write_manifest(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for audio, duration, sentence in rows:
            f.write(json.dumps({"audio_filepath": str(audio), "duration": round(duration, 3), "text": sentence},
                               ensure_ascii=False) + "\n")


def read_manifest(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _noise_files(folder: Path, pool, n_per_kind: int, seconds: float, seed: int):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for kind in noise.KINDS:
        for i in range(n_per_kind):
            x = noise.make(kind, int(seconds * SR), rng, pool) * 0.1
            path = folder / f"{kind}_{i}.wav"
            speech.write(path, x)
            rows.append((path, seconds, ""))
    return rows


def build(out="runs/data", n_train=20000, n_heldout=300, n_val=100, telephone_share=0.15,
          noise_per_kind=10, noise_seconds=10.0, seed=0, workers=2, log=print):
    out = Path(out).resolve()
    sentences = text.make_sentences(n_train + n_heldout + n_val, seed=seed)
    train_s, held_s = text.split(sentences, n_heldout + n_val, seed=seed)
    eval_s, val_s = held_s[:n_heldout], held_s[n_heldout:]
    (out / "sentences_train.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "sentences_train.txt").write_text("\n".join(train_s) + "\n", encoding="utf-8")
    (out / "sentences_heldout.txt").write_text("\n".join(held_s) + "\n", encoding="utf-8")
    assert not set(train_s) & set(held_s)

    r = random.Random(seed + 2)
    jobs = {"train": [], "eval": [], "val": []}
    for name in ("train", "tel", "eval", "val"):
        (out / "wav" / name).mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(train_s):
        tel = out / "wav" / "tel" / f"{i:06d}.wav" if r.random() < telephone_share else None
        jobs["train"].append((out / "wav" / "train" / f"{i:06d}.wav", s, speech.random_voice(r), seed * 10**7 + i, tel))
    for split, ss in (("eval", eval_s), ("val", val_s)):
        for i, s in enumerate(ss):
            v = speech.random_voice(r, speech.HELDOUT_VOICES)
            jobs[split].append((out / "wav" / split / f"{i:05d}.wav", s, v, seed * 10**7 + 9 * 10**6 + i, None))

    rows = {}
    with Pool(workers) as pool:
        for split, js in jobs.items():
            rows[split] = [row for res in pool.imap(_synth_job, js, chunksize=32) for row in res]
            log(f"{split}: {len(rows[split])} utterances, {sum(d for _, d, _ in rows[split]) / 3600:.2f} h")
    # voice metadata, for the model card / evaluation
    with open(out / "voices.json", "w") as f:
        json.dump({split: [[str(j[0]), j[2].variant, j[2].speed, j[2].pitch] for j in js] for split, js in jobs.items()}, f)

    write_manifest(out / "asr_train.json", rows["train"])
    write_manifest(out / "asr_val.json", rows["val"])
    write_manifest(out / "eval.json", rows["eval"])

    def load(rows_, k):
        return [sf.read(p, dtype="float32")[0] for p, _, s in rows_[:k] if "/tel/" not in str(p)]
    train_pool = load(rows["train"], 400)
    eval_pool = load(rows["val"], 400)   # babble for evaluation: held-out voices, never the test sentence
    write_manifest(out / "noise_train.json", _noise_files(out / "noise" / "train", train_pool, noise_per_kind, noise_seconds, seed + 3))
    write_manifest(out / "noise_eval.json", _noise_files(out / "noise" / "eval", eval_pool, max(2, noise_per_kind // 2), noise_seconds, seed + 4))
    log(f"data written to {out}")
    return out
