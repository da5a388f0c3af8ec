"""Spectrograms panel: raw and denoised log-mel spectrograms on one colour scale and time axis.

Matplotlib draws a view's frame (axes, ticks, labels, colour bar) only when the
time axis or the colour scale changes; the spectrogram itself is coloured with
numpy and pasted into the frame's plot area, so a redraw (a slider move, a
recording growing) costs milliseconds rather than a full figure render.
Words of the transcript label the frame's top edge at their centres and mark
their spans ``[start_s, end_s)`` with light lines across the spectrogram.
"""
import io

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image as PILImage

from ..asr import Word
from ..audio import SAMPLE_RATE, to_wav_bytes
from ..figures import style
from ..mel import N_MELS, mel_spectrogram
from .panel import Panel, css

DYNAMIC_RANGE_DB = 80.0
TICKS_HZ = (0, 500, 1000, 2000, 4000, 8000)
COLOURS = matplotlib.colormaps["magma"]
LABEL_PT = 10  # word labels' font size


def labelled(words: tuple[Word, ...], pixels_per_s: float) -> list[Word]:
    """The words whose labels fit above the plot without overlapping the one before (every word's span
    is drawn; a label is about one square em per syllable wide)."""
    em = LABEL_PT * 90 / 72  # pixels at the figure's 90 dpi
    shown, right_edge = [], -np.inf
    for word in words:
        centre, half = (word.start_s + word.end_s) / 2 * pixels_per_s, len(word.text) * em / 2
        if centre - half >= right_edge + 4:
            shown.append(word)
            right_edge = centre + half
    return shown


class SpectrogramView:
    """One spectrogram image (PNG) with an audio player under it."""

    def __init__(self, kind: str, title: str):
        self.title = widgets.HTML(f"<b>{title}</b>")
        self.image = css(widgets.Image(format="png", layout=widgets.Layout(width="100%")), f"wb-{kind}-spec")
        self.player = css(widgets.Audio(format="wav", autoplay=False, loop=False, controls=True),
                          f"wb-{kind}-audio")
        self.play(np.zeros(0, np.float32))
        self.box = widgets.VBox([self.title, self.image, self.player], layout=widgets.Layout(width="50%"))
        self.figure = Figure(figsize=(5.6, 2.6), dpi=90)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_axes((0.12, 0.19, 0.71, 0.68))
        self.top = self.axes.secondary_xaxis("top")
        self.top.tick_params(length=0, pad=2)
        self.scale = matplotlib.cm.ScalarMappable(Normalize(-DYNAMIC_RANGE_DB, 0), COLOURS)
        self.figure.colorbar(self.scale, cax=self.figure.add_axes((0.85, 0.19, 0.022, 0.68)), label="dB")
        self.axes.set_xlabel("time (s)")
        self.axes.set_ylabel("frequency (Hz)")
        self.axes.set_ylim(0, N_MELS)
        self._frame_key = None
        self.draw(np.zeros(0, np.float32), 1.0, 0.0)  # an empty frame until there is audio: never a broken image

    def _frame(self, duration_s: float, vmax: float, freqs: np.ndarray,
               words: tuple[Word, ...]) -> tuple[np.ndarray, tuple]:
        """The RGBA frame for this time axis, colour scale and words, and the plot area (top, bottom, left,
        right)."""
        key = (duration_s, vmax, words)
        if key != self._frame_key:
            self.axes.set_xlim(0, duration_s)
            shown = labelled(words, self.axes.get_window_extent().width / duration_s)
            self.top.set_xticks([(word.start_s + word.end_s) / 2 for word in shown], [word.text for word in shown],
                                fontfamily=style()["font.family"], fontsize=LABEL_PT)
            self.axes.set_yticks(np.interp(TICKS_HZ, freqs, np.arange(N_MELS) + 0.5), [str(hz) for hz in TICKS_HZ])
            self.scale.set_clim(vmax - DYNAMIC_RANGE_DB, vmax)
            self.canvas.draw()
            frame = np.array(self.canvas.buffer_rgba())
            box = self.axes.get_window_extent()
            height = frame.shape[0]
            area = (height - round(box.y1) + 1, height - round(box.y0), round(box.x0) + 1, round(box.x1))
            self._frame_key, self._frame_data = key, (frame, area)
        return self._frame_data

    def draw(self, audio: np.ndarray, duration_s: float, vmax: float | None = None,
             words: tuple[Word, ...] = ()) -> float:
        """Redraw ``audio`` on a time axis to ``duration_s``, colours up to ``vmax`` dB (None: its peak),
        with ``words`` marked.

        Returns the ``vmax`` used, so another view can share the scale.
        """
        mel = mel_spectrogram(audio if len(audio) else np.zeros(1, np.float32))
        vmax = float(mel.db.max()) if vmax is None else vmax
        duration_s = max(duration_s, 0.1)
        frame, (top, bottom, left, right) = self._frame(duration_s, vmax, mel.freqs, tuple(words))
        image = frame.copy()
        columns = min(right - left, round((right - left) * len(audio) / SAMPLE_RATE / duration_s))
        if columns > 0:
            rows = np.linspace(N_MELS - 1, 0, bottom - top).round().astype(int)
            frames = np.linspace(0, mel.db.shape[1] - 1, columns).round().astype(int)
            db = mel.db[np.ix_(rows, frames)]
            image[top:bottom, left:left + columns] = COLOURS((db - vmax) / DYNAMIC_RANGE_DB + 1, bytes=True)
        for word in words:  # dotted light lines at each word's start and end
            for seconds in (word.start_s, word.end_s):
                x = left + min(right - left - 1, round((right - left) * seconds / duration_s))
                image[top:bottom:3, x, :3] = 230
        buffer = io.BytesIO()
        PILImage.fromarray(image).save(buffer, format="png", compress_level=1)
        self.image.value = buffer.getvalue()
        return vmax

    def play(self, audio: np.ndarray) -> bytes:
        """Put ``audio`` in the player and return its WAV bytes; no audio hides the player (it holds one
        silent sample: an empty file is a browser error)."""
        data = to_wav_bytes(audio if len(audio) else np.zeros(1, np.float32))
        self.player.value = data
        self.player.layout.visibility = "visible" if len(audio) else "hidden"
        return data


class SpectrogramPanel(Panel):
    """Raw (left) and denoised-and-mixed (right) spectrograms, each with a player."""

    def __init__(self):
        self.raw = SpectrogramView("raw", "raw")
        self.denoised = SpectrogramView("denoised", "denoised")
        self.vmax = 0.0
        super().__init__("spectrograms", "Spectrograms", [widgets.HBox([self.raw.box, self.denoised.box])])

    def draw_raw(self, audio: np.ndarray, duration_s: float, words: tuple[Word, ...] = ()) -> None:
        """The raw view; its peak sets the colour scale both views share."""
        self.vmax = self.raw.draw(audio, duration_s, words=words)

    def draw_denoised(self, mixed: np.ndarray | None, duration_s: float, dry: float,
                      words: tuple[Word, ...] = ()) -> None:
        """The mix at ``dry`` (None: no denoiser loaded), on the raw view's scale and time axis."""
        if mixed is None:
            self.denoised.title.value = "<b>denoised</b> <i>(no denoiser loaded)</i>"
            mixed = np.zeros(0, np.float32)
        else:
            self.denoised.title.value = f"<b>denoised</b>, dry {dry:.2f}"
        self.denoised.draw(mixed, duration_s, self.vmax, words)
