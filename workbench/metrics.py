"""Error rates for Korean transcripts, built on integer edit counts, and SI-SDR for enhanced speech.

``char_edits`` = substitutions + deletions + insertions between NFC syllable
strings with spaces removed (Korean spacing is inconsistent, so CER ignores
it); ``word_edits`` is the same over space-separated words. A rate divides
edits by reference length; a corpus rate pools them:
``corpus_cer = Σ char_edits / Σ reference characters`` (not a mean of ratios),
so a hypothesis for an empty reference still counts its insertions.
"""
import unicodedata

import jiwer
import numpy as np


def normalise(text: str) -> str:
    """NFC, with runs of whitespace collapsed to one space: the form every reference is scored in."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _characters(text: str) -> str:
    return normalise(text).replace(" ", "")


def _edits(reference, hypothesis, process) -> int:
    if not reference or not hypothesis:
        return len(reference) + len(hypothesis)
    out = process(reference, hypothesis)
    return out.substitutions + out.deletions + out.insertions


def char_edits(reference: str, hypothesis: str) -> int:
    """Levenshtein distance between the syllables of both, spaces ignored."""
    return _edits(_characters(reference), _characters(hypothesis), jiwer.process_characters)


def word_edits(reference: str, hypothesis: str) -> int:
    """Levenshtein distance between the space-separated words of both."""
    return _edits(normalise(reference).split(), normalise(hypothesis).split(),
                  lambda ref, hyp: jiwer.process_words(" ".join(ref), " ".join(hyp)))


def ref_chars(reference: str) -> int:
    return len(_characters(reference))


def ref_words(reference: str) -> int:
    return len(normalise(reference).split())


def rate(edits: int, length: int) -> float:
    """edits / length; an empty reference gives 0 for an empty hypothesis and 1 otherwise."""
    return edits / length if length else float(edits > 0)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, spaces ignored."""
    return rate(char_edits(reference, hypothesis), ref_chars(reference))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate over space-separated words."""
    return rate(word_edits(reference, hypothesis), ref_words(reference))


def corpus_cer(references: list[str], hypotheses: list[str]) -> float:
    """CER over a corpus: total edits / total reference characters."""
    edits = sum(char_edits(r, h) for r, h in zip(references, hypotheses, strict=True))
    return rate(edits, sum(map(ref_chars, references)))


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019).

    Over the common length, both made zero-mean, the reference scaled to its best fit
    ``target = <estimate, reference> / <reference, reference> * reference``:
    ``SI-SDR = 10 log10(|target|² / |estimate - target|²)``; any gain on the estimate leaves it unchanged.
    """
    length = min(len(estimate), len(reference))
    est, ref = estimate[:length].astype(np.float64), reference[:length].astype(np.float64)
    est, ref = est - est.mean(), ref - ref.mean()
    target = np.dot(est, ref) / (np.dot(ref, ref) + 1e-12) * ref
    return float(10 * np.log10(np.sum(target ** 2) / (np.sum((est - target) ** 2) + 1e-12) + 1e-12))
