"""Teaching views of CTC recognition: posteriorgram, greedy alignment, buffered streaming.

Each view picks an example recording, runs the models once per setting and
draws with matplotlib (Agg) into an ``ipywidgets.Image``. The data come from
:mod:`workbench.teaching`; nothing here computes more than what is drawn.
"""
import html
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from .. import teaching
from ..asr.stream import StreamConfig
from ..audio import SAMPLE_RATE, load_audio, to_wav_bytes
from ..denoise import DEFAULT_DRY, mix
from ..errors import WorkbenchError
from ..figures import draw_mel, png, style
from ..models import load_models
from ..paths import DEFAULT_ASR, DEFAULT_DENOISER
from ..paths import examples as bundled_examples

FONT_PT = 12   # every label, tick and legend: 15 px in the PNG (dpi 90), 11 px or more on screen down to 73 % scale
LABEL_PT = 17  # the words the views are about
JAMO_PT = 20   # lone jamo: a Hangul font draws them at about half its em
FIGURE_IN = 11  # figure width in inches: 990 px, about the width of a notebook's output area
TEACHING_STYLE = {"font.size": FONT_PT, "legend.fontsize": FONT_PT - 1, "axes.titlesize": FONT_PT + 1,
                  "xtick.labelsize": FONT_PT, "ytick.labelsize": FONT_PT}


def message(text: str) -> widgets.HTML:
    """A one-line notice in place of a view that cannot run."""
    return widgets.HTML(f"<p style='color:#a33'><b>Cannot show this view:</b> {html.escape(text)}</p>")


class ExampleView(widgets.VBox):
    """An example picker and a dry slider over a figure; subclasses define ``figure() -> Figure``."""

    def __init__(self, examples=None, denoiser=DEFAULT_DENOISER, asr=DEFAULT_ASR, device="cpu",
                 dry: float = DEFAULT_DRY, controls=()):
        examples = bundled_examples() if examples is None else examples
        self.files = {name: Path(path) for name, path in examples.items()}
        if not self.files:
            raise WorkbenchError("no example recordings (put .wav files in audio_example/ or pass examples=)")
        self.denoiser, self.transcriber = load_models(str(denoiser), str(asr), device)
        self.example = widgets.Dropdown(options=list(self.files), description="example")
        self.dry = widgets.FloatSlider(value=dry, min=0.0, max=1.0, step=0.01, description="dry",
                                       continuous_update=False)
        self.image = widgets.Image(format="png")
        self.notice = widgets.HTML()
        self._audio = {}
        super().__init__([widgets.HBox([self.example, self.dry, *controls]), self.notice, self.image])
        for control in (self.example, self.dry, *controls):
            control.observe(lambda _: self.refresh(), "value")

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        """(raw, enhanced at the slider's dry); the denoiser runs once per example."""
        name = self.example.value
        if name not in self._audio:
            raw = load_audio(self.files[name])
            self._audio[name] = raw, self.denoiser.denoise(raw)
        raw, denoised = self._audio[name]
        return raw, mix(raw, denoised, self.dry.value)

    def refresh(self) -> None:
        """Redraw; a problem the user can fix (e.g. an unreadable recording) shows above the figure."""
        try:
            with rc_context({**style(), **TEACHING_STYLE}):
                self.image.value = png(self.figure())
            self.notice.value = ""
        except WorkbenchError as error:
            self.notice.value = f"<span style='color:#a33'>{html.escape(str(error))}</span>"


class PosteriorgramView(ExampleView):
    """Spectrogram over per-frame CTC probabilities (blank and top tokens), raw beside enhanced."""

    def __init__(self, top: int = 8, **options):
        self.top = widgets.IntSlider(value=top, min=1, max=20, description="top tokens", continuous_update=False)
        super().__init__(controls=[self.top], **options)
        self.refresh()

    def figure(self) -> Figure:
        raw, enhanced = self.signals()
        scores = [self.transcriber.log_probs(raw), self.transcriber.log_probs(enhanced)]
        rows = teaching.top_tokens(self.transcriber, np.concatenate(scores), self.top.value)  # same rows both sides
        figure = Figure(figsize=(FIGURE_IN, 3.2 + 0.4 * len(rows)), layout="constrained")
        grid = figure.subplots(2, 2, sharex=True, height_ratios=[2.6, 0.4 * len(rows)])  # a row per jamo line
        names = ["raw", f"denoised, dry {self.dry.value:.2f}"]
        for column, (audio, log_probs, name) in enumerate(zip([raw, enhanced], scores, names)):
            draw_mel(grid[0, column], audio, name)
            gram = teaching.posteriorgram(self.transcriber, log_probs, ids=rows)
            axes = grid[1, column]
            axes.imshow(gram.probs, aspect="auto", origin="upper", cmap="Greys", vmin=0, vmax=1,
                        interpolation="nearest", extent=[0, len(gram.times) * gram.frame_s, len(gram.ids) - 0.5, -0.5])
            axes.set_yticks(range(len(gram.ids)), gram.labels, fontsize=JAMO_PT, rotation=0)
            axes.set_xlabel("time (s)")
            axes.set_ylabel("p(token | frame)")
        return figure


def label_rows(spans, width_s: float, rows: int = 3) -> list[int]:
    """A row (0 = top) for each span's label, centred on the span and ``width_s`` wide per character:
    the first row where it does not overlap the label before it; the least crowded row when none fits."""
    ends, placed = [-np.inf] * rows, []
    for span in spans:
        half = width_s * max(1, len(span.text)) / 2
        centre = (span.start_s + span.end_s) / 2
        row = next((r for r in range(rows) if ends[r] <= centre - half), int(np.argmin(ends)))
        ends[row] = centre + half
        placed.append(row)
    return placed


class AlignmentView(ExampleView):
    """The greedy path frame by frame, its collapse into text, token spans on the spectrogram,
    and one button per word that plays that stretch of the (enhanced) audio."""

    def __init__(self, **options):
        self.steps = widgets.HTML()
        self.words = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.player = widgets.Audio(autoplay=False, loop=False, controls=True)
        super().__init__(**options)
        self.children = [*self.children, self.steps, self.words, self.player]
        self.refresh()

    def figure(self) -> Figure:
        _, audio = self.signals()
        align = teaching.alignment(self.transcriber, self.transcriber.log_probs(audio))
        self._show_text(align, audio)
        figure = Figure(figsize=(FIGURE_IN, 6), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1.4])
        draw_mel(top, audio, f"greedy alignment (dry {self.dry.value:.2f}): {align.text}")
        for token in align.tokens:
            top.axvspan(token.start_s, token.end_s, color="cyan", alpha=0.3)
        for word in align.words:
            top.annotate("", (word.start_s, 4), (word.end_s, 4), arrowprops={"arrowstyle": "|-|", "color": "yellow"})
            top.text((word.start_s + word.end_s) / 2, 8, word.text, ha="center", va="bottom", fontsize=LABEL_PT,
                     bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        blank = align.path == self.transcriber.blank
        times = np.arange(len(align.path)) * align.frame_s
        bottom.bar(times[blank], 1, width=align.frame_s, align="edge", color="#eee", label="blank ∅")
        bottom.bar(times[~blank], 1, width=align.frame_s, align="edge", color="#9ecae1", label="token")
        seconds_per_point = len(align.path) * align.frame_s / (0.9 * FIGURE_IN * 72)
        rows = label_rows(align.tokens, JAMO_PT * seconds_per_point)  # a jamo advances one em
        used = max(rows, default=0) + 1
        for token, row in zip(align.tokens, rows):
            bottom.text((token.start_s + token.end_s) / 2, 1 - (row + 0.5) / used, token.text, ha="center",
                        va="center", fontsize=JAMO_PT, color="black")
        bottom.set_ylim(0, 1)
        bottom.set_xlim(0, len(audio) / SAMPLE_RATE)
        bottom.set_yticks([])
        bottom.set_xlabel("time (s); one bar per output frame (argmax)")
        bottom.legend(loc="upper right", bbox_to_anchor=(1, -0.25), ncols=2, frameon=False)
        return figure

    def _show_text(self, align: teaching.Alignment, audio: np.ndarray) -> None:
        self.steps.value = (
            "<div style='font-family:monospace;line-height:1.6'>"
            f"<b>1. argmax per frame</b> ({len(align.path)} frames of {align.frame_s * 1000:.0f} ms): "
            f"{' '.join(align.path_labels)}<br>"
            f"<b>2. merge repeats</b>: {' '.join(align.merged_labels)}<br>"
            f"<b>3. drop blanks ∅</b>: {' '.join(align.kept_labels)}<br>"
            f"<b>4. text</b>: {align.text or '(empty)'}</div>")
        buttons = []
        for word in align.words:
            button = widgets.Button(description=word.text, tooltip=f"{word.start_s:.2f}-{word.end_s:.2f} s")
            button.on_click(lambda _, span=word: self.play(audio, span))
            buttons.append(button)
        self.words.children = buttons

    def play(self, audio: np.ndarray, span: teaching.Span, pad_s: float = 0.1) -> None:
        """Load the word's stretch (padded: CTC spikes are narrower than the sound) and play it."""
        start = max(0, int((span.start_s - pad_s) * SAMPLE_RATE))
        end = min(len(audio), int((span.end_s + pad_s) * SAMPLE_RATE))
        self.player.autoplay = True  # a click is the user's request to hear it
        self.player.value = to_wav_bytes(audio[start:end])


class StreamingView(ExampleView):
    """The buffered stream, step by step: left context, chunk and right context as bands over
    the waveform, the moment the step can run, and the hypothesis after it. For a model trained
    for cache-aware streaming, a second row shows where its cache-aware streamer stands at the
    same moment (observed from the streamer, :func:`workbench.teaching.cache_aware_steps`)."""

    def __init__(self, config: StreamConfig = StreamConfig(), **options):
        slider = {"min": 0.0, "max": 3.0, "step": 0.04, "continuous_update": False}
        self.chunk_s = widgets.FloatSlider(value=config.chunk_s, description="chunk s", **{**slider, "min": 0.08})
        self.left_s = widgets.FloatSlider(value=config.left_s, description="left s", **slider)
        self.right_s = widgets.FloatSlider(value=config.right_s, description="right s", **slider)
        self.step = widgets.IntSlider(value=0, min=0, max=0, description="step")
        self.play = widgets.Play(interval=800, min=0, max=0)
        widgets.jslink((self.play, "value"), (self.step, "value"))
        self.text = widgets.HTML()
        self._steps = self._key = None
        self._slivers = []  # steps of the last key that are not drawn (see steps())
        self._cache_aware = {}  # (example, dry) -> the cache-aware streamer's steps
        super().__init__(controls=[self.chunk_s, self.left_s, self.right_s], **options)
        self.children = [*self.children[:2], widgets.HBox([self.play, self.step]), self.image, self.text]
        self.step.observe(lambda _: self.refresh(), "value")
        self.refresh()

    def steps(self) -> list[teaching.ChunkStep]:
        """The stream's steps worth a figure: those whose chunk holds an output frame or added text
        (the flush can decode a last sliver of a few samples: it is named in the text, not drawn)."""
        config = StreamConfig(self.chunk_s.value, self.left_s.value, self.right_s.value)
        key = (self.example.value, self.dry.value, config)
        if key != self._key:
            _, audio = self.signals()
            steps = teaching.stream_steps(self.transcriber, audio, config)
            self._steps = [step for step in steps
                           if step.end - step.start >= self.transcriber.frame_samples or step.new_text]
            self._slivers = [step for step in steps if step not in self._steps]
            self._key = key
            self.step.max = self.play.max = len(self._steps) - 1
        return self._steps

    def figure(self) -> Figure:
        _, audio = self.signals()
        steps = self.steps()
        position = min(self.step.value, len(steps) - 1)
        now = steps[position]
        seconds = np.arange(len(audio)) / SAMPLE_RATE
        cache_aware = self.transcriber.cache_aware
        figure = Figure(figsize=(FIGURE_IN, 6.5 if cache_aware else 3.6), layout="constrained")
        axes, *below = figure.subplots(2 if cache_aware else 1, 1, sharex=True, squeeze=False)[:, 0]
        arrived = now.context_end
        axes.plot(seconds[:arrived], audio[:arrived], color="#333", linewidth=0.5)
        if arrived < len(audio):
            axes.plot(seconds[arrived:], audio[arrived:], color="#ccc", linewidth=0.5, label="not yet arrived")
        for step in steps[:position]:
            axes.axvspan(step.start / SAMPLE_RATE, step.end / SAMPLE_RATE, color="#bbb", alpha=0.3)
        bands = [(now.context_start, now.start, "tab:blue", "left context"),
                 (now.start, now.end, "tab:orange", "chunk (kept)"),
                 (now.end, now.context_end, "tab:green", "right context")]
        for begin, end, color, label in bands:
            if end > begin:
                axes.axvspan(begin / SAMPLE_RATE, end / SAMPLE_RATE, color=color, alpha=0.3, label=label)
        axes.axvline(now.ready_s, color="red", linestyle="--", label="step runs (audio arrived)")
        axes.set_xlim(0, len(audio) / SAMPLE_RATE)
        axes.set_xlabel("time (s)")
        axes.set_title(f"step {position + 1}/{len(steps)}: chunk {now.start / SAMPLE_RATE:.2f}-"
                       f"{now.end / SAMPLE_RATE:.2f} s waits {now.wait_s:.2f} s (chunk + right context) "
                       "before it can be decoded", loc="left")
        axes.legend(loc="upper left", bbox_to_anchor=(0, -0.22), ncols=5, frameon=False)
        lines = [f"<span style='font-family:monospace'>{'▶' if step is now else '&nbsp;'} step {number} "
                 f"[{step.start / SAMPLE_RATE:.2f}-{step.end / SAMPLE_RATE:.2f} s] "
                 f"+{html.escape(step.new_text) or '∅'} → {html.escape(step.hypothesis)}</span>"
                 for number, step in enumerate(steps[:position + 1], 1)]
        if position == len(steps) - 1 and self._slivers:
            sliver_ms = sum(step.end - step.start for step in self._slivers) / SAMPLE_RATE * 1000
            lines.append(f"<span style='color:#555'>then the stream's flush decodes the last {sliver_ms:.0f} ms "
                         "(less than one output frame): no new text, not drawn</span>")
        self.text.value = "<br>".join(lines)
        if cache_aware:
            self._draw_cache_aware(below[0], audio, now)
        return figure

    def _draw_cache_aware(self, axes, audio: np.ndarray, now: teaching.ChunkStep) -> None:
        """The cache-aware streamer's steps that have run by the time the buffered step ``now`` runs."""
        key = (self.example.value, self.dry.value)
        if key not in self._cache_aware:
            self._cache_aware[key] = teaching.cache_aware_steps(self.transcriber, audio)
        done = [step for step in self._cache_aware[key] if step.context_end <= now.context_end]
        seconds = np.arange(len(audio)) / SAMPLE_RATE
        axes.plot(seconds[:now.context_end], audio[:now.context_end], color="#333", linewidth=0.5)
        axes.plot(seconds[now.context_end:], audio[now.context_end:], color="#ccc", linewidth=0.5)
        for step in done[:-1]:
            axes.axvspan(step.start / SAMPLE_RATE, step.end / SAMPLE_RATE, color="#bbb", alpha=0.3)
        if done:
            last = done[-1]
            axes.axvspan(last.context_start / SAMPLE_RATE, last.start / SAMPLE_RATE, color="tab:blue", alpha=0.3,
                         label="cached left context (not recomputed)")
            axes.axvspan(last.start / SAMPLE_RATE, last.end / SAMPLE_RATE, color="tab:orange", alpha=0.3,
                         label="chunk (computed once)")
            axes.axvline(last.ready_s, color="red", linestyle="--", label="step ran")
            axes.legend(loc="upper left", bbox_to_anchor=(0, -0.22), ncols=3, frameon=False)
        axes.set_xlabel("time (s)")
        wait = max(step.wait_s for step in self._cache_aware[key])
        axes.set_title(f"cache-aware, same moment: {len(done)} steps have run; a chunk waits at most "
                       f"{wait:.2f} s (chunk + half a window) before it is computed", loc="left")
        hypothesis = done[-1].hypothesis if done else ""
        self.text.value += (f"<br><span style='font-family:monospace'>cache-aware at "
                            f"{now.ready_s:.2f} s → {html.escape(hypothesis) or '∅'}</span>")


def _view(kind, **options) -> widgets.Widget:
    try:
        return kind(**options)
    except WorkbenchError as error:
        return message(str(error))


def posteriorgram_panel(**options) -> widgets.Widget:
    """:class:`PosteriorgramView`, or a one-line message when models or examples are missing."""
    return _view(PosteriorgramView, **options)


def alignment_panel(**options) -> widgets.Widget:
    """:class:`AlignmentView`, or a one-line message when models or examples are missing."""
    return _view(AlignmentView, **options)


def streaming_panel(**options) -> widgets.Widget:
    """:class:`StreamingView`, or a one-line message when models or examples are missing."""
    return _view(StreamingView, **options)
