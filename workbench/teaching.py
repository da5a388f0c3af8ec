"""What a CTC model sees and does, as plain data for the teaching views.

A CTC model outputs, for every frame t (``frame_s`` seconds each), a
distribution p_t(k) over the vocabulary plus a blank. Three views follow:

- posteriorgram: p_t(k) = exp(log p_t(k)) for the blank and the k tokens with
  the highest peak probability over the utterance;
- greedy alignment: the path pi_t = argmax_k p_t(k); a run of equal non-blank
  labels is one output token, spanning the frames of the run, and the text is
  the path with repeats merged and blanks dropped;
- buffered streaming: the chunks of :class:`workbench.asr.CTCStream`, each
  decoded with its left and right context, only the chunk's frames kept;
- cache-aware streaming: the steps of
  :class:`workbench.asr.cache_aware.CacheAwareStream`, observed while it runs:
  each computes one chunk of output frames once, from the new audio and the
  cached layer inputs of the frames before.
"""
import unicodedata
from dataclasses import dataclass

import numpy as np

from .asr.ctc import collapse, greedy_path
from .asr.hangul import letter
from .audio import SAMPLE_RATE

BLANK_LABEL = "∅"


def token_labels(transcriber, ids) -> list[str]:
    """Readable strings for token ids: the blank as ∅, a space as ␣, jamo as stand-alone letters."""
    ids = [int(i) for i in ids]
    words = transcriber.model.decoding.decode_ids_to_tokens([i for i in ids if i != transcriber.blank])
    pieces = iter(words)
    labels = []
    for i in ids:
        if i == transcriber.blank:
            labels.append(BLANK_LABEL)
            continue
        piece = unicodedata.normalize("NFC", next(pieces)).replace("▁", " ")
        labels.append("␣" if not piece.strip() else "".join(map(letter, piece)))
    return labels


@dataclass(frozen=True)
class Posteriorgram:
    """``probs[r, t]`` for the rows ``ids`` (row 0 is the blank); ``times`` are frame starts in seconds."""

    probs: np.ndarray
    ids: list[int]
    labels: list[str]
    times: np.ndarray
    frame_s: float


def top_tokens(transcriber, log_probs: np.ndarray, top: int = 8) -> list[int]:
    """The blank, then the ``top`` tokens ranked by their peak probability max_t p_t(k)."""
    peaks = np.asarray(log_probs).max(axis=0).astype(np.float64)
    peaks[transcriber.blank] = -np.inf
    return [transcriber.blank] + [int(k) for k in np.argsort(-peaks, kind="stable")[:top]]


def posteriorgram(transcriber, log_probs: np.ndarray, top: int = 8, ids: list[int] | None = None) -> Posteriorgram:
    """p_t(k) for the rows ``ids`` (default: :func:`top_tokens`), e.g. the same rows for raw and denoised."""
    probs = np.exp(np.asarray(log_probs, np.float64))
    ids = top_tokens(transcriber, log_probs, top) if ids is None else [int(i) for i in ids]
    times = np.arange(len(probs)) * transcriber.frame_s
    return Posteriorgram(probs[:, ids].T, ids, token_labels(transcriber, ids), times, transcriber.frame_s)


@dataclass(frozen=True)
class Span:
    """Output text over frames ``[start, end)``, i.e. seconds ``[start_s, end_s)``."""

    text: str
    start: int
    end: int
    start_s: float
    end_s: float
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Alignment:
    """The greedy path, its collapsed tokens and text, and where each token and word sits in time."""

    path: np.ndarray
    path_labels: list[str]
    tokens: list[Span]
    words: list[Span]
    text: str
    frame_s: float


def token_spans(path, blank: int) -> list[tuple[int, int, int]]:
    """(label, start, end) for every run of one non-blank label in ``path``: one per output token."""
    path = np.asarray(path)
    edges = np.flatnonzero(np.diff(path)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(path)]])
    return [(int(path[s]), int(s), int(e)) for s, e in zip(starts, ends) if path[s] != blank]


def alignment(transcriber, log_probs: np.ndarray) -> Alignment:
    """Greedy path, tokens with their frame runs, and words (tokens between spaces) with their extent."""
    path = greedy_path(log_probs)
    frame_s = transcriber.frame_s
    runs = token_spans(path, transcriber.blank)
    labels = token_labels(transcriber, [label for label, _, _ in runs])
    tokens = [Span(text, s, e, s * frame_s, e * frame_s, (label,)) for text, (label, s, e) in zip(labels, runs)]
    words, current = [], []
    for token in tokens + [None]:
        starts_word = token is None or token.text == "␣" or token.text.startswith(" ")
        if starts_word and current:
            ids = tuple(i for t in current for i in t.ids)
            words.append(Span(transcriber.text(list(ids)), current[0].start, current[-1].end,
                              current[0].start_s, current[-1].end_s, ids))
            current = []
        if token is not None and token.text != "␣":
            current.append(token)
    text = transcriber.text(collapse(path, transcriber.blank))
    return Alignment(path, token_labels(transcriber, path), tokens, words, text, frame_s)


@dataclass(frozen=True)
class ChunkStep:
    """One decoding step of the buffered stream, in samples: ``[left, start)`` left context,
    ``[start, end)`` the chunk, ``[end, right)`` right context. The step can only run once
    audio up to ``right`` has arrived, so the chunk's first sample waits ``right - start``."""

    index: int
    left: int
    start: int
    end: int
    right: int
    path: np.ndarray
    new_text: str
    hypothesis: str

    @property
    def ready_s(self) -> float:
        return self.right / SAMPLE_RATE

    @property
    def wait_s(self) -> float:
        """How long the chunk's first sample waits for its text (compute time not included)."""
        return (self.right - self.start) / SAMPLE_RATE


def stream_steps(transcriber, audio: np.ndarray, chunk_s: float = 1.0, left_s: float = 2.0,
                 right_s: float = 0.5) -> list[ChunkStep]:
    """The chunks :class:`~workbench.asr.CTCStream` decodes for ``audio`` (fed whole, then flushed),
    each with its kept greedy path, the text it added and the hypothesis so far."""
    stream = transcriber.streamer(chunk_s, left_s, right_s, cache_aware=False)
    hop, total = transcriber.frame_samples, len(audio)
    steps, path = [], np.zeros(0, np.int64)
    for index, start in enumerate(range(0, total, stream.chunk)):
        end = min(start + stream.chunk, total)
        begin, stop = max(0, start - stream.left), min(total, end + stream.right)
        scores = transcriber.log_probs(audio[begin:stop])
        first = (start - begin) // hop
        kept = scores[first:] if end == total else scores[first:first + (end - start) // hop]
        before = collapse(path, transcriber.blank)
        path = np.concatenate([path, greedy_path(kept)])
        after = collapse(path, transcriber.blank)
        steps.append(ChunkStep(index, begin, start, end, stop, greedy_path(kept),
                               transcriber.text(after[len(before):]), transcriber.text(after)))
    return steps


@dataclass(frozen=True)
class CacheAwareStep:
    """One step of the cache-aware stream, in samples: it computed the output frames of audio
    ``[start, end)`` once audio up to ``ready`` had arrived, attending back to ``[left, start)``
    through the cache."""

    index: int
    left: int
    start: int
    end: int
    ready: int
    hypothesis: str

    @property
    def ready_s(self) -> float:
        return self.ready / SAMPLE_RATE

    @property
    def wait_s(self) -> float:
        """How long the chunk's first sample waits for its text (compute time not included)."""
        return (self.ready - self.start) / SAMPLE_RATE


def cache_aware_steps(transcriber, audio: np.ndarray, feed_s: float = 0.01) -> list[CacheAwareStep]:
    """The steps the transcriber's cache-aware streamer takes on ``audio`` fed ``feed_s`` at a time
    (greedy): a step ran wherever a feed made its decoded frames grow."""
    stream = transcriber.streamer(use_lm=False, cache_aware=True)
    hop, size = transcriber.frame_samples, max(1, round(feed_s * SAMPLE_RATE))
    context = int(stream.encoder.att_context_size[0]) * hop
    steps, finals, partial = [], [], ""
    for start in range(0, len(audio) + size, size):
        before = stream.decoded_frames
        events = stream.feed(audio[start:start + size]) if start < len(audio) else stream.flush()
        for event in events:
            finals, partial = (finals + [event.text], "") if event.final else (finals, event.text)
        if stream.decoded_frames > before:
            first = before * hop
            steps.append(CacheAwareStep(len(steps), max(0, first - context), first,
                                        min(stream.decoded_frames * hop, len(audio)), min(start + size, len(audio)),
                                        " ".join(finals + [partial]).strip()))
    return steps
