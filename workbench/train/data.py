"""Synthetic data set: sentences -> espeak-ng speech -> noise files -> NeMo manifests.

Layout under ``out``::

    sentences_train.txt, sentences_heldout.txt, sentences_natural.txt
    wav/train/*.wav      training voices, training sentences (some vocal-tract or mic perturbed)
    wav/room/*.wav       training utterances in a simulated room (image-source RIR)
    wav/tel/*.wav        training utterances down a telephone line (noise, band, codec; stored at 16 kHz)
    wav/pool/*.wav       other training sentences in training voices: babble for the training noise
    wav/eval/*.wav       held-out voices, held-out generator sentences (evaluation)
    wav/val/*.wav        held-out voices, other held-out sentences (validation, eval babble)
    wav/natural/*.wav    held-out voices, natural sentences (held-out corpus slice + written sentences)
    noise/{train,eval}/KIND_I.wav
    asr_train.json, asr_val.json, eval.json, natural.json, noise_train.json, noise_eval.json

Manifest lines are NeMo's: {"audio_filepath", "duration", "text"} with the
text in NFC syllables; the ASR decomposes it to jamo (see ``asr.py``).
Everything is derived from ``seed``.
"""
import json
import random
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

from . import channel, noise, speech, text

SR = speech.SAMPLE_RATE


def _synth_job(job):
    """One training or held-out utterance: espeak-ng, then (training only) vocal tract, room or telephone, mic."""
    path, sentence, voice, seed, plan = job
    r = np.random.default_rng(seed)
    x = speech.synthesize(sentence, voice)
    if plan.get("alpha"):
        x = channel.vocal_tract(x, plan["alpha"])
    if plan.get("rir") is not None:
        x = channel.reverberate(x, plan["rir"])
    if plan.get("telephone"):
        noise_, snr, codec = plan["telephone"]
        x = channel.telephone(x, noise_, snr, codec, r)
    if plan.get("microphone"):
        x = channel.microphone(x, r)
    else:
        x = x / (np.abs(x).max() + 1e-9) * r.uniform(0.2, 0.9)   # level variety
    speech.write(path, x)
    return [(str(path), len(x) / SR, sentence)]


def write_manifest(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for audio, duration, sentence in rows:
            f.write(json.dumps({"audio_filepath": str(audio), "duration": round(duration, 3), "text": sentence},
                               ensure_ascii=False) + "\n")


def read_manifest(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _noise_files(folder: Path, pool, n_per_kind: dict[str, int], seconds: float, seed: int):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for kind in noise.KINDS:
        for i in range(n_per_kind[kind]):
            x = noise.make(kind, int(seconds * SR), rng, pool) * 0.1
            path = folder / f"{kind}_{i}.wav"
            speech.write(path, x)
            rows.append((path, seconds, ""))
    return rows


@dataclass(frozen=True)
class Recipe:
    """How training utterances are drawn: text sources (counts) and the shares of each acoustic path."""
    n_generator: int = 8000      # numbers, dates, phrases, word sequences (text.make_sentences)
    corpus_voices: int = 3       # each training sentence of konlpy's corpora spoken by this many voices
    n_corpus: int | None = None  # at most this many corpus sentences for training (None: all)
    n_natural: int | None = None  # at most this many natural held-out sentences (None: all)
    n_kiwi: int = 2500           # Kiwi-joined template sentences
    n_faker: int = 3500          # call-centre and in-car phrases with Faker names and addresses
    vocal_tract: float = 0.5     # share resampled by alpha in 0.85..1.15
    room: float = 0.25           # share convolved with a room impulse response (RT60 0.2-0.9 s)
    telephone: float = 0.15      # share sent down a telephone line (noise first, band, codec)
    microphone: float = 0.3      # share (of the rest) through a random mic EQ and level
    n_rooms: int = 60


SMOKE_RECIPE = Recipe(n_generator=120, corpus_voices=1, n_corpus=20, n_natural=10, n_kiwi=20, n_faker=20, n_rooms=2)


def _plans(n, recipe, rng, rooms, noise_rows):
    """Per training utterance: its vocal-tract factor, room, telephone line (noise, SNR, codec) and mic."""
    plans = []
    for _ in range(n):
        plan = {"alpha": float(rng.uniform(0.85, 1.15)) if rng.random() < recipe.vocal_tract else None}
        u = rng.random()
        if u < recipe.room:
            plan["rir"] = rooms[int(rng.integers(len(rooms)))]
        elif u < recipe.room + recipe.telephone:
            noisy = rng.random() < 0.7
            plan["telephone"] = (noise_rows[int(rng.integers(len(noise_rows)))] if noisy else None,
                                 float(rng.uniform(5, 20)), [None, *channel.CODECS][int(rng.integers(5))])
        plan["microphone"] = "telephone" not in plan and rng.random() < recipe.microphone
        plans.append(plan)
    return plans


def build(out="runs/data", n_train=20000, n_heldout=300, n_val=100, recipe: Recipe = Recipe(),
          noise_per_kind=10, noise_seconds=10.0, seed=0, workers=2, log=print):
    """Sentences from every text source, speech in the training voices through the recipe's acoustic paths,
    held-out sets (generator sentences and natural sentences, held-out voices, clean), noise files, manifests.

    ``n_train`` sizes the generator's sentence list as in the first recipe, so its held-out sentences are the
    same ones; ``recipe.n_generator`` of its training sentences are spoken.
    """
    out = Path(out).resolve()
    sentences = text.make_sentences(n_train + n_heldout + n_val, seed=seed)
    gen_train, held_s = text.split(sentences, n_heldout + n_val, seed=seed)
    eval_s, val_s = held_s[:n_heldout], held_s[n_heldout:]
    corpus_train, corpus_held = text.corpus_split()
    corpus_train = corpus_train[:recipe.n_corpus]
    natural_s = list(dict.fromkeys(corpus_held + written_heldout()))[:recipe.n_natural]
    held = set(held_s) | set(natural_s)
    r = random.Random(seed + 2)
    spoken = [(s, speech.random_voice(r)) for s in gen_train[:recipe.n_generator]]
    spoken += [(s, speech.random_voice(r)) for s in corpus_train for _ in range(recipe.corpus_voices)]
    spoken += [(s, speech.random_voice(r)) for s in text.natural_sentences(recipe.n_kiwi, recipe.n_faker, seed)]
    spoken = [(s, v) for s, v in spoken if s not in held]
    # every training sentence: the spoken ones, then the generator's unspoken rest (text only, for the label LM)
    train_s = list(dict.fromkeys([s for s, _ in spoken] + gen_train))
    (out / "sentences_train.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "sentences_train.txt").write_text("\n".join(train_s) + "\n", encoding="utf-8")
    (out / "sentences_heldout.txt").write_text("\n".join(held_s) + "\n", encoding="utf-8")
    (out / "sentences_natural.txt").write_text("\n".join(natural_s) + "\n", encoding="utf-8")
    assert not set(train_s) & held

    # babble pool first: other training sentences in training voices, clean
    for name in ("pool", "train", "tel", "room", "eval", "val", "natural"):
        (out / "wav" / name).mkdir(parents=True, exist_ok=True)
    rows = {}
    with Pool(workers) as pool:
        def synth(split, jobs):
            rows[split] = [row for res in pool.imap(_synth_job, jobs, chunksize=16) for row in res]
            log(f"{split}: {len(rows[split])} utterances, {sum(d for _, d, _ in rows[split]) / 3600:.2f} h")

        n_pool = min(400, len(gen_train) - recipe.n_generator) if len(gen_train) > recipe.n_generator else 0
        pool_s = gen_train[recipe.n_generator:recipe.n_generator + n_pool] or train_s[:400]
        synth("pool", [(out / "wav" / "pool" / f"{i:05d}.wav", s, speech.random_voice(r), seed * 10**7 + 8 * 10**6 + i,
                        {}) for i, s in enumerate(pool_s)])
        held_jobs = {}
        for split, ss, base in (("eval", eval_s, 9 * 10**6), ("val", val_s, 9 * 10**6 + 10**5),
                                ("natural", natural_s, 9 * 10**6 + 2 * 10**5)):
            held_jobs[split] = [(out / "wav" / split / f"{i:05d}.wav", s, speech.random_voice(r, speech.HELDOUT_VOICES),
                                 seed * 10**7 + base + i, {}) for i, s in enumerate(ss)]
            synth(split, held_jobs[split])

        def load(rows_, k):
            return [sf.read(p, dtype="float32")[0] for p, _, _ in rows_[:k]]
        train_pool, eval_pool = load(rows["pool"], 400), load(rows["val"], 400)
        kinds_per = {k: noise_per_kind * (3 if k in ("babble", "cafe") else 1) for k in noise.KINDS}
        write_manifest(out / "noise_train.json", _noise_files(out / "noise" / "train", train_pool, kinds_per,
                                                              noise_seconds, seed + 3))
        write_manifest(out / "noise_eval.json", _noise_files(out / "noise" / "eval", eval_pool,
                                                             {k: max(2, noise_per_kind // 2) for k in noise.KINDS},
                                                             noise_seconds, seed + 4))
        noise_rows = [sf.read(row["audio_filepath"], dtype="float32")[0]
                      for row in read_manifest(out / "noise_train.json")]

        rng = np.random.default_rng(seed + 6)
        t0 = time.time()
        rooms = [channel.room_impulse(rng, float(rng.uniform(0.2, 0.9))) for _ in range(recipe.n_rooms)]
        log(f"{len(rooms)} room impulse responses in {time.time() - t0:.0f} s")
        plans = _plans(len(spoken), recipe, rng, rooms, noise_rows)
        jobs = []
        for i, ((s, v), plan) in enumerate(zip(spoken, plans)):
            folder = "tel" if plan.get("telephone") else "room" if plan.get("rir") is not None else "train"
            jobs.append((out / "wav" / folder / f"{i:06d}.wav", s, v, seed * 10**7 + i, plan))
        synth("train", jobs)
    with open(out / "voices.json", "w") as f:
        json.dump({split: [[str(j[0]), j[2].variant, j[2].speed, j[2].pitch] for j in js]
                   for split, js in {"train": jobs, **held_jobs}.items()}, f)
    write_manifest(out / "asr_train.json", rows["train"])
    write_manifest(out / "asr_val.json", rows["val"])
    write_manifest(out / "eval.json", rows["eval"])
    write_manifest(out / "natural.json", rows["natural"])
    log(f"data written to {out}")
    return out


def written_heldout() -> list[str]:
    """Everyday sentences written for evaluation (``heldout_sentences.txt``), never produced by a template."""
    path = Path(__file__).with_name("heldout_sentences.txt")
    return [text.normalize(s) for s in path.read_text(encoding="utf-8").split("\n") if s.strip()]
