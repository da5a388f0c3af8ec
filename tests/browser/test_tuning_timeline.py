"""The tuning panel's CER-lag plot and its Apply, and the timeline notebook, in headless Chromium.

``python -m pytest tests/browser/test_tuning_timeline.py --screenshots docs`` also refreshes
``docs/tuning-pareto.png`` and ``docs/timeline-notebook.png``.
"""
import pytest
from lab_pages import run_notebook

pytestmark = pytest.mark.browser

LOAD_TIMEOUT_MS = 300_000   # NeMo's import and both models on a busy 2-core CPU
SWEEP_TIMEOUT_MS = 600_000  # the six examples, five streams and two decoders on one thread


def fill(page, label: str, value: str) -> None:
    page.locator(".wb-tuning .widget-text", has=page.locator("label", has_text=label)).locator("input").fill(value)


def test_timeline_notebook_draws_each_stream(lab_server, page, request, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 3600})  # the whole notebook in view
    run_notebook(page, lab_server, "notebooks/streaming_time.ipynb")
    page.wait_for_function("[...document.querySelectorAll('img.wb-timeline')].filter((i) => i.complete"
                           " && i.naturalWidth > 0).length === 4", timeout=LOAD_TIMEOUT_MS)
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    # the screenshot: the old default and the live mode, headings included
    top = page.locator("h2", has_text="1. Buffered chunks").bounding_box()
    bottom = page.locator("img.wb-timeline").nth(1).bounding_box()
    folder = request.config.getoption("--screenshots")
    folder = tmp_path if folder is None else request.config.rootpath / folder
    page.screenshot(path=str(folder / "timeline-notebook.png"),
                    clip={"x": top["x"] - 10, "y": top["y"] - 10, "width": bottom["x"] + bottom["width"] - top["x"] + 30,
                          "height": bottom["y"] + bottom["height"] - top["y"] + 20})


def test_tuning_panel_plots_cer_against_lag_and_applies_a_point(voila_server, page, screenshot):
    page.goto(f"{voila_server.url}/?token={voila_server.token}", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(".wb-workbench", timeout=LOAD_TIMEOUT_MS)
    # the workbench's own models first: NeMo's restore changes the process's working folder, so two
    # threads restoring at once can fail (found here; the loaders are not this test's subject)
    page.wait_for_function("/parameters/.test(document.querySelector('.wb-models-info')?.innerText ?? '')",
                           timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Tune on a corpus").click()
    fill(page, "dry values", "1")
    fill(page, "chunk s", "1")
    fill(page, "right s", "0,0.5")
    page.locator(".wb-tuning-greedy input").check()
    page.locator(".wb-tuning-run").click()
    page.wait_for_function("!/^(running|)$/.test((document.querySelector('.wb-tuning-status')?.innerText ?? '')"
                           ".slice(0, 7))", timeout=SWEEP_TIMEOUT_MS)
    status = page.locator(".wb-tuning-status").inner_text()
    assert status.startswith("done"), status
    page.wait_for_function("document.querySelector('img.wb-tuning-lag-plot')?.naturalWidth > 0"
                           " && document.querySelectorAll('.wb-tuning-point select option').length > 0")
    options = [option.replace("\xa0", " ")  # the widget shows spaces as no-break spaces
               for option in page.locator(".wb-tuning-point select option").all_inner_texts()]
    assert options[0].startswith("Pareto 1: ") and any("cache-aware model alone" in o for o in options), options
    greedy = next(index for index, o in enumerate(options) if "greedy" in o and "buffered" in o)
    page.select_option(".wb-tuning-point select", index=greedy)
    screenshot(page.locator(".wb-tuning"), "tuning-pareto")
    page.locator(".wb-tuning-apply").click()
    page.wait_for_function("/^applied/.test(document.querySelector('.wb-tuning-status')?.innerText ?? '')")
    page.wait_for_function("document.querySelector('.wb-dry .widget-readout').innerText.trim() === '1.00'")
    assert not page.locator(".wb-use-lm input").is_checked()  # a greedy point: the LM switch off
