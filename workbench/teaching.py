"""What a CTC model sees and does, as plain data for the teaching views.

A CTC model outputs, for every frame t (``frame_s`` seconds each), a
distribution p_t(k) over the vocabulary plus a blank. Three views follow:

- posteriorgram: p_t(k) = exp(log p_t(k)) for the blank and the k tokens with
  the highest peak probability over the utterance;
- greedy alignment: the path pi_t = argmax_k p_t(k); a run of equal non-blank
  labels is one output token, spanning the frames of the run, and the text is
  the path with repeats merged and blanks dropped;
- buffered streaming: the steps of :class:`workbench.asr.CTCStream`, observed
  while it runs: each chunk decoded with its left and right context, only the
  chunk's frames kept;
- cache-aware streaming: the steps of
  :class:`workbench.asr.cache_aware.CacheAwareStream`, observed while it runs:
  each computes one chunk of output frames once, from the new audio and the
  cached layer inputs of the frames before.
"""
from dataclasses import asdict, dataclass

import numpy as np

from .asr.ctc import collapse, greedy_path
from .asr.hangul import letter
from .asr.stream import CTCStream, StreamConfig, Window
from .asr.words import pieces, token_spans, word_groups
from .audio import SAMPLE_RATE

BLANK_LABEL = "∅"


def token_labels(transcriber, ids) -> list[str]:
    """Readable strings for token ids: the blank as ∅, a space as ␣, jamo as stand-alone letters."""
    ids = [int(i) for i in ids]
    spelled = iter(pieces(transcriber, [i for i in ids if i != transcriber.blank]))
    labels = []
    for i in ids:
        if i == transcriber.blank:
            labels.append(BLANK_LABEL)
            continue
        piece = next(spelled)
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

    @property
    def merged_labels(self) -> list[str]:
        """The path's labels with repeats merged: a run of one label id is one entry (two ids
        can share a label, e.g. initial and final ㄱ; those stay two entries)."""
        path = np.asarray(self.path)
        starts = np.flatnonzero(np.concatenate([[True], path[1:] != path[:-1]])) if len(path) else []
        return [self.path_labels[i] for i in starts]

    @property
    def kept_labels(self) -> list[str]:
        """The merged labels without blanks: one per output token."""
        return [token.text for token in self.tokens]


def alignment(transcriber, log_probs: np.ndarray) -> Alignment:
    """Greedy path, tokens with their frame runs, and words (tokens between spaces, see
    :func:`workbench.asr.words.word_groups`) with their extent."""
    path = greedy_path(log_probs)
    frame_s = transcriber.frame_s
    runs = token_spans(path, transcriber.blank)
    ids = [label for label, _, _ in runs]
    tokens = [Span(text, s, e, s * frame_s, e * frame_s, (label,))
              for text, (label, s, e) in zip(token_labels(transcriber, ids), runs)]
    words = []
    for group in word_groups(transcriber, ids):
        first, last, word_ids = tokens[group[0]], tokens[group[-1]], tuple(ids[i] for i in group)
        words.append(Span(transcriber.text(list(word_ids)), first.start, last.end, first.start_s, last.end_s, word_ids))
    text = transcriber.text(collapse(path, transcriber.blank))
    return Alignment(path, token_labels(transcriber, path), tokens, words, text, frame_s)


@dataclass(frozen=True)
class ChunkStep(Window):
    """One decoding step of the buffered stream: its :class:`~workbench.asr.stream.Window`
    (sample positions), the greedy path of the chunk's kept frames, the text it added and the
    hypothesis so far."""

    index: int
    path: np.ndarray
    new_text: str
    hypothesis: str


def stream_steps(transcriber, audio: np.ndarray, config: StreamConfig = StreamConfig()) -> list[ChunkStep]:
    """The steps :class:`~workbench.asr.CTCStream` takes on ``audio`` (fed whole, then flushed),
    observed through its ``on_step`` hook."""
    steps, path = [], np.zeros(0, np.int64)

    def observe(window: Window, log_probs: np.ndarray) -> None:
        nonlocal path
        kept = greedy_path(log_probs)
        before = collapse(path, transcriber.blank)
        path = np.concatenate([path, kept])
        after = collapse(path, transcriber.blank)
        steps.append(ChunkStep(**asdict(window), index=len(steps), path=kept,
                               new_text=transcriber.text(after[len(before):]), hypothesis=transcriber.text(after)))

    stream = CTCStream(transcriber, config, use_lm=False, on_step=observe)
    stream.feed(audio)
    stream.flush()
    return steps


@dataclass(frozen=True)
class CacheAwareStep(Window):
    """One step of the cache-aware stream: its :class:`~workbench.asr.stream.Window` (it computed
    the output frames of audio ``[start, end)`` once audio up to ``context_end`` had arrived,
    attending back to ``[context_start, start)`` through the cache) and the hypothesis so far."""

    index: int
    hypothesis: str


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
            steps.append(CacheAwareStep(context_start=max(0, first - context), start=first,
                                        end=min(stream.decoded_frames * hop, len(audio)),
                                        context_end=min(start + size, len(audio)), index=len(steps),
                                        hypothesis=" ".join(finals + [partial]).strip()))
    return steps
