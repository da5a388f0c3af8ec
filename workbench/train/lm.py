"""Label n-gram LM for a trained ASR: counted on the training sentences, fusion tuned on validation.

The LM counts the model's own labels (NFD jamo for a jamo model, characters
for a character model, the tokenizer's pieces for a BPE model) over
``sentences_train.txt`` (or ``text``, one sentence a line). Its beam-search fusion
settings (LM ``weight``, per-label ``bonus``) are picked by corpus CER on the
validation utterances (held-out sentences, held-out voices; or ``val_manifest``), clean and,
where the synthetic data's training noise is at hand, mixed with it at 5 dB. The result is saved beside the model
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
from ..errors import WorkbenchError
from . import noise as noise_mod
from .asr import jamo_labels
from .evaluate import crop, load_noises

WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6)
BONUSES = (0.0, 0.5, 1.0, 1.5, 2.0)


def label_ids(text: str, labels: list[str]) -> list[int]:
    """``text`` as label ids of a character vocabulary (decomposed to jamo when the labels are jamo)."""
    if any(len(label) != 1 for label in labels):
        raise ValueError("a label LM needs a character-vocabulary model (this one has multi-character tokens)")
    if jamo_labels(labels):
        text = unicodedata.normalize("NFD", text)
    index = {label: i for i, label in enumerate(labels)}
    return [index[c] for c in text if c in index]


def text_ids(model):
    """text -> the model's label ids: its tokenizer's pieces for a BPE model, :func:`label_ids` otherwise."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None:
        return lambda text: tokenizer.text_to_ids(unicodedata.normalize("NFC", text))
    labels = list(model.decoder.vocabulary)
    return lambda text: label_ids(text, labels)


def train(data="runs/data", asr_path="runs/asr/asr.nemo", order=6, weights=WEIGHTS, bonuses=BONUSES,
          threads=2, seed=0, text=None, val_manifest=None, log=print) -> Path:
    """Count the LM on ``text`` (default ``data/sentences_train.txt``), tune its fusion on ``val_manifest``
    (default ``data/asr_val.json``) and save it beside ``asr_path``."""
    torch.set_num_threads(threads)
    from ..asr import load_transcriber
    from ..asr.lm import LabelLM, lm_beside
    from ..metrics import corpus_cer

    data, t0 = Path(data), time.time()
    text, val_manifest = Path(text or data / "sentences_train.txt"), Path(val_manifest or data / "asr_val.json")
    for path in (text, val_manifest):
        if not path.is_file():
            raise WorkbenchError(f"not found: {path}")
    sentences = [line for line in manifest.utf8_text(text).split("\n") if line.strip()]
    entries = manifest.read(val_manifest)
    if not sentences or not entries:
        raise WorkbenchError(f"{text if not sentences else val_manifest} is empty")
    asr = load_transcriber(asr_path, lm=False)
    labels = list(asr.model.decoder.vocabulary)
    lm = LabelLM.train(map(text_ids(asr.model), sentences), labels, order)
    log(f"{order}-gram over {len(labels)} labels from {len(sentences)} sentences, {time.time() - t0:.0f} s")

    audio = [sf.read(entry.audio, dtype="float32")[0] for entry in entries]
    refs = [entry.text for entry in entries]
    noise_path = data / "noise_train.json"
    if noise_path.is_file():
        noises, rng = load_noises(noise_path), np.random.default_rng(seed)
        kinds = sorted(noises)   # one kind per utterance, cycling
        audio += [noise_mod.add_noise(speech, crop(noises[kinds[index % len(kinds)]], len(speech), rng), 5.0)
                  for index, speech in enumerate(audio)]
        refs *= 2
    asr.lm = lm
    scores = [asr.log_probs(signal) for signal in audio]
    greedy = corpus_cer(refs, [asr.decode(score, use_lm=False) for score in scores])
    results = {}
    for lm.weight, lm.bonus in itertools.product(weights, bonuses):
        results[(lm.weight, lm.bonus)] = corpus_cer(refs, [asr.decode(score) for score in scores])
    (lm.weight, lm.bonus), best = min(results.items(), key=lambda item: item[1])
    log(f"validation CER ({'clean + 5 dB' if noise_path.is_file() else 'clean'}, {len(refs)} utterances): "
        f"greedy {100 * greedy:.1f} %, beam + LM {100 * best:.1f} % at weight {lm.weight}, bonus {lm.bonus}")
    path = lm_beside(asr_path)
    lm.save(path)
    log(f"saved {path} ({path.stat().st_size / 2 ** 20:.1f} MiB) in {(time.time() - t0) / 60:.1f} min")
    return path
