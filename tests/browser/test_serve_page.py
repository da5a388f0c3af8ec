"""The service's page in headless Chromium: the fake microphone streams to /v1/stream, a file goes to /v1/recognize."""
import json
import secrets
import sys
import urllib.request
import wave

import pytest
from conftest import Server, free_port

from workbench.metrics import cer
from workbench.paths import EXAMPLES_DIR, reference_text

pytestmark = pytest.mark.browser

MIC_WAV = EXAMPLES_DIR / "clean.wav"
MIC_MAX_CER = 0.35  # as the workbench's browser-microphone test: the recording is cut at other places
LOAD_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "workbench", "serve", "--port", str(port), "--token", token]
    server = Server(command, port, token, "/healthz", tmp_path_factory.mktemp("serve") / "server.log")
    yield server
    server.stop()


def open_page(page, service) -> None:
    page.goto(f"{service.url}/?token={service.token}")
    page.wait_for_function("/asr\\.nemo/.test(document.getElementById('models').innerText)", timeout=LOAD_TIMEOUT_MS)


def finals(page) -> str:
    return " ".join(page.locator(".wb-final-text").all_inner_texts())


@pytest.mark.parametrize("page", [("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                   f"--use-file-for-fake-audio-capture={MIC_WAV}%noloop")], indirect=True)
def test_the_microphone_streams_and_the_transcript_appears(service, page, screenshot):
    open_page(page, service)
    page.evaluate("""() => {
        window.partials = [];
        const partial = document.getElementById('partial');
        new MutationObserver(() => { if (partial.textContent) window.partials.push(partial.textContent); })
            .observe(partial, { childList: true, characterData: true, subtree: true });
    }""")
    record = page.locator(".wb-record")
    record.click()
    page.wait_for_function("/Stop/.test(document.querySelector('.wb-record').innerText)", timeout=30_000)
    with wave.open(str(MIC_WAV)) as audio:
        page.wait_for_timeout(int((audio.getnframes() / audio.getframerate() + 1.0) * 1000))
    assert page.evaluate("window.partials.length") > 0  # partials showed while recording
    record.click()
    page.wait_for_function("document.getElementById('status').innerText === 'done'", timeout=60_000)
    text = finals(page)
    screenshot(page.locator("body"), "serve-page")
    assert cer(reference_text(MIC_WAV), text) <= MIC_MAX_CER, text
    assert page.locator(".wb-partial").inner_text() == ""


def test_an_uploaded_file_is_transcribed_at_the_chosen_dry(service, page):
    open_page(page, service)
    page.locator(".wb-dry").fill("1")
    page.set_input_files(".wb-file", str(MIC_WAV))
    page.locator(".wb-upload").click()
    page.wait_for_function("/clean\\.wav:/.test(document.getElementById('status').innerText)", timeout=60_000)
    request = urllib.request.Request(f"{service.url}/v1/recognize?dry=1", data=MIC_WAV.read_bytes(),
                                     headers={"Authorization": f"Bearer {service.token}"})
    with urllib.request.urlopen(request) as answer:
        expected = json.load(answer)
    assert finals(page) == expected["text"] != ""
    assert "dry 1" in page.locator("#status").inner_text()
