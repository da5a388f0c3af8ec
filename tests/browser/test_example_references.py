"""Every bundled example in the Voilà app: it opens, is transcribed, and shows its reference with a CER."""
import pytest
from test_workbench_e2e import LOAD_TIMEOUT_MS, choose_example, wait_for_transcript, wait_for_workbench

from workbench.paths import examples, reference_text

pytestmark = pytest.mark.browser


def test_each_example_shows_its_reference(voila_server, page):
    page.goto(f"{voila_server.url}/?token={voila_server.token}", timeout=LOAD_TIMEOUT_MS)
    wait_for_workbench(page)
    for name, path in examples().items():
        choose_example(page, name)
        transcript = wait_for_transcript(page, name, "0.05")
        assert transcript.strip(), name
        shown = page.locator(".wb-reference").inner_text()
        assert "CER" in shown, (name, shown)
        missing = [word for word in reference_text(path).split() if word not in shown]
        assert not missing, (name, missing, shown)
