"""Label n-gram LM for a trained ASR: counted on the training sentences, fusion tuned on validation.

The LM counts the model's own labels (NFD jamo for a jamo model, characters
for a character model) over ``sentences_train.txt``. Its beam-search fusion
settings (LM ``weight``, per-label ``bonus``) are picked by corpus CER on the
validation utterances (held-out sentences, held-out voices), clean and mixed
with training noise at 5 dB. The result is saved beside the model
(``NAME.lm.npz`` next to ``NAME.nemo``), where ``load_transcriber`` finds it.
"""
import itertools
import time
import unicodedata
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .. import manifest
from . import noise as noise_mod
from .evaluate import crop, load_noises

WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6)
BONUSES = (0.0, 0.5, 1.0, 1.5, 2.0)


def label_ids(text: str, labels: list[str]) -> list[int]:
    """``text`` as label ids of a character vocabulary (decomposed to jamo when the labels are jamo)."""
    if any(len(label) != 1 for label in labels):
        raise ValueError("a label LM needs a character-vocabulary model (this one has multi-character tokens)")
    if any("\u1100" <= label <= "\u11ff" for label in labels):
        text = unicodedata.normalize("NFD", text)
    index = {label: i for i, label in enumerate(labels)}
    return [index[c] for c in text if c in index]


def train(data="runs/data", asr_path="runs/asr/asr.nemo", order=6, weights=WEIGHTS, bonuses=BONUSES,
          threads=2, seed=0, log=print) -> Path:
    torch.set_num_threads(threads)
    from ..asr import load_transcriber
    from ..asr.lm import LabelLM, lm_beside
    from ..metrics import corpus_cer

    data, t0 = Path(data), time.time()
    asr = load_transcriber(asr_path, lm=False)
    labels = list(asr.model.decoder.vocabulary)
    sentences = (data / "sentences_train.txt").read_text(encoding="utf-8").split("\n")
    lm = LabelLM.train((label_ids(sentence, labels) for sentence in sentences if sentence.strip()), labels, order)
    log(f"{order}-gram over {len(labels)} labels from {len(sentences)} sentences, {time.time() - t0:.0f} s")

    entries = manifest.read(data / "asr_val.json")
    clean = [sf.read(entry.audio, dtype="float32")[0] for entry in entries]
    noises, rng = load_noises(data / "noise_train.json"), np.random.default_rng(seed)
    kinds = sorted(noises)   # one kind per utterance, cycling
    audio = clean + [noise_mod.add_noise(speech, crop(noises[kinds[index % len(kinds)]], len(speech), rng), 5.0)
                     for index, speech in enumerate(clean)]
    refs = [entry.text for entry in entries] * 2
    asr.lm = lm
    scores = [asr.log_probs(signal) for signal in audio]
    greedy = corpus_cer(refs, [asr.decode(score, use_lm=False) for score in scores])
    results = {}
    for lm.weight, lm.bonus in itertools.product(weights, bonuses):
        results[(lm.weight, lm.bonus)] = corpus_cer(refs, [asr.decode(score) for score in scores])
    (lm.weight, lm.bonus), best = min(results.items(), key=lambda item: item[1])
    log(f"validation CER (clean + 5 dB, {len(refs)} utterances): greedy {100 * greedy:.1f} %, "
        f"beam + LM {100 * best:.1f} % at weight {lm.weight}, bonus {lm.bonus}")
    path = lm_beside(asr_path)
    lm.save(path)
    log(f"saved {path} ({path.stat().st_size / 2 ** 20:.1f} MiB) in {(time.time() - t0) / 60:.1f} min")
    return path
