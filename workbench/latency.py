"""Time as a measure: a stream played at real-time pace on a simulated clock, and its lags.

:func:`play` feeds a streamer ``feed_s`` of audio at a time, as a microphone would, without
sleeping: feed ``k`` (audio up to ``(k + 1) feed_s``) starts once that audio has arrived and
feed ``k - 1`` is done, and takes its measured compute time, so

    done_k = max(arrived_k, done_{k-1}) + compute_k,

and every event of feed ``k`` appears at ``done_k``. Two clocks measure the compute: ``wall``
(as it ran on this machine, load included) and ``cpu`` (the process's CPU time: as it would run
on a core of its own). Evaluating a stream costs its compute time, not its audio time.

The shown text at any time is the finals so far and the open partial. From the timed events,
:func:`measure` takes, for final ``k`` (an utterance):

- lag: the first time the open text equals final ``k``'s text (or final ``k`` arrives) minus the
  end of its speech (its last word's end, else the event's ``end_s``);
- emit, per word of final ``k`` with word times (``event.words``: ``text``, ``start_s``,
  ``end_s``): the first time the word is shown (matched in order within the open text that
  becomes final ``k``) minus the word's end;
- revisions: each change of the open text counts the shown words it changes or removes
  (appending words, or the last word growing, as "하" -> "한", is not a revision); a final that
  differs from the partial it replaces revises it too. Per minute of audio.
"""
import difflib
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from .audio import SAMPLE_RATE
from .metrics import normalise

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
FEED_S = 0.1  # audio per feed: a capture callback's worth
METRICS = ("lag_p50_s", "lag_p95_s", "emit_p50_s", "emit_p95_s", "revisions_per_min")


def play(streamer, audio: np.ndarray, feed_s: float = FEED_S, clocks=None) -> dict[str, tuple[list, float]]:
    """Feed ``audio`` to ``streamer`` (``feed(chunk)``, ``flush()``) at real-time pace on simulated
    clocks: per clock name, ``([(time the event appeared, event)], total compute seconds)``."""
    clocks = CLOCKS if clocks is None else clocks
    size = max(1, round(feed_s * SAMPLE_RATE))
    busy_until, compute, timed = dict.fromkeys(clocks, 0.0), dict.fromkeys(clocks, 0.0), {c: [] for c in clocks}
    for start in range(0, len(audio) + size, size):
        arrived = min(start + size, len(audio)) / SAMPLE_RATE
        began = {name: now() for name, now in clocks.items()}
        events = streamer.flush() if start >= len(audio) else streamer.feed(audio[start:start + size])
        for name, now in clocks.items():
            spent = now() - began[name]
            busy_until[name], compute[name] = max(arrived, busy_until[name]) + spent, compute[name] + spent
            timed[name] += [(busy_until[name], event) for event in events]
    return {name: (timed[name], compute[name]) for name in clocks}


def _words(text: str) -> list[str]:
    return normalise(text).split()


def _jamo(word: str) -> str:
    return unicodedata.normalize("NFD", word)


def revised(shown: list[str], new: list[str]) -> int:
    """How many of the ``shown`` words ``new`` changes or removes: words not kept in order
    (difflib's matching), unless ``new`` only appends words or grows the last one."""
    keep = len(shown) - 1
    if shown and new[:keep] == shown[:keep] and len(new) >= len(shown) and _jamo(new[keep]).startswith(_jamo(shown[-1])):
        return 0
    matcher = difflib.SequenceMatcher(None, shown, new, autojunk=False)
    return len(shown) - sum(block.size for block in matcher.get_matching_blocks())


@dataclass
class Latency:
    """Per-utterance lags, per-word emit times (s), the revision count and the audio's length."""

    lag_s: list[float] = field(default_factory=list)
    emit_s: list[float] = field(default_factory=list)
    revisions: int = 0
    audio_s: float = 0.0

    def __add__(self, other: "Latency") -> "Latency":
        return Latency(self.lag_s + other.lag_s, self.emit_s + other.emit_s,
                       self.revisions + other.revisions, self.audio_s + other.audio_s)

    def summary(self) -> dict[str, float]:
        """The :data:`METRICS` (NaN where nothing was measured)."""
        lag = np.percentile(self.lag_s, [50, 95]) if self.lag_s else [np.nan] * 2
        emit = np.percentile(self.emit_s, [50, 95]) if self.emit_s else [np.nan] * 2
        per_min = self.revisions / (self.audio_s / 60) if self.audio_s else np.nan
        return dict(zip(METRICS, [*map(float, lag), *map(float, emit), float(per_min)]))


def speech_end(final) -> float:
    """Where a final's speech ends: its last word's end if it has word times, else its ``end_s``."""
    words = getattr(final, "words", None) or ()
    return words[-1].end_s if words else final.end_s


def measure(timed, audio_s: float) -> Latency:
    """:class:`Latency` of one stream's ``[(time, event)]`` (as :func:`play` gives them)."""
    finals = [event for _, event in timed if event.final]
    first_equal: list[float | None] = [None] * len(finals)
    first_shown = [[None] * len(getattr(final, "words", None) or ()) for final in finals]
    open_words, revisions, k = [], 0, 0

    def show(words: list[str], at: float) -> None:
        spoken = [normalise(word.text) for word in getattr(finals[k], "words", None) or ()]
        matcher = difflib.SequenceMatcher(None, spoken, words, autojunk=False)
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                first_shown[k][i] = at if first_shown[k][i] is None else first_shown[k][i]
        if first_equal[k] is None and words == _words(finals[k].text):
            first_equal[k] = at

    for at, event in timed:
        words = _words(event.text)
        revisions += revised(open_words, words)
        if k < len(finals):
            show(words, at)
        if event.final:
            open_words, k = [], k + 1
        else:
            open_words = words
    lags = [at - speech_end(final) for at, final in zip(first_equal, finals)]
    emits = [at - word.end_s for final, shown in zip(finals, first_shown)
             for word, at in zip(getattr(final, "words", None) or (), shown)]
    return Latency(lags, emits, revisions, audio_s)
