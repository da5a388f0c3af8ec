"""Buffered streaming for a full-context CTC model.

Audio is cut into chunks of ``chunk`` samples. Each chunk is run through the
model together with ``left`` samples before it and ``right`` samples after
it, and only the chunk's own output frames are kept:

    |-- left --|== chunk ==|-- right --|      one buffer, one forward pass
                ^ frames kept

Every sample is decoded once as "chunk", so cost grows linearly with the
stream, and text for a chunk is known once its right context has arrived:
the lag is at most ``chunk + right``. The CTC search (greedy, or beam search
with the LM) carries across chunk borders (see :mod:`.ctc`); a segment closes
on ``endpoint`` seconds of blank, which emits a final event.
"""
from dataclasses import asdict, dataclass

import numpy as np

from ..audio import SAMPLE_RATE, check_chunk
from .ctc import Segmenter


@dataclass(frozen=True)
class TranscriptEvent:
    """A hypothesis for the open segment (``final=False``) or a closed segment's text."""

    text: str
    final: bool
    start_s: float
    end_s: float

    def to_dict(self) -> dict:
        return asdict(self)


class CTCStream:
    """Feed audio chunks of any length; get :class:`TranscriptEvent` lists back."""

    def __init__(self, transcriber, chunk_s: float, left_s: float, right_s: float, endpoint_s: float,
                 use_lm: bool = True):
        frame = transcriber.frame_samples
        self.transcriber = transcriber
        self.chunk = max(1, round(chunk_s * SAMPLE_RATE / frame)) * frame
        self.left = max(0, round(left_s * SAMPLE_RATE / frame)) * frame
        self.right = max(0, round(right_s * SAMPLE_RATE / frame)) * frame
        self.text_events = TextEvents(transcriber, endpoint_s, use_lm)
        self._audio = np.zeros(0, np.float32)
        self._offset = 0     # absolute index of _audio[0]
        self._next = 0       # absolute index where the next undecoded chunk starts
        self._received = 0

    @property
    def latency_s(self) -> float:
        """Worst-case lag of text behind audio: one chunk plus the right context."""
        return (self.chunk + self.right) / SAMPLE_RATE

    @property
    def decoded_s(self) -> float:
        """Audio decoded so far, in seconds."""
        return self._next / SAMPLE_RATE

    def feed(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        chunk = check_chunk(chunk)
        self._audio = np.concatenate([self._audio, chunk])
        self._received += len(chunk)
        events = []
        while self._received >= self._next + self.chunk + self.right:
            events += self._decode(self._next, self._next + self.chunk)
        drop = max(0, self._next - self.left - self._offset)
        self._audio, self._offset = self._audio[drop:], self._offset + drop
        return events

    def flush(self) -> list[TranscriptEvent]:
        """Decode what is left (no right context exists any more) and close the segment."""
        events = []
        while self._next < self._received:
            events += self._decode(self._next, min(self._next + self.chunk, self._received))
        return events + self.text_events.close()

    def _decode(self, start: int, end: int) -> list[TranscriptEvent]:
        begin, stop = max(0, start - self.left), min(self._received, end + self.right)
        scores = self.transcriber.log_probs(self._audio[begin - self._offset:stop - self._offset])
        first = (start - begin) // self.transcriber.frame_samples
        count = None if end == self._received else (end - start) // self.transcriber.frame_samples
        frames = scores[first:] if count is None else scores[first:first + count]
        self._next = end
        return self.text_events.push(frames)


class TextEvents:
    """CTC log-probabilities in, :class:`TranscriptEvent` lists out, for any streamer.

    The search (greedy, or beam search with the LM) runs frame by frame over
    the pushed frames; a segment closes on ``endpoint_s`` of blank (a final
    event). After each push the open segment's best text is a partial event
    when it changed.
    """

    def __init__(self, transcriber, endpoint_s: float, use_lm: bool = True):
        self.transcriber = transcriber
        self.segmenter = Segmenter(transcriber.search(use_lm), transcriber.blank,
                                   max(1, round(endpoint_s / transcriber.frame_s)))
        self._partial = ""

    def push(self, log_probs: np.ndarray) -> list[TranscriptEvent]:
        """Decode (frames, labels) scores that follow the ones pushed before."""
        events = [self._final(segment) for segment in self.segmenter.push(log_probs)]
        if events:
            self._partial = ""
        open_segment = self.segmenter.segment
        text = self.transcriber.text(open_segment.tokens)
        if open_segment.tokens and text != self._partial:
            self._partial = text
            start_s = open_segment.frames[0] * self.transcriber.frame_s
            events.append(TranscriptEvent(text, False, start_s, self.segmenter.frame * self.transcriber.frame_s))
        return events

    def close(self) -> list[TranscriptEvent]:
        """End of stream: the open segment as a final event, if it holds anything."""
        segment = self.segmenter.close()
        self._partial = ""
        return [self._final(segment)] if segment else []

    def _final(self, segment) -> TranscriptEvent:
        frame_s = self.transcriber.frame_s
        return TranscriptEvent(self.transcriber.text(segment.tokens), True,
                               segment.frames[0] * frame_s, (segment.frames[-1] + 1) * frame_s)
