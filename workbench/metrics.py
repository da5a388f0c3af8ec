"""Error rates for Korean transcripts.

CER = (substitutions + deletions + insertions) / reference characters, on
NFC syllables with spaces removed (Korean spacing is inconsistent, so CER
ignores it); WER is the same over space-separated words.
"""
import unicodedata

import jiwer


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, spaces ignored. An empty reference counts every hypothesis character."""
    ref = _normalise(reference).replace(" ", "")
    hyp = _normalise(hypothesis).replace(" ", "")
    if not ref:
        return float(len(hyp) > 0)
    return jiwer.cer(ref, hyp) if hyp else 1.0


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate over space-separated words."""
    ref, hyp = _normalise(reference), _normalise(hypothesis)
    if not ref:
        return float(len(hyp) > 0)
    return jiwer.wer(ref, hyp) if hyp else 1.0


def corpus_cer(references: list[str], hypotheses: list[str]) -> float:
    """CER over a corpus: total edits / total reference characters (not a mean of ratios)."""
    refs = [_normalise(r).replace(" ", "") for r in references]
    hyps = [_normalise(h).replace(" ", "") for h in hypotheses]
    edits = sum(len(r) * cer(r, h) for r, h in zip(refs, hyps))
    return edits / max(1, sum(map(len, refs)))
