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

The three sizes travel as one :class:`StreamConfig` (NeMo's ``ContextSize``);
the endpoint is the search's setting, shared with the cache-aware streamer,
which has no chunk or context sizes of its own to set.
"""
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..audio import SAMPLE_RATE, check_chunk
from .ctc import Segmenter
from .hangul import whole_syllables
from .words import Word, segment_words

ENDPOINT_S = 0.8  # seconds of blank that close a segment


def check_seconds(value: float, positive: bool = False) -> float:
    """``value`` if it is a finite number of seconds >= 0 (> 0 if ``positive``), else ValueError."""
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"expected a finite number of seconds {'> 0' if positive else '>= 0'}, got {value}")
    return value


@dataclass(frozen=True)
class StreamConfig:
    """Buffered-stream sizes in seconds: each ``chunk_s`` of audio is decoded with ``left_s``
    before it and ``right_s`` after it. A chunk is > 0, the contexts >= 0, all finite."""

    chunk_s: float = 1.0
    left_s: float = 2.0
    right_s: float = 0.5

    def __post_init__(self):
        for name in ("chunk_s", "left_s", "right_s"):
            try:
                check_seconds(getattr(self, name), positive=name == "chunk_s")
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None


@dataclass(frozen=True)
class Window:
    """One decoding step of :class:`CTCStream`, in absolute samples: the model sees
    ``[context_start, context_end)``, that is left context ``[context_start, start)``, the
    chunk ``[start, end)`` (only its frames are kept) and right context ``[end, context_end)``.
    The step runs once audio up to ``context_end`` has arrived."""

    context_start: int
    start: int
    end: int
    context_end: int

    @property
    def ready_s(self) -> float:
        return self.context_end / SAMPLE_RATE

    @property
    def wait_s(self) -> float:
        """How long the chunk's first sample waits for its text (compute time not included)."""
        return (self.context_end - self.start) / SAMPLE_RATE


@dataclass(frozen=True)
class TranscriptEvent:
    """A hypothesis for the open segment (``final=False``) or a closed segment's text; a final
    also carries its words with their times (their texts joined by spaces are its text)."""

    text: str
    final: bool
    start_s: float
    end_s: float
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict:
        """``{text, final, start_s, end_s}``, and ``words`` (``[{text, start_s, end_s}]``) for a final."""
        fields = asdict(self)
        words = fields.pop("words")
        return {**fields, "words": list(words)} if self.final else fields


class CTCStream:
    """Feed audio chunks of any length; get :class:`TranscriptEvent` lists back.

    ``chunk``, ``left`` and ``right`` are the config's sizes in samples, whole output frames.
    ``on_step(window, log_probs)``, if given, sees every step: its :class:`Window` and the
    chunk's kept (frames, labels) log-probabilities.
    """

    def __init__(self, transcriber, config: StreamConfig = StreamConfig(), endpoint_s: float = ENDPOINT_S,
                 use_lm: bool = True, on_step: Callable[[Window, np.ndarray], None] | None = None):
        frame = transcriber.frame_samples
        self.transcriber, self.config, self.on_step = transcriber, config, on_step
        self.chunk = max(1, round(config.chunk_s * SAMPLE_RATE / frame)) * frame
        self.left = max(0, round(config.left_s * SAMPLE_RATE / frame)) * frame
        self.right = max(0, round(config.right_s * SAMPLE_RATE / frame)) * frame
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
        window = Window(max(0, start - self.left), start, end, min(self._received, end + self.right))
        scores = self.transcriber.log_probs(self._audio[window.context_start - self._offset:
                                                        window.context_end - self._offset])
        first = (start - window.context_start) // self.transcriber.frame_samples
        count = None if end == self._received else (end - start) // self.transcriber.frame_samples
        frames = scores[first:] if count is None else scores[first:first + count]
        self._next = end
        if self.on_step is not None:
            self.on_step(window, frames)
        return self.text_events.push(frames)


class TextEvents:
    """CTC log-probabilities in, :class:`TranscriptEvent` lists out, for any streamer.

    The search (greedy, or beam search with the LM) runs frame by frame over
    the pushed frames; a segment closes on ``endpoint_s`` of blank (a final
    event, with its words timed by :func:`~.words.segment_words`). After each push the
    open segment's best text is a partial event when what it shows changed: a
    partial shows whole syllables only (:func:`~.hangul.whole_syllables`), so
    an unfinished one waits for its vowel, and a final keeps its full text.
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
        text = whole_syllables(self.transcriber.text(open_segment.tokens))
        if text and text != self._partial:
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
        return final_event(self.transcriber, segment)


def final_event(transcriber, segment, offset_s: float = 0.0) -> TranscriptEvent:
    """A decoded segment as a final event, its times ``offset_s`` later: its text from its first
    label's frame to its last's, widened to cover its words."""
    frame_s = transcriber.frame_s
    timed = tuple(Word(w.text, offset_s + w.start_s, offset_s + w.end_s) for w in segment_words(transcriber, segment))
    start_s, end_s = offset_s + segment.frames[0] * frame_s, offset_s + (segment.frames[-1] + 1) * frame_s
    if timed:
        start_s, end_s = min(start_s, timed[0].start_s), max(end_s, timed[-1].end_s)
    return TranscriptEvent(transcriber.text(segment.tokens), True, start_s, end_s, timed)
