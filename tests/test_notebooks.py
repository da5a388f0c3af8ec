"""Every notebook in notebooks/ runs without errors, and no panel or view in it shows an error.

The panels turn failures into messages (a ``.wb-error`` line, a "Cannot show this view"
box) instead of raising, so a last cell, added here, waits for the workbench's worker
threads and fails if any widget still shows one.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

NO_ERROR_SHOWN = """
import gc
import ipywidgets
from workbench.widgets.app import Workbench
from workbench.widgets.loading import Later

for bench in [obj for obj in gc.get_objects() if isinstance(obj, Workbench)]:
    assert bench.wait(600), "the workbench's worker did not finish"
for view in [obj for obj in gc.get_objects() if isinstance(obj, Later)]:
    assert view.wait(600), "a view did not finish loading"
shown = [widget.value for widget in list(ipywidgets.Widget._active_widgets.values())
         if isinstance(widget, ipywidgets.HTML) and widget.value
         and ("wb-error" in widget._dom_classes or "Cannot show" in widget.value)]
assert not shown, shown
"""


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_and_shows_no_error(notebook):
    book = nbformat.read(notebook, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(NO_ERROR_SHOWN))
    NotebookClient(book, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()


@pytest.mark.slow
def test_ctc_notebook_dry_sweep_runs_from_its_panel():
    """The notebook only builds the sweep panel (Run All does not wait for a sweep); here its sweep runs."""
    import ipywidgets

    from workbench import tuning
    from workbench.paths import EXAMPLES_DIR
    from workbench.widgets.tuning_panel import tuning_panel

    slider = ipywidgets.FloatSlider(value=0.3)
    panel = tuning_panel(slider=slider)  # as the notebook builds it: bundled models, the example recordings
    panel.run(wait=True)  # what its Run button starts
    assert panel.status.value == f"done: {len(list(EXAMPLES_DIR.glob('*.wav')))} files", panel.status.value
    assert sorted(set(panel.summary.dry)) == sorted(tuning.DEFAULT_DRYS)  # for each decoding (offline, live)
    panel.use_button.click()
    assert slider.value == panel.best_dry
