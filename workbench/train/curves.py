"""Training curves: the ``curves.csv`` an ASR run writes (see ``asr.CURVE_COLUMNS``), read and plotted.

Rows carry either a training loss (mean over the steps since the previous row) or a validation
loss and CER; empty cells are NaN.
"""
from pathlib import Path

import numpy as np


def read(path) -> dict[str, np.ndarray]:
    """Columns of a curves CSV (a run folder holding ``curves.csv``, or the file) as float arrays."""
    path = Path(path)
    if path.is_dir():
        path = path / "curves.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    rows = [[float(v) if v else np.nan for v in line.split(",")] for line in lines[1:] if line.strip()]
    table = np.array(rows, dtype=float).reshape(-1, len(header))
    return {name: table[:, i] for i, name in enumerate(header)}


def figure(runs, labels=None):
    """A matplotlib ``Figure``: training loss and validation CER over steps, one line per run (no pyplot,
    so it works under any backend and in notebooks)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 3.6))
    ax_loss, ax_cer = fig.subplots(1, 2)
    for run, label in zip(runs, labels or [Path(r).name for r in runs]):
        c = read(run)
        train, val = ~np.isnan(c["train_loss"]), ~np.isnan(c["val_cer"])
        ax_loss.plot(c["step"][train], c["train_loss"][train], label=label)
        ax_cer.plot(c["step"][val], 100 * c["val_cer"][val], marker="o", label=label)
    ax_loss.set(xlabel="step", ylabel="CTC loss (training)", yscale="log", title="training loss")
    ax_cer.set(xlabel="step", ylabel="CER, % (on jamo for a jamo model)", title="validation CER")
    for ax in (ax_loss, ax_cer):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot(runs, out_png, labels=None):
    """:func:`figure` saved to ``out_png``."""
    figure(runs, labels).savefig(out_png, dpi=100)
    return out_png
