"""Greedy CTC decoding, one frame at a time.

CTC emits a label per frame from the vocabulary plus a blank. The greedy path
takes the argmax of every frame; the text is that path with repeats merged
and blanks removed:  ``a a _ a b b _ -> a a b``  (the blank separates the two
``a``). Decoding frame by frame only needs the previous frame's label, so a
stream can be decoded chunk by chunk with the same result as the whole.
"""
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
    """Tokens of one utterance segment with the frame index each was emitted at."""

    tokens: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)


class GreedySegmenter:
    """Incremental greedy decoding that closes a segment after ``endpoint_frames`` of blank."""

    def __init__(self, blank: int, endpoint_frames: int):
        self.blank, self.endpoint_frames = blank, endpoint_frames
        self.segment = Segment()
        self._previous = None
        self._blank_run = 0
        self.frame = 0  # index of the next frame to decode

    def push(self, path) -> list[Segment]:
        """Decode frames; return the segments they closed (in order)."""
        closed = []
        for label in map(int, path):
            if label != self._previous and label != self.blank:
                self.segment.tokens.append(label)
                self.segment.frames.append(self.frame)
            self._blank_run = self._blank_run + 1 if label == self.blank else 0
            self._previous = label
            self.frame += 1
            if self.segment.tokens and self._blank_run >= self.endpoint_frames:
                closed.append(self.segment)
                self.segment = Segment()
        return closed

    def close(self) -> Segment | None:
        """End of stream: the open segment, if it holds anything."""
        segment, self.segment = self.segment, Segment()
        return segment if segment.tokens else None
