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
from .tuning import best

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


def cer_plot(summary: pd.DataFrame) -> Figure:
    """Corpus CER against dry (:func:`workbench.tuning.summarize`), one line per decoding
    setting, a star at the best point."""
    figure = Figure(figsize=(7, 3.5), layout="constrained")
    axes = figure.subplots()
    for key, group in summary.groupby(["decoding", "chunk_s", "left_s", "right_s"], dropna=False, sort=True):
        label = key[0] if key[0] != "stream" else f"chunk {key[1]:g} s, left {key[2]:g} s, right {key[3]:g} s"
        axes.plot(group.dry, group.cer, marker="o", label=label)
    top = best(summary)
    axes.plot([top.dry], [top.cer], marker="*", markersize=16, color="red", linestyle="none",
              label=f"best: dry {top.dry:g}, CER {top.cer:.3f}")
    axes.set_xlabel("dry (share of the raw signal)")
    axes.set_ylabel("corpus CER")
    axes.legend(fontsize=8)
    return figure
