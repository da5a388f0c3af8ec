"""The workbench's transcript words, downloads, reference diff, model names and the app's kernel cap."""
import asyncio
import concurrent.futures
import io
import json

import numpy as np
import pytest
from PIL import Image
from tornado.web import HTTPError

from workbench import subtitles
from workbench.app_kernels import CappedKernelManager
from workbench.asr import TranscriptEvent, Word
from workbench.metrics import cer, char_edits, wer
from workbench.paths import CHECKPOINT_DIR, DEFAULT_ASR, DEFAULT_DENOISER
from workbench.widgets.models import ModelsPanel
from workbench.widgets.reference import aligned, diff_html
from workbench.widgets.spectrograms import SpectrogramView, labelled
from workbench.widgets.transcript_view import TranscriptView, transcript_files


def run(coroutine):
    """``asyncio.run`` on a thread of its own: other tests may leave an event loop running on this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


FINALS = [TranscriptEvent("안녕 하세요", True, 0.1, 1.2, (Word("안녕", 0.1, 0.5), Word("하세요", 0.6, 1.2))),
          TranscriptEvent("", True, 1.5, 1.6),
          TranscriptEvent("날씨 좋다", True, 2.0, 3.0, (Word("날씨", 2.0, 2.4), Word("좋다", 2.5, 3.0)))]


def test_each_word_of_a_final_becomes_a_span_to_play():
    view = TranscriptView()
    view.show(FINALS, TranscriptEvent("비가", False, 3.5, 3.9), 4.0)
    assert [line["text"] for line in view.lines] == ["안녕 하세요", "날씨 좋다"]  # an empty final shows nothing
    assert view.lines[0]["words"] == [{"text": "안녕", "start_s": 0.1, "end_s": 0.5},
                                      {"text": "하세요", "start_s": 0.6, "end_s": 1.2}]
    assert view.partial == "[3.50 s …] 비가"
    view.show([], None, 0.0)
    assert view.lines == [] and view.partial == ""


def test_downloads_hold_the_transcript_in_each_format():
    files = transcript_files(FINALS, 4.0)
    assert files["txt"] == "안녕 하세요\n날씨 좋다\n"
    assert files["srt"] == subtitles.srt(FINALS) and files["vtt"] == subtitles.vtt(FINALS)
    answer = json.loads(files["json"])
    assert answer["text"] == "안녕 하세요 날씨 좋다" and answer["duration_s"] == 4.0
    assert [(segment["text"], segment["start_s"], segment["end_s"]) for segment in answer["segments"]] == [
        ("안녕 하세요", 0.1, 1.2), ("날씨 좋다", 2.0, 3.0)]
    assert answer["segments"][1]["words"] == [{"text": "날씨", "start_s": 2.0, "end_s": 2.4},
                                              {"text": "좋다", "start_s": 2.5, "end_s": 3.0}]


@pytest.mark.parametrize(("reference", "hypothesis"), [
    ("물대포 가 을 이 은 하 섯다", "문백오 가 을 이 쟁 하 성다"), ("안녕 하세요", "안녕하세요요"),
    ("가나 다", ""), ("", "가"), ("오늘 날씨가 좋네요", "오늘 날씨 좋네요"), ("같다", "같다")])
def test_reference_diff_marks_the_edits_that_cer_counts(reference, hypothesis):
    chunks = aligned(reference, hypothesis)
    edits = sum(max(len(chunk.reference.strip()), len(chunk.hypothesis)) for chunk in chunks if chunk.kind != "equal")
    assert edits == char_edits(reference, hypothesis)
    assert "".join(chunk.reference for chunk in chunks) == " ".join(reference.split())  # spaces put back
    assert "".join(chunk.hypothesis for chunk in chunks) == "".join(hypothesis.split())
    page = diff_html(reference, hypothesis)
    assert f"CER {cer(reference, hypothesis):.2f}" in page and f"WER {wer(reference, hypothesis):.2f}" in page


def test_reference_diff_shows_substitution_deletion_and_insertion():
    page = diff_html("나는 학교에 간다", "나는 학꾜 간다요")
    assert "<span class='wb-sub'><span class='wb-del'>교</span>→<span class='wb-ins'>꾜</span></span>" in page
    assert "<span class='wb-del'>에</span>" in page and "<span class='wb-ins'>요</span>" in page


def test_models_are_shown_by_name_with_their_types_explained(monkeypatch):
    monkeypatch.delenv("WORKBENCH_RESTRICTED", raising=False)
    panel = ModelsPanel(DEFAULT_DENOISER, DEFAULT_ASR)
    assert panel.denoiser.value == "denoiser.th" and panel.asr.value == "asr.nemo"
    assert "asr_streaming.nemo" in panel.asr.options
    assert panel.chosen()["asr"] == str(CHECKPOINT_DIR / "asr.nemo")
    panel.asr.value = "/elsewhere/model.nemo"  # JupyterLab takes any path
    assert panel.chosen()["asr"] == "/elsewhere/model.nemo" and not panel.asr.ensure_option
    assert panel.denoiser.tooltip and panel.asr.tooltip
    assert (panel.device.layout.display == "none") == (len(panel.device.options) == 1)  # no choice, no menu
    monkeypatch.setenv("WORKBENCH_RESTRICTED", "1")
    assert ModelsPanel(DEFAULT_DENOISER, DEFAULT_ASR).asr.ensure_option  # the app offers only its models


def test_the_app_refuses_kernels_over_its_cap_and_spares_the_warm_pool(monkeypatch):
    manager = CappedKernelManager(max_kernels=2, slot_poll_s=0.01)
    alive = ["a", "b"]
    monkeypatch.setattr(manager, "list_kernel_ids", lambda: list(alive))
    with pytest.raises(HTTPError) as refused:
        run(manager.start_kernel(env={"VOILA_PREHEAT": "False"}))
    assert refused.value.status_code == 503 and "full" in refused.value.reason

    async def started(*_args, **_kwargs):
        alive.append("new")
        return "new"
    monkeypatch.setattr("jupyter_server.services.kernels.kernelmanager.AsyncMappingKernelManager.start_kernel",
                        lambda self, *args, **kwargs: started())

    async def refill_waits_for_a_slot():
        refill = asyncio.ensure_future(manager.start_kernel(env={"VOILA_PREHEAT": "True"}))
        await asyncio.sleep(0.1)
        assert not refill.done()  # the pool's refill waits while the app is full
        alive.remove("a")  # a visitor left
        assert await asyncio.wait_for(refill, 5) == "new"
    run(refill_waits_for_a_slot())
    assert alive == ["b", "new"]
    culled = []

    async def cull(kernel_id):
        culled.append(kernel_id)
    monkeypatch.setattr("jupyter_server.services.kernels.kernelmanager.AsyncMappingKernelManager.cull_kernel_if_idle",
                        lambda self, kernel_id: cull(kernel_id))
    manager.notify_connect("visited")
    run(manager.cull_kernel_if_idle("waiting-in-pool"))
    run(manager.cull_kernel_if_idle("visited"))
    assert culled == ["visited"]


def test_word_labels_that_would_overlap_are_left_out():
    crowded = (Word("하나", 0.0, 0.1), Word("둘", 0.1, 0.2), Word("셋셋셋", 0.2, 0.3), Word("넷", 1.0, 1.2))
    assert labelled(crowded, pixels_per_s=100) == [crowded[0], crowded[3]]
    assert labelled(crowded, pixels_per_s=1000) == list(crowded)


def test_word_spans_are_drawn_on_the_spectrogram():
    view = SpectrogramView("raw", "raw")
    audio = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    plain = np.array(Image.open(io.BytesIO(view.image.value)))
    view.draw(audio, 2.0, words=(Word("안녕", 0.5, 1.0),))
    marked = np.array(Image.open(io.BytesIO(view.image.value)))
    view.draw(audio, 2.0)
    unmarked = np.array(Image.open(io.BytesIO(view.image.value)))
    changed = np.argwhere((marked[..., :3] != unmarked[..., :3]).any(axis=2))
    columns = set(changed[:, 1][changed[:, 0] > plain.shape[0] * 0.2])  # below the labels: the span's lines
    assert len(columns) == 2 and all((marked[changed[:, 0][changed[:, 1] == c], c, :3] == 230).all() for c in columns)
