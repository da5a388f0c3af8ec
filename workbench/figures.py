"""Matplotlib figures of the workbench (Agg, no display): a Hangul font, PNG bytes, a log-mel
panel and the corpus CER against dry. No widgets: the command line draws with it too."""
import io
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from .audio import SAMPLE_RATE
from .mel import mel_spectrogram
from .tuning import GridPoint, best, pareto_points

KOREAN_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR")


@lru_cache(maxsize=1)
def style() -> dict:
    """Matplotlib settings with a Hangul font first, if the system has one (e.g. Debian's
    fonts-nanum); system fonts installed after matplotlib built its font cache are added here."""
    for path in font_manager.findSystemFonts():
        if Path(path).name.startswith(("Nanum", "NotoSansCJK", "NotoSansKR")):
            font_manager.fontManager.addfont(path)
    known = {font.name for font in font_manager.fontManager.ttflist}
    return {"font.family": [name for name in KOREAN_FONTS if name in known] + ["DejaVu Sans"], "font.size": 9}


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes (without a Hangul font, Korean labels draw as boxes)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def draw_mel(axes, audio: np.ndarray, title: str) -> None:
    """Log-mel spectrogram of ``audio`` on a time axis in seconds."""
    mel = mel_spectrogram(audio)
    axes.imshow(mel.db, origin="lower", aspect="auto", cmap="magma",
                extent=[0, len(audio) / SAMPLE_RATE, 0, mel.db.shape[0]])
    axes.set_ylabel("mel band")
    axes.set_title(title, loc="left")


SETTING = ["decoding", "decoder", "chunk_s", "left_s", "right_s"]  # the grid's keys but dry


def _settings(summary: pd.DataFrame):
    """(setting in words, its rows) for each decoding setting of a summary (:attr:`GridPoint.setting`)."""
    for _, group in summary.groupby(SETTING, dropna=False, sort=True):
        yield GridPoint.of(group.iloc[0]).setting, group


def _amount(summary: pd.DataFrame) -> str:
    top = summary.iloc[0]
    return f"{int(top.files)} files, {int(top.ref_chars)} characters; bars: 95 % bootstrap interval over files"


def cer_plot(summary: pd.DataFrame) -> Figure:
    """Corpus CER against dry (:func:`workbench.tuning.summarize`) from zero, one line per decoding
    setting with its bootstrap interval, a star at the best point; the amount of data in the title."""
    figure = Figure(figsize=(6, 3), layout="constrained")
    axes = figure.subplots()
    for setting, group in _settings(summary):
        axes.errorbar(group.dry, group.cer, yerr=[group.cer - group.cer_low, group.cer_high - group.cer],
                      marker="o", capsize=3, label=setting)
    top = best(summary)
    axes.plot([top.dry], [top.cer], marker="*", markersize=14, color="red", linestyle="none",
              label=f"best: dry {top.dry:g}, CER {top.cer:.3f}")
    axes.set_ylim(0, max(0.05, 1.1 * float(summary.cer_high.max())))
    axes.set_xlim(-0.03, 1.03)  # the whole range of dry values, however few were tried
    axes.set_xlabel("dry (share of the raw signal)")
    axes.set_ylabel("corpus CER")
    axes.set_title(_amount(summary), fontsize=8, loc="left")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def cer_lag_plot(summary: pd.DataFrame) -> Figure:
    """Corpus CER against the text lag's 95th percentile (:mod:`workbench.latency`) of every
    streamed grid point, from zero, with bootstrap intervals; the Pareto front
    (:func:`workbench.tuning.pareto_points`) joined, ringed and numbered by lag."""
    streamed = summary[summary.lag_p95_s.notna()]
    figure = Figure(figsize=(6, 3), layout="constrained")
    axes = figure.subplots()
    for setting, group in _settings(streamed):
        axes.errorbar(group.lag_p95_s, group.cer, yerr=[group.cer - group.cer_low, group.cer_high - group.cer],
                      marker="o", capsize=3, linestyle="none", label=setting)
    front = pareto_points(streamed)
    axes.plot(front.lag_p95_s, front.cer, color="black", linewidth=1, marker="o", markersize=12,
              markerfacecolor="none", label="Pareto front (numbered)")
    for number, row in enumerate(front.itertuples(), 1):
        axes.annotate(f"{number}: dry {row.dry:g}", (row.lag_p95_s, row.cer), textcoords="offset points",
                      xytext=(6, -10), fontsize=8)
    axes.set_xlim(0, max(0.5, 1.1 * float(streamed.lag_p95_s.max())))
    axes.set_ylim(0, max(0.05, 1.1 * float(streamed.cer_high.max())))
    axes.set_xlabel("text lag after speech ends, 95th percentile (s)")
    axes.set_ylabel("corpus CER")
    axes.set_title(_amount(streamed), fontsize=8, loc="left")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure
