"""A panel for :func:`workbench.tuning.evaluate`: sweep dry values, decodings (offline, the live
mode, its cache-aware model alone, buffered streams) and decoders (greedy, beam + LM), watch the
table fill, plot corpus CER against dry with the best value marked and CER against text lag with
the Pareto front numbered, hand the best dry to a slider, and apply a chosen grid point (the
Pareto front's first) through a callback."""
import html
import threading
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
from matplotlib import rc_context

from .. import tuning
from ..errors import WorkbenchError
from ..figures import cer_lag_plot, cer_plot, png, style
from ..paths import DEFAULT_ASR, DEFAULT_DENOISER, EXAMPLES_DIR, display_path
from ..threads import use_share
from .panel import css
from .trust import checked_path, restricted, writable_path
from .worker import MODEL_THREADS


def _numbers(text: str) -> list[float] | None:
    try:
        values = [float(value) for value in text.split(",") if value.strip()]
    except ValueError:
        raise WorkbenchError(f"expected comma-separated numbers, got '{text}'") from None
    return values or None


def _plot_image() -> widgets.Image:
    """A PNG view shown only while it holds a picture (an empty one draws as a broken image)."""
    image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
    image.observe(lambda change: setattr(image.layout, "display", None if change.new else "none"), "value")
    return image


class TuningPanel(widgets.VBox):
    """Run a dry sweep over a folder or manifest, locally or on a Dask scheduler.

    ``slider`` is any widget with a ``value`` (e.g. the workbench's dry ``FloatSlider``) or a
    callback taking the best dry; the "use best dry" button sends the best value there.
    ``models_from``, when given, is asked for ``{denoiser, asr, device}`` at each run (the
    workbench's Models panel); otherwise the paths given here are used. ``on_apply``, when
    given, receives the grid point (:class:`~workbench.tuning.GridPoint`) chosen in the "point"
    list when "Apply" is clicked.
    """

    def __init__(self, source=EXAMPLES_DIR, slider=None, denoiser=DEFAULT_DENOISER, asr=DEFAULT_ASR,
                 device: str = "cpu", drys=tuning.DEFAULT_DRYS, workers: int | None = None,
                 models_from: Callable[[], dict] | None = None,
                 on_apply: Callable[[tuning.GridPoint], None] | None = None):
        self.target: Callable[[float], None] | None = (
            slider if callable(slider) else (lambda value: setattr(slider, "value", value)) if slider else None)
        fixed = {"denoiser": denoiser, "asr": asr, "device": device}
        self.models_from = models_from or (lambda: fixed)
        def text(kind=widgets.Text, *value, **options):
            """A field with a layout of its own (hiding one field must not hide the others)."""
            return kind(*value, style={"description_width": "110px"}, layout=widgets.Layout(width="420px"),
                        **options)

        self.source = text(widgets.Text, display_path(source), description="folder / manifest")
        self.drys = text(widgets.Text, ",".join(f"{d:g}" for d in drys), description="dry values")
        self.chunk_s = text(widgets.Text, "", description="chunk s", placeholder="no buffered stream if empty")
        self.left_s = text(widgets.Text, "", description="left s", placeholder="2")
        self.right_s = text(widgets.Text, "", description="right s", placeholder="0.5")
        self.live = widgets.Checkbox(True, description="live mode (if the model has a companion)", indent=False)
        self.cache_aware = widgets.Checkbox(True, description="its cache-aware model alone", indent=False)
        self.greedy = widgets.Checkbox(False, description="greedy", indent=False, layout=widgets.Layout(width="90px"))
        self.beam_lm = widgets.Checkbox(True, description="beam + LM", indent=False, layout=widgets.Layout(width="110px"))
        self.scheduler = text(widgets.Text, "", description="Dask scheduler", placeholder="local processes if empty")
        self.workers = text(widgets.IntText, workers if workers is not None else 0, description="local workers",
                            tooltip="0: run in this kernel")
        if restricted():  # whoever runs a scheduler could run code in this kernel (Dask unpickles results)
            self.scheduler.layout.display = "none"
        self._overwrite: Path | None = None  # the existing CSV the next save may replace
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.use_button = widgets.Button(description="use best dry", icon="check", disabled=True)
        self.on_apply = on_apply
        self.point = widgets.Dropdown(options=[], description="point", style={"description_width": "40px"},
                                      layout=widgets.Layout(width="560px"), disabled=True)
        self.apply_button = widgets.Button(description="Apply to the workbench", icon="check", disabled=True,
                                           tooltip="its dry, decoder and stream for the workbench's transcripts",
                                           layout=widgets.Layout(width="auto"))
        self.csv = text(widgets.Text, "results.csv", description="CSV")
        self.save_button = widgets.Button(description="Save CSV", icon="save", disabled=True)
        self.status = widgets.HTML()
        self.dashboard = widgets.HTML()
        self.progress = widgets.Box()
        self.table = widgets.HTML()
        self.image, self.lag_image = _plot_image(), _plot_image()
        for widget, name in ((self.point, "wb-tuning-point"), (self.apply_button, "wb-tuning-apply"),
                             (self.status, "wb-tuning-status"), (self.lag_image, "wb-tuning-lag-plot"),
                             (self.run_button, "wb-tuning-run"), (self.greedy, "wb-tuning-greedy")):
            css(widget, name)
        self.rows: list[dict] = []
        self.results = self.summary = None
        self._cancel = threading.Event()
        self._thread = None
        self.run_button.on_click(lambda _: self.run())
        self.cancel_button.on_click(lambda _: self._cancel.set())
        self.use_button.on_click(lambda _: self.use_best())
        self.apply_button.on_click(lambda _: self.apply())
        self.save_button.on_click(lambda _: self.save())
        super().__init__([
            widgets.HBox([widgets.VBox([self.source, self.drys, self.scheduler, self.workers]),
                          widgets.VBox([self.chunk_s, self.left_s, self.right_s, self.live, self.cache_aware,
                                        widgets.HBox([widgets.Label("decoders:"), self.greedy, self.beam_lm])])]),
            widgets.HBox([self.run_button, self.cancel_button, self.use_button]),
            self.progress, self.status, self.dashboard, widgets.HBox([self.image, self.lag_image]),
            widgets.HBox([self.point, self.apply_button]), self.table,
            widgets.HBox([self.csv, self.save_button]),
        ])

    @property
    def best_dry(self) -> float | None:
        return None if self.summary is None or self.summary.empty else float(tuning.best(self.summary).dry)

    def run(self, wait: bool = False) -> None:
        """Start the sweep in a background thread (the kernel stays responsive); ``wait`` joins it."""
        if self._thread and self._thread.is_alive():
            return
        models = self.models_from()
        try:
            companion = tuning.has_live_mode(models["asr"])
            streams = tuning.streams_from(_numbers(self.chunk_s.value), _numbers(self.left_s.value),
                                          _numbers(self.right_s.value), self.live.value and companion,
                                          self.cache_aware.value and companion)
            decoders = [name for name, box in zip(tuning.DECODERS, (self.greedy, self.beam_lm)) if box.value]
            if not decoders:
                raise WorkbenchError("choose a decoder: greedy, beam + LM or both")
            items = tuning.read_items(checked_path(self.source.value, "folder or manifest"))
            drys = _numbers(self.drys.value) or []
        except WorkbenchError as error:
            self._error(str(error))
            return
        self.rows, self.results, self.summary = [], None, None
        self.image.value, self.lag_image.value, self.table.value = b"", b"", ""
        bar = widgets.IntProgress(0, max=len(items), description="files", bar_style="info")
        self.progress.children = [bar]
        self._cancel.clear()
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self.use_button.disabled = self.save_button.disabled = True
        self.point.options, self.point.disabled, self.apply_button.disabled = [], True, True
        self.status.value = (f"running {len(items)} files × {len(drys)} dry values × {len(streams)} decodings × "
                             f"{len(decoders)} decoders…")
        self._thread = threading.Thread(target=self._run, args=(items, drys, streams, decoders, bar, models),
                                        daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()

    def _run(self, items, drys, streams, decoders, bar, models: dict) -> None:
        use_share(MODEL_THREADS)  # beside the workbench's worker
        def rows_arrived(rows):
            self.rows += rows
            bar.value += 1
            self._show(tuning.table(self.rows))

        def started(link):
            link = html.escape(link or "", quote=True)
            self.dashboard.value = f"<a href='{link}' target='_blank'>Dask dashboard: {link}</a>" if link else ""

        try:
            scheduler = None if restricted() else self.scheduler.value.strip() or None
            results = tuning.evaluate(items, drys, streams, decoders=decoders, scheduler=scheduler,
                                      workers=self.workers.value,
                                      on_rows=rows_arrived, on_start=started, cancel=self._cancel,
                                      progress=False, **models)
            self._show(results)
            if self.summary is not None and not self.summary.empty:
                self._list_points()
            cancelled = self._cancel.is_set()  # said once the results are shown
            self.status.value = (f"cancelled after {results.file.nunique()} of {len(items)} files" if cancelled
                                 else f"done: {len(items)} files")
            failed = tuning.unreadable(results)
            if len(failed):
                self._error(f"{len(failed)} of {results.file.nunique()} files could not be read, "
                            f"e.g. {failed.iloc[0]}")
        except WorkbenchError as error:
            self._error(str(error))
        except Exception as error:  # noqa: BLE001 - shown in the panel: a worker thread has nowhere else to report
            self._error(f"{type(error).__name__}: {error}")
        finally:
            self.progress.children = []  # the bar goes when the run ends
            self.run_button.disabled, self.cancel_button.disabled = False, True

    def _error(self, text: str) -> None:
        self.status.value = f"<span style='color:#a33'>{html.escape(text)}</span>"

    def _show(self, results: pd.DataFrame) -> None:
        self.results = results
        if results.empty:
            return
        self.summary = tuning.summarize(results)
        if self.summary.empty:
            return
        shown = self.summary.drop(columns=tuning.GRID_KEYS)  # the point's name says them
        shown = shown.dropna(axis=1, how="all")  # no empty columns (a grid without streams has no lags)
        self.table.value = (shown.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")
                            .replace("<td>", "<td style='white-space:nowrap'>"))
        with rc_context(style()):
            self.image.value = png(cer_plot(self.summary))
            streamed = self.summary.lag_p95_s.notna().any()
            self.lag_image.value = png(cer_lag_plot(self.summary)) if streamed else b""
        self.use_button.disabled = self.target is None
        self.use_button.description = f"use best dry ({self.best_dry:g})"
        self.save_button.disabled = False

    def _list_points(self) -> None:
        """The grid points of a finished run to apply: the Pareto front's, numbered as in the CER-lag
        plot and by lag, then every other point by CER; the first is chosen."""
        front = tuning.pareto_points(self.summary)
        rest = self.summary.drop(front.index).sort_values(["cer", "wer"], kind="stable")
        options = [(f"Pareto {number}: {row.point}, CER {row.cer:.3f}, lag p95 {row.lag_p95_s:.2f} s",
                    tuning.GridPoint.of(row))
                   for number, (_, row) in enumerate(front.iterrows(), 1)]
        options += [(f"{row.point}, CER {row.cer:.3f}" + (f", lag p95 {row.lag_p95_s:.2f} s"
                                                         if row.lag_p95_s == row.lag_p95_s else ""),
                     tuning.GridPoint.of(row)) for _, row in rest.iterrows()]
        self.point.options = options
        self.point.value = options[0][1]
        self.point.disabled = False
        self.apply_button.disabled = self.on_apply is None

    def apply(self) -> None:
        """Send the chosen grid point to ``on_apply``."""
        if self.on_apply is not None and self.point.value is not None:
            self.on_apply(self.point.value)
            self.status.value = f"applied: {html.escape(self.point.value.name)}"

    def use_best(self) -> None:
        """Send the best dry value to the slider or callback."""
        if self.target is not None and self.best_dry is not None:
            self.target(self.best_dry)

    def save(self) -> None:
        """Write the per-file table as CSV; an existing file is replaced only on a second click."""
        try:
            path = writable_path(self.csv.value)
        except WorkbenchError as error:
            self._error(str(error))
            return
        if path.exists() and self._overwrite != path:
            self._overwrite = path
            self._error(f"{path.name} exists: click Save CSV again to overwrite it")
            return
        self._overwrite = None
        try:
            tuning.csv_safe(self.results).to_csv(path, index=False)
        except OSError as error:
            self._error(f"cannot write {path.name}: {error.strerror}")
            return
        self.status.value = f"saved {len(self.results)} rows to {html.escape(str(path))}"


def tuning_panel(**options) -> TuningPanel:
    """A :class:`TuningPanel`; see its options. Missing models or files show as one message on Run."""
    return TuningPanel(**options)
