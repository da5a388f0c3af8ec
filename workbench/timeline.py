"""A teaching view of time: for one stream, each word of its finals and what the shown text said
in its place, from the first partial that showed something there to the final.

:func:`word_histories` reads the timed events of :func:`workbench.latency.play`. The words of
final ``k`` are its timed words (``event.words``: each word at its own spoken span), or, for a
final without word times, its text's words with no span. The open text (partial) before final
``k`` is aligned word by word with final ``k`` (difflib's opcodes: equal words, and replaced words
pairwise); the form shown at a word's place is recorded each time it changes.
:func:`timeline_figure` draws the audio and, per word, its spoken span (no bar where it is not
known: the utterance's span is outlined instead), the forms it was shown as (a change after the
first is a revision) and the moment it became final. :func:`stream_timeline` streams a signal
and draws it.
"""
import difflib
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .audio import SAMPLE_RATE
from .metrics import normalise


@dataclass
class WordHistory:
    """One word of a final: where it was spoken, the forms shown in its place, when it became final."""

    text: str
    spoken: tuple[float, float] | None     # (start_s, end_s) from the final's word times; None: not known
    utterance: tuple[float, float]         # its final's (start_s, end_s)
    shown: list[tuple[float, str]] = field(default_factory=list)  # (time, form) at each change
    final_s: float = float("nan")

    @property
    def revisions(self) -> int:
        """Changes of the shown form after the first (the final included)."""
        return max(0, len(self.shown) - 1)


def _places(final: list[str], shown: list[str]) -> dict[int, str]:
    """The shown form at each final word's place: equal words, and replaced words pairwise."""
    places = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, final, shown, autojunk=False).get_opcodes():
        if tag in ("equal", "replace"):
            places |= {i: shown[j] for i, j in zip(range(i1, i2), range(j1, j2))}
    return places


def _words(final) -> list[WordHistory]:
    """A final's words: its timed words, each at its own span, else its text's words, unplaced."""
    utterance = (final.start_s, final.end_s)
    timed = getattr(final, "words", None) or ()
    if timed:
        return [WordHistory(normalise(word.text), (word.start_s, word.end_s), utterance) for word in timed]
    return [WordHistory(word, None, utterance) for word in normalise(final.text).split()]


def word_histories(timed) -> list[WordHistory]:
    """Per word of every final, in order: its :class:`WordHistory` (``timed``: [(time, event)])."""
    finals = [event for _, event in timed if event.final]
    histories = [_words(final) for final in finals]
    k = 0
    for at, event in timed:
        if k == len(finals):
            break
        places = _places([word.text for word in histories[k]], normalise(event.text).split())
        for index, word in enumerate(histories[k]):
            form = places.get(index)
            if form is not None and (not word.shown or word.shown[-1][1] != form):
                word.shown.append((at, form))
            if event.final:
                word.final_s = at
        k += event.final
    return [word for utterance in histories for word in utterance]


MAX_LABELS = 3  # revised forms written out per word; beyond it, the first and how many more


def _short(text: str, length: int = 8) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def timeline_figure(audio: np.ndarray, histories: list[WordHistory], title: str = "") -> Figure:
    """The waveform over time, and below it one row per word: its spoken span (grey bar; where the
    final has no word times, a dashed outline of its utterance instead), each form shown in its
    place (a dot: orange while it differs from the final word, green once it is the final word; the
    text of up to :data:`MAX_LABELS` wrong revised forms beside them), and the moment it became
    final (a black tick)."""
    rows = max(1, len(histories))
    figure = Figure(figsize=(9, 1.6 + 0.28 * rows), layout="constrained")
    wave, axes = figure.subplots(2, 1, sharex=True, height_ratios=[1.2, 0.28 * rows])
    wave.plot(np.arange(len(audio)) / SAMPLE_RATE, audio, color="#555", linewidth=0.5)
    wave.set_yticks([])
    wave.set_title(title, loc="left")
    for row, word in enumerate(histories):
        if word.spoken is not None:
            axes.barh(row, word.spoken[1] - word.spoken[0], left=word.spoken[0], height=0.6, color="#ddd")
        else:
            start, end = word.utterance
            axes.add_patch(Rectangle((start, row - 0.3), end - start, 0.6, fill=False, edgecolor="#999",
                                     linestyle="--", linewidth=0.8))
        wrong = [(at, form) for at, form in word.shown[1:] if form != word.text]
        for at, form in word.shown:
            axes.plot(at, row, "o", color="#2a2" if form == word.text else "#e80", markersize=5)
        for at, form in wrong if len(wrong) <= MAX_LABELS else wrong[:1]:
            more = f" (+{len(wrong) - 1} more)" if len(wrong) > MAX_LABELS else ""
            axes.annotate(_short(form) + more, (at, row), textcoords="offset points", xytext=(4, 3), fontsize=7,
                          color="#e80")
        axes.plot(word.final_s, row, "|", color="black", markersize=12, markeredgewidth=2)
    axes.set_yticks(range(len(histories)), [_short(word.text, 12) for word in histories], fontsize=9)
    axes.set_ylim(rows - 0.5, -0.5)
    last = max([len(audio) / SAMPLE_RATE, *(word.final_s for word in histories if word.final_s == word.final_s)])
    axes.set_xlim(0, last + 0.1)  # a final may come after the audio (at the end of the stream)
    unplaced = any(word.spoken is None for word in histories)
    axes.set_xlabel("time (s): grey, spoken" + (" (dashed: the utterance, no word times)" if unplaced else "")
                    + "; dots, shown (orange: not yet the final word, green: the final word); black tick, final")
    return figure


def stream_timeline(streamer, audio: np.ndarray, title: str = "") -> Figure:
    """``audio`` streamed by ``streamer`` at real-time pace on one thread's CPU clock
    (:func:`workbench.tuning.play_on_one_thread`) and drawn by :func:`timeline_figure`; the title
    adds each utterance's lag (text complete after its speech ends) and the revisions
    (:func:`workbench.latency.measure`)."""
    from .latency import measure
    from .tuning import play_on_one_thread

    timed, _ = play_on_one_thread(streamer, audio)
    latency = measure(timed, len(audio) / SAMPLE_RATE)
    lags = ", ".join(f"{lag:.2f}" for lag in latency.lag_s) or "none"
    measured = f"text complete after speech ends: {lags} s; revised words: {latency.revisions}"
    return timeline_figure(audio, word_histories(timed), f"{title}\n{measured}" if title else measured)
