"""CTC decoding, one frame at a time: greedy, or prefix beam search with a label LM.

CTC emits a label per frame from the vocabulary plus a blank. The greedy path
takes the argmax of every frame; the text is that path with repeats merged
and blanks removed:  ``a a _ a b b _ -> a a b``  (the blank separates the two
``a``). Both searches are frame-synchronous, so a stream decoded chunk by
chunk gives the same result as the whole signal.
"""
import math
from dataclasses import dataclass, field

import numpy as np


def greedy_path(log_probs: np.ndarray) -> np.ndarray:
    """Frame-wise argmax of (frames, labels) scores."""
    return np.asarray(log_probs).argmax(axis=-1)


def collapse(path, blank: int) -> list[int]:
    """Merge repeats, then drop blanks."""
    tokens, previous = [], None
    for label in map(int, path):
        if label != previous and label != blank:
            tokens.append(label)
        previous = label
    return tokens


@dataclass
class Segment:
    """Tokens of one utterance segment with the frame index each was emitted at; a closed
    segment also holds the log-probabilities of its frames, from frame ``first_frame`` on."""

    tokens: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    first_frame: int = 0
    log_probs: np.ndarray | None = None


class GreedySearch:
    """Greedy decoding, one frame at a time: the collapsed argmax path."""

    def __init__(self, blank: int):
        self.blank = blank
        self.reset()

    def reset(self) -> None:
        self.segment = Segment()
        self._previous = None

    def push(self, frame_index: int, scores: np.ndarray) -> None:
        label = int(np.argmax(scores))
        if label != self._previous and label != self.blank:
            self.segment.tokens.append(label)
            self.segment.frames.append(frame_index)
        self._previous = label

    def best(self) -> Segment:
        return Segment(list(self.segment.tokens), list(self.segment.frames))


def _logaddexp(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for Python floats (NumPy's ufunc is slow on scalars)."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def _add(table: dict, prefix: tuple, which: int, score: float) -> None:
    """Add ``score`` to the blank-ending (``which`` 0) or label-ending (1) probability of ``prefix``."""
    entry = table.setdefault(prefix, [-math.inf, -math.inf])
    entry[which] = _logaddexp(entry[which], score)


class PrefixBeamSearch:
    """CTC prefix beam search, frame-synchronous, with an optional label LM (shallow fusion).

    Each prefix (collapsed label sequence) keeps the log-probability of all
    paths that end in blank (``pb``) and in its last label (``pnb``). A frame
    either extends a prefix by a new label, repeats its last label, or emits
    blank. Extending by label ``c`` also adds ``weight * log P_lm(c | prefix)
    + bonus``; the ``bonus`` per label offsets the LM's pull towards short
    outputs. The ``beam`` best prefixes survive each frame; labels more than
    ``prune`` below a frame's best are not tried.
    """

    def __init__(self, blank: int, lm=None, weight: float = 0.5, bonus: float = 1.0,
                 beam: int = 16, prune: float = 8.0):
        self.blank, self.lm, self.weight, self.bonus = blank, lm, weight, bonus
        self.beam, self.prune = beam, prune
        self.reset()

    def reset(self) -> None:
        self.beams = {(): (0.0, -math.inf)}
        self.frames = {(): ()}  # prefix -> frame index at which each of its labels appeared

    def push(self, frame_index: int, scores: np.ndarray) -> None:
        """Advance all prefixes by one frame of log-probabilities."""
        scores = np.asarray(scores, np.float64)
        labels = [c for c in np.flatnonzero(scores >= scores.max() - self.prune).tolist() if c != self.blank]
        values, blank_score = scores.tolist(), float(scores[self.blank])
        following: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in self.beams.items():
            total = _logaddexp(pb, pnb)
            _add(following, prefix, 0, total + blank_score)
            if not labels:
                continue
            fused = (self.weight * self.lm.log_probs(prefix) + self.bonus).tolist() if self.lm is not None else None
            for label in labels:
                extra = (fused[label] if fused is not None else self.bonus) + values[label]
                extended = prefix + (label,)
                if prefix and label == prefix[-1]:
                    _add(following, prefix, 1, pnb + values[label])
                    _add(following, extended, 1, pb + extra)
                else:
                    _add(following, extended, 1, total + extra)
        ranked = sorted(following.items(), key=lambda item: -_logaddexp(*item[1]))[:self.beam]
        self.beams = {prefix: tuple(entry) for prefix, entry in ranked}
        # a survivor is an old prefix, or one extended in this frame from the old prefix before it
        old = self.frames
        self.frames = {prefix: old[prefix] if prefix in old else old[prefix[:-1]] + (frame_index,)
                       for prefix in self.beams}

    def best(self) -> Segment:
        prefix = max(self.beams, key=lambda p: _logaddexp(*self.beams[p]))
        return Segment(list(prefix), list(self.frames[prefix]))


class Segmenter:
    """Runs a search (greedy or beam) over a stream of frames and closes a segment
    once the greedy path has been blank for ``endpoint_frames`` frames; the search
    then starts afresh (also when the segment holds nothing, so silence keeps no frames)."""

    def __init__(self, search, blank: int, endpoint_frames: int):
        self.search, self.blank, self.endpoint_frames = search, blank, endpoint_frames
        self._blank_run = 0
        self._rows: list[np.ndarray] = []  # the open segment's frames
        self.frame = 0  # index of the next frame to decode

    @property
    def segment(self) -> Segment:
        """The open segment's best hypothesis so far."""
        return self.search.best()

    def push(self, log_probs: np.ndarray) -> list[Segment]:
        """Decode (frames, labels) scores; return the segments they closed (in order)."""
        closed = []
        for scores in np.asarray(log_probs):
            self.search.push(self.frame, scores)
            self._rows.append(scores)
            self._blank_run = self._blank_run + 1 if int(np.argmax(scores)) == self.blank else 0
            self.frame += 1
            if self._blank_run >= self.endpoint_frames:
                segment = self._restart()
                if segment.tokens:
                    closed.append(segment)
        return closed

    def close(self) -> Segment | None:
        """End of stream: the open segment, if it holds anything."""
        segment = self._restart()
        return segment if segment.tokens else None

    def _restart(self) -> Segment:
        """The open segment's best hypothesis with its frames; the search starts afresh."""
        segment = self.search.best()
        segment.first_frame = self.frame - len(self._rows)
        segment.log_probs = np.array(self._rows)
        self.search.reset()
        self._rows = []
        return segment
