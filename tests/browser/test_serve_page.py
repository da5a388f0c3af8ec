"""The service's page in headless Chromium: the fake microphone streams to /v1/stream, a file goes to /v1/recognize;
the transcript and the enhanced audio download as files."""
import io
import json
import re
import secrets
import sys
import urllib.error
import urllib.request
import wave
from pathlib import Path

import pytest
import soundfile
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


def post(service, path: str, body: bytes) -> bytes:
    request = urllib.request.Request(f"{service.url}{path}", data=body,
                                     headers={"Authorization": f"Bearer {service.token}"})
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def download(page, format: str) -> tuple[str, bytes]:
    """(file name, content) of the page's download button for ``format``."""
    with page.expect_download(timeout=60_000) as info:
        page.locator(f".wb-download[data-format={format}]").click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def cue_text(subtitles: str, format: str) -> str:
    """The text of every cue of SubRip or WebVTT ``subtitles``, joined by spaces; checks each cue's header."""
    blocks = subtitles.strip("\n").split("\n\n")
    if format == "vtt":
        assert blocks.pop(0) == "WEBVTT"
    texts, stamp = [], r"\d\d:\d\d:\d\d[,.]\d{3} --> \d\d:\d\d:\d\d[,.]\d{3}"
    for number, block in enumerate(blocks, 1):
        lines = block.split("\n")
        if format == "srt":
            assert lines.pop(0) == str(number)
        assert re.fullmatch(stamp, lines.pop(0)) and lines, block
        texts += lines
    return " ".join(texts)


def pcm16_wav(content: bytes) -> soundfile.SoundFile:
    info = soundfile.info(io.BytesIO(content))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    return info


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
    page.wait_for_function("""() => document.getElementById('level-bar').getBoundingClientRect().width >
        0.2 * document.querySelector('.wb-level-track').getBoundingClientRect().width""", timeout=10_000)
    assert page.locator("#level-db").inner_text().endswith("dB")  # the level meter moves with the voice
    with wave.open(str(MIC_WAV)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    page.wait_for_timeout(int((seconds + 1.0) * 1000))
    assert page.evaluate("window.partials.length") > 0  # partials showed while recording
    screenshot(page.locator("body"), "serve-page")
    record.click()
    page.wait_for_function("document.getElementById('status').innerText === 'done'", timeout=60_000)
    assert page.locator(".wb-level").is_hidden()
    text = finals(page)
    assert cer(reference_text(MIC_WAV), text) <= MIC_MAX_CER, text
    assert page.locator(".wb-partial").inner_text() == ""

    name, content = download(page, "json")  # the recording's transcript in /v1/recognize's shape
    answer = json.loads(content)
    assert name == "recording.json" and sorted(answer) == ["duration_s", "segments", "text"]
    assert answer["text"] == text and " ".join(segment["text"] for segment in answer["segments"]) == text
    assert seconds < answer["duration_s"] < seconds + 3
    name, content = download(page, "wav")  # the recording through /v1/enhance at the slider's dry
    assert name == "recording-dry0.05.wav"
    assert abs(pcm16_wav(content).duration - answer["duration_s"]) < 0.01


def test_an_uploaded_file_is_transcribed_at_the_chosen_dry_and_downloads(service, page, tmp_path, screenshot):
    open_page(page, service)
    assert page.locator(".wb-download").first.is_disabled()  # nothing to download yet
    page.locator(".wb-dry").fill("1")
    page.set_input_files(".wb-file", str(MIC_WAV))
    page.locator(".wb-upload").click()
    page.wait_for_function("/clean\\.wav:/.test(document.getElementById('status').innerText)", timeout=60_000)
    expected = json.loads(post(service, "/v1/recognize?dry=1", MIC_WAV.read_bytes()))
    assert finals(page) == expected["text"] != ""
    assert "dry 1" in page.locator("#status").inner_text()

    name, content = download(page, "json")
    assert name == "clean.json" and json.loads(content) == expected
    name, content = download(page, "txt")
    assert name == "clean.txt" and content.decode() == "".join(f"{s['text']}\n" for s in expected["segments"])
    for format in ("srt", "vtt"):
        name, content = download(page, format)
        assert name == f"clean.{format}"
        if not any(segment.get("words") for segment in expected["segments"]):  # one cue per segment, as the server
            assert content == post(service, f"/v1/recognize?dry=1&format={format}", MIC_WAV.read_bytes())
        assert cue_text(content.decode(), format) == expected["text"]
    page.locator(".wb-dry").fill("0.5")
    name, content = download(page, "wav")
    assert name == "clean-dry0.50.wav" and pcm16_wav(content)
    assert content == post(service, "/v1/enhance?dry=0.5", MIC_WAV.read_bytes())

    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    page.set_input_files(".wb-file", str(bad))
    page.locator(".wb-upload").click()
    page.wait_for_function("/notes\\.wav was not transcribed/.test(document.getElementById('status').innerText)",
                           timeout=30_000)
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(service, "/v1/recognize", bad.read_bytes())
    message = json.load(refused.value)["error"]
    assert message in page.locator("#status").inner_text()  # the server's own words
    assert finals(page) == expected["text"]  # the previous transcript stays, and still downloads
    assert download(page, "txt")[0] == "clean.txt"
    screenshot(page.locator("body"), "serve-page-failed-upload")


def test_subtitles_from_words_are_cut_by_length_and_duration(service, page):
    open_page(page, service)
    cues = page.evaluate("""async () => {
        const { cues } = await import('/static/subtitles.js');
        const words = Array.from({ length: 30 }, (_, i) => ({ text: `단어${i}`, start_s: i * 0.5, end_s: i * 0.5 + 0.3 }));
        return cues([{ text: words.map((w) => w.text).join(' '), start_s: 0, end_s: 15, words }]);
    }""")
    assert " ".join(cue["text"].replace("\n", " ") for cue in cues) == " ".join(f"단어{i}" for i in range(30))
    for cue in cues:
        assert len(cue["text"]) <= 40 and cue["end"] - cue["start"] <= 6
        assert all(len(line) <= 20 for line in cue["text"].split("\n"))
    assert cues[0]["start"] == 0 and cues[-1]["end"] == 14.8


def test_the_docs_page_renders_the_schema_and_the_websocket_protocols(service, page, screenshot):
    """Offline: the page and its script come from the package (no CDN), the schema with the page's token."""
    page.goto(f"{service.url}/docs?token={service.token}")
    page.wait_for_function("/HTTP routes$/.test(document.getElementById('status').innerText)", timeout=30_000)
    routes = page.locator("#operations .wb-operation").evaluate_all("nodes => nodes.map(node => node.dataset.route)")
    assert {"POST /recognize", "POST /v1/recognize", "POST /v1/enhance", "GET /metrics"} <= set(routes), routes
    recognize = page.locator('#operations [data-route="POST /v1/recognize"]')
    assert "live" in recognize.inner_text() and "multipart/form-data" in recognize.inner_text()
    websockets = page.locator("#websockets").inner_text()
    assert "/v1/stream" in websockets and '{"event": "end"}' in websockets and "1013" in websockets
    assert page.locator("#page-link").get_attribute("href") == f"/?token={service.token}"
    screenshot(page.locator("body"), "service-docs-page")
    page.goto(f"{service.url}/docs")  # without the token: refused
    assert "missing or wrong token" in page.locator("body").inner_text()
