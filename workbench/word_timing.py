"""Word times against known boundaries: words spoken one at a time, with pauses between them.

Each word is synthesised alone (espeak-ng, :mod:`workbench.train.speech`, as the training data
is) and cut to where it is audible (``|x| > 1e-3``); the clips are joined with ``pause_s`` of
silence before, between and after them, so every word's true span is known to the sample. A
reference word is matched to the recognised word that overlaps it most (the nearest one when
none does); its errors are ``|start - true start|`` and ``|end - true end|``, and the score is
their median over all starts and ends.
"""
from collections.abc import Sequence

import numpy as np

from .asr.words import Word
from .audio import SAMPLE_RATE

AUDIBLE = 1e-3


def spoken_words(words: Sequence[str], voice, pause_s: float = 0.35) -> tuple[np.ndarray, list[Word]]:
    """(audio, each word with its true span) for ``words`` read one by one by the espeak-ng ``voice``."""
    from .train.speech import synthesize

    pause = np.zeros(round(pause_s * SAMPLE_RATE), np.float32)
    pieces, truth, at = [pause], [], len(pause)
    for word in words:
        clip = synthesize(word, voice)
        audible = np.flatnonzero(np.abs(clip) > AUDIBLE)
        clip = clip[audible[0]:audible[-1] + 1]
        truth.append(Word(word, at / SAMPLE_RATE, (at + len(clip)) / SAMPLE_RATE))
        pieces += [clip, pause]
        at += len(clip) + len(pause)
    return np.concatenate(pieces), truth


def _overlap_s(a: Word, b: Word) -> float:
    """How long two words overlap (negative: the gap between them)."""
    return min(a.end_s, b.end_s) - max(a.start_s, b.start_s)


def matches(found: Sequence[Word], truth: Sequence[Word]) -> list[Word]:
    """For every true word, the found word that overlaps it most (the nearest when none does)."""
    if not found:
        raise ValueError("no words were recognised")
    return [found[int(np.argmax([_overlap_s(word, w) for w in found]))]
            for word in truth]


def boundary_errors(found: Sequence[Word], truth: Sequence[Word]) -> list[float]:
    """Start and end errors (s) of every true word against its match (:func:`matches`)."""
    return [error for word, match in zip(truth, matches(found, truth))
            for error in (abs(match.start_s - word.start_s), abs(match.end_s - word.end_s))]


def overlapped(found: Sequence[Word], truth: Sequence[Word]) -> list[bool]:
    """Whether each true word overlaps some found word."""
    return [any(_overlap_s(word, w) > 0 for w in found) for word in truth]
