"""Digital silence: an input without signal is decoded as blank.

A model that normalises its log-mel features per input, ``(x - mean) / std`` over time (NeMo's
``per_feature``, as the bundled one does), turns a constant input, such as digital zeros, into
all-zero features: the average of its training speech, on which its output is arbitrary (1 s of
zeros read as "ㅇ" with the LM). An input whose RMS is at most one PCM16 step (2^-15, -90 dBFS)
holds nothing but quantisation noise, so every frame of it is certain blank. Inputs with any
sound in them go to the model unchanged: there the silent stretches normalise far below it.
"""
import numpy as np

from .cache_aware import PER_UTTERANCE

SILENCE_RMS = 2.0 ** -15


def is_digital_silence(audio: np.ndarray) -> bool:
    """Whether ``audio``'s RMS is at most one PCM16 step (an empty input counts as silent)."""
    audio = np.asarray(audio, np.float32).ravel()
    return not audio.size or float(np.dot(audio, audio)) <= SILENCE_RMS ** 2 * audio.size


def certain_blank(frames: int, labels: int, blank: int) -> np.ndarray:
    """(frames, labels) log-probabilities with all mass on ``blank`` (the rest at float32's smallest log)."""
    scores = np.full((frames, labels), np.log(np.finfo(np.float32).tiny), np.float32)
    scores[:, blank] = 0.0
    return scores


def gate(model, audio: np.ndarray, log_probs: np.ndarray, blank: int) -> np.ndarray:
    """``log_probs`` of ``audio``, or certain blank where ``model`` normalises per input and
    ``audio`` is digital silence."""
    if model.preprocessor.featurizer.normalize in PER_UTTERANCE and is_digital_silence(audio):
        return certain_blank(*log_probs.shape, blank)
    return log_probs
