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

Manifests are NeMo's JSON lines (:mod:`workbench.manifest`), with the
text in NFC syllables; the ASR decomposes it to jamo (see ``asr.py``).
Everything is derived from ``seed``.
"""
import json
import random
import signal
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from .. import manifest
from ..audio import SAMPLE_RATE
from . import channel, noise, speech, text


class Line(NamedTuple):
    """A telephone line: ``noise`` (None: none) added at ``snr_db``, then the band and ``codec`` (None: none)."""
    noise: np.ndarray | None
    snr_db: float
    codec: str | None


@dataclass(frozen=True)
class Plan:
    """What happens to one utterance after espeak-ng, in this order; held-out utterances get ``Plan()``."""
    alpha: float | None = None       # vocal-tract factor (:func:`.channel.vocal_tract`)
    room: np.ndarray | None = None   # room impulse response (:func:`.channel.reverberate`)
    line: Line | None = None         # telephone line (:func:`.channel.telephone`)
    microphone: bool = False         # a random mic EQ and level; otherwise only a random peak level


class Job(NamedTuple):
    """One utterance to synthesise: where it goes, what is said, by whom, its generator's seed, its plan."""
    path: Path
    sentence: str
    voice: speech.Voice
    seed: int
    plan: Plan


def _synthesize(job: Job) -> manifest.Entry:
    """One training or held-out utterance: espeak-ng, then (training only) vocal tract, room or telephone, mic."""
    rng = np.random.default_rng(job.seed)
    audio = speech.synthesize(job.sentence, job.voice)
    plan = job.plan
    if plan.alpha:
        audio = channel.vocal_tract(audio, plan.alpha)
    if plan.room is not None:
        audio = channel.reverberate(audio, plan.room)
    if plan.line is not None:
        audio = channel.telephone(audio, plan.line.noise, plan.line.snr_db, plan.line.codec, rng)
    if plan.microphone:
        audio = channel.microphone(audio, rng)
    else:
        audio = audio / (np.abs(audio).max() + 1e-9) * rng.uniform(0.2, 0.9)   # level variety
    speech.write(job.path, audio)
    return manifest.Entry(str(job.path), job.sentence, len(audio) / SAMPLE_RATE)


def _noise_files(folder: Path, pool, files_per_kind: dict[str, int], seconds: float, seed: int) -> list[manifest.Entry]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = []
    for kind in noise.KINDS:
        for number in range(files_per_kind[kind]):
            audio = noise.make(kind, int(seconds * SAMPLE_RATE), rng, pool) * 0.1
            path = folder / f"{kind}_{number}.wav"
            speech.write(path, audio)
            entries.append(manifest.Entry(str(path), "", seconds))
    return entries


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


def _plans(count, recipe, rng, rooms, line_noises) -> list[Plan]:
    """Per training utterance: its vocal-tract factor, room, telephone line (noise, SNR, codec) and mic."""
    codecs = [None, *channel.CODECS]
    plans = []
    for _ in range(count):
        alpha = float(rng.uniform(0.85, 1.15)) if rng.random() < recipe.vocal_tract else None
        room = line = None
        path = rng.random()
        if path < recipe.room:
            room = rooms[int(rng.integers(len(rooms)))]
        elif path < recipe.room + recipe.telephone:
            noisy = rng.random() < 0.7
            line = Line(line_noises[int(rng.integers(len(line_noises)))] if noisy else None,
                        float(rng.uniform(5, 20)), codecs[int(rng.integers(len(codecs)))])
        plans.append(Plan(alpha, room, line, microphone=line is None and rng.random() < recipe.microphone))
    return plans


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def synthesis_pool(workers: int) -> Pool:
    """A process pool whose workers end on the pool's SIGTERM whatever handler the parent process has
    (one that notes the signal and goes on, as Lightning's does, kept a pool's exit waiting forever)."""
    return Pool(workers, initializer=_default_sigterm)


def build(out="runs/data", n_train=20000, n_heldout=300, n_val=100, recipe: Recipe = Recipe(),
          noise_per_kind=10, noise_seconds=10.0, seed=0, workers=2, log=print):
    """Sentences from every text source, speech in the training voices through the recipe's acoustic paths,
    held-out sets (generator sentences and natural sentences, held-out voices, clean), noise files, manifests.

    ``n_train`` sizes the generator's sentence list as in the first recipe, so its held-out sentences are the
    same ones; ``recipe.n_generator`` of its training sentences are spoken.
    """
    out = Path(out).resolve()
    sentences = text.make_sentences(n_train + n_heldout + n_val, seed=seed)
    generator_train, held_sentences = text.split(sentences, n_heldout + n_val, seed=seed)
    eval_sentences, val_sentences = held_sentences[:n_heldout], held_sentences[n_heldout:]
    corpus_train, corpus_held = text.corpus_split()
    corpus_train = corpus_train[:recipe.n_corpus]
    natural_sentences = list(dict.fromkeys(corpus_held + written_heldout()))[:recipe.n_natural]
    held = set(held_sentences) | set(natural_sentences)
    voice_rng = random.Random(seed + 2)
    spoken = [(sentence, speech.random_voice(voice_rng)) for sentence in generator_train[:recipe.n_generator]]
    spoken += [(sentence, speech.random_voice(voice_rng))
               for sentence in corpus_train for _ in range(recipe.corpus_voices)]
    spoken += [(sentence, speech.random_voice(voice_rng))
               for sentence in text.natural_sentences(recipe.n_kiwi, recipe.n_faker, seed)]
    spoken = [(sentence, voice) for sentence, voice in spoken if sentence not in held]
    # every training sentence: the spoken ones, then the generator's unspoken rest (text only, for the label LM)
    train_sentences = list(dict.fromkeys([sentence for sentence, _ in spoken] + generator_train))
    (out / "sentences_train.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "sentences_train.txt").write_text("\n".join(train_sentences) + "\n", encoding="utf-8")
    (out / "sentences_heldout.txt").write_text("\n".join(held_sentences) + "\n", encoding="utf-8")
    (out / "sentences_natural.txt").write_text("\n".join(natural_sentences) + "\n", encoding="utf-8")
    assert not set(train_sentences) & held

    # babble pool first: other training sentences in training voices, clean
    for name in ("pool", "train", "tel", "room", "eval", "val", "natural"):
        (out / "wav" / name).mkdir(parents=True, exist_ok=True)
    entries: dict[str, list[manifest.Entry]] = {}
    with synthesis_pool(workers) as workers_pool:
        def synthesize(split, jobs):
            entries[split] = list(workers_pool.imap(_synthesize, jobs, chunksize=16))
            hours = sum(entry.duration for entry in entries[split]) / 3600
            log(f"{split}: {len(entries[split])} utterances, {hours:.2f} h")

        n_pool = min(400, len(generator_train) - recipe.n_generator) if len(generator_train) > recipe.n_generator else 0
        pool_sentences = generator_train[recipe.n_generator:recipe.n_generator + n_pool] or train_sentences[:400]
        synthesize("pool", [Job(out / "wav" / "pool" / f"{number:05d}.wav", sentence, speech.random_voice(voice_rng),
                                seed * 10**7 + 8 * 10**6 + number, Plan())
                            for number, sentence in enumerate(pool_sentences)])
        held_jobs = {}
        for split, split_sentences, base in (("eval", eval_sentences, 9 * 10**6),
                                             ("val", val_sentences, 9 * 10**6 + 10**5),
                                             ("natural", natural_sentences, 9 * 10**6 + 2 * 10**5)):
            held_jobs[split] = [Job(out / "wav" / split / f"{number:05d}.wav", sentence,
                                    speech.random_voice(voice_rng, speech.HELDOUT_VOICES), seed * 10**7 + base + number,
                                    Plan()) for number, sentence in enumerate(split_sentences)]
            synthesize(split, held_jobs[split])

        def load(split, most):
            return [sf.read(entry.audio, dtype="float32")[0] for entry in entries[split][:most]]
        train_pool, eval_pool = load("pool", 400), load("val", 400)
        train_noises = _noise_files(out / "noise" / "train", train_pool,
                                    {kind: noise_per_kind * (3 if kind in ("babble", "cafe") else 1)
                                     for kind in noise.KINDS}, noise_seconds, seed + 3)
        manifest.write(out / "noise_train.json", train_noises)
        manifest.write(out / "noise_eval.json", _noise_files(out / "noise" / "eval", eval_pool,
                                                             {kind: max(2, noise_per_kind // 2) for kind in noise.KINDS},
                                                             noise_seconds, seed + 4))
        line_noises = [sf.read(entry.audio, dtype="float32")[0] for entry in train_noises]

        rng = np.random.default_rng(seed + 6)
        t0 = time.time()
        rooms = [channel.room_impulse(rng, float(rng.uniform(*channel.TRAINING_RT60))) for _ in range(recipe.n_rooms)]
        log(f"{len(rooms)} room impulse responses in {time.time() - t0:.0f} s")
        plans = _plans(len(spoken), recipe, rng, rooms, line_noises)
        jobs = []
        for number, ((sentence, voice), plan) in enumerate(zip(spoken, plans)):
            folder = "tel" if plan.line is not None else "room" if plan.room is not None else "train"
            jobs.append(Job(out / "wav" / folder / f"{number:06d}.wav", sentence, voice, seed * 10**7 + number, plan))
        synthesize("train", jobs)
    with open(out / "voices.json", "w") as f:
        json.dump({split: [[str(job.path), job.voice.variant, job.voice.speed, job.voice.pitch] for job in split_jobs]
                   for split, split_jobs in {"train": jobs, **held_jobs}.items()}, f)
    for name, split in (("asr_train", "train"), ("asr_val", "val"), ("eval", "eval"), ("natural", "natural")):
        manifest.write(out / f"{name}.json", entries[split])
    log(f"data written to {out}")
    return out


def written_heldout() -> list[str]:
    """Everyday sentences written for evaluation (``heldout_sentences.txt``), never produced by a template."""
    path = Path(__file__).with_name("heldout_sentences.txt")
    return [text.normalize(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
