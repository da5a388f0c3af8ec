"""The workbench's panels driven through their Python objects: no browser, tiny random-weight models."""
import datetime
import threading

import models
import numpy as np
import pytest
import soundfile
from models import speechlike

from workbench import DEFAULT_DRY, Denoiser, MicrophoneUnavailable, load_audio, mix, pcm16_to_float, recording
from workbench.audio import chunks
from workbench.live import FILE_PIECE_S
from workbench.session import Session
from workbench.widgets import Workbench, app

PNG = b"\x89PNG"


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "speech.wav"
    soundfile.write(path, speechlike(3.0, seed=1), 16000)
    return path


@pytest.fixture
def no_kernel_microphone(monkeypatch):
    def missing(*_args, **_kwargs):
        raise MicrophoneUnavailable("no microphone found: connect one")

    monkeypatch.setattr(app, "find_microphone", missing)
    monkeypatch.setattr(recording, "MicrophoneSource", missing)


@pytest.fixture
def bench(demucs_files, char_nemo, wav, no_kernel_microphone):
    workbench = Workbench(denoiser=demucs_files[1]["package"], asr=char_nemo, examples={"speech": wav})
    assert workbench.wait(180)
    return workbench


def streamed_finals(transcriber, signal):
    return [event for event in transcriber.stream(chunks(signal, FILE_PIECE_S)) if event.final]


def test_example_is_denoised_once_mixed_and_transcribed(bench, wav):
    session = bench.session
    audio = load_audio(wav)
    np.testing.assert_array_equal(session.audio, audio)
    np.testing.assert_allclose(session.denoised.array, session.denoiser.denoise(audio), atol=1e-5)
    np.testing.assert_allclose(session.mixed, mix(audio, session.denoised.array, DEFAULT_DRY))
    assert session.dry == bench.dry.slider.value == DEFAULT_DRY
    assert session.finals == streamed_finals(session.transcriber, session.mixed)
    assert session.partial is None
    assert bench.transcript.text.value == "\n".join(event.text for event in session.finals)
    view = bench.transcript.view
    assert [line["text"] for line in view.lines] == [event.text for event in session.finals if event.text]
    assert view.raw == bench.spectrograms.raw.player.value and view.mixed == bench.spectrograms.denoised.player.value
    assert view.basename == f"speech-dry{DEFAULT_DRY:.2f}" and view.files["txt"].strip() == session.text.strip()
    assert "denoiser: package.th" in bench.transcript.models.value and "cpu" in bench.transcript.models.value
    assert "real-time factor" in bench.transcript.rtf.value
    for view in (bench.spectrograms.raw, bench.spectrograms.denoised):
        assert bytes(view.image.value).startswith(PNG)
        assert bytes(view.player.value).startswith(b"RIFF") and not view.player.autoplay and not view.player.loop
    assert bench.source.error.value == bench.models.error.value == ""
    assert "done" in bench.source.status.value


def test_session_denoises_a_bidirectional_model_in_one_piece():
    session = Session()
    session.denoiser = Denoiser(models.tiny_demucs(causal=False))
    audio = speechlike(2.0)
    session.set_audio(audio)
    assert list(session.denoise()) == [1.0]
    np.testing.assert_allclose(session.denoised.array, session.denoiser.denoise(audio), atol=1e-6)
    np.testing.assert_allclose(session.set_dry(0.3), mix(audio, session.denoised.array, 0.3))


def test_slider_remixes_the_cached_signal_and_reruns_the_transcript(bench, monkeypatch):
    session = bench.session
    cached = session.denoised.array.copy()
    before = bytes(bench.spectrograms.denoised.player.value)

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the denoiser ran again")

    monkeypatch.setattr(session.denoiser, "denoise", must_not_run)
    monkeypatch.setattr(session.denoiser, "stream", must_not_run)
    for value in (0.2, 0.4, 0.6):  # a drag: only the last value's transcript runs to the end
        bench.dry.slider.value = value
    assert bench.wait(60)
    assert session.dry == 0.6
    np.testing.assert_array_equal(session.denoised.array, cached)
    np.testing.assert_allclose(session.mixed, mix(session.audio, cached, 0.6))
    assert bytes(bench.spectrograms.denoised.player.value) != before
    assert "dry 0.60" in bench.spectrograms.denoised.title.value
    assert session.finals == streamed_finals(session.transcriber, session.mixed)
    assert session.transcript_dry == 0.6 and "dry 0.60 · done" in bench.transcript.state.value
    assert bench.dry.error.value == ""


def test_dry_one_gives_the_raw_signal(bench):
    bench.dry.slider.value = 1.0
    assert bench.wait(60)
    np.testing.assert_array_equal(bench.session.mixed, bench.session.audio)


def test_bad_sources_show_one_error_and_keep_the_audio(bench, tmp_path, wav):
    audio = bench.session.audio.copy()
    bench.open_path(str(tmp_path / "missing.wav"))
    assert bench.wait(60)
    assert "not found" in bench.source.error.value
    bench.open_bytes(b"this is not audio", "junk.wav")
    assert bench.wait(60)
    assert "cannot decode junk.wav: not a supported audio file" in bench.source.error.value
    bench.open_path("   ")
    assert "type the path" in bench.source.error.value
    np.testing.assert_array_equal(bench.session.audio, audio)
    assert bench.source.example.label == "speech"  # a failed open leaves the source as it was

    bench.open_path(str(wav))
    assert bench.wait(60)
    assert bench.source.error.value == ""
    assert bench.session.name == bench.source.example.label == "speech.wav"


def test_upload_opens_the_file(bench, wav):
    data = speechlike(1.5, seed=3)
    path = wav.with_name("upload.wav")
    soundfile.write(path, data, 16000)
    bench.source.upload.value = ({"name": "upload.wav", "type": "audio/wav", "size": 1,
                                  "content": memoryview(path.read_bytes()),
                                  "last_modified": datetime.datetime.now(datetime.UTC)},)
    assert bench.wait(60)
    assert bench.session.name == "upload.wav"
    assert bench.session.duration_s == pytest.approx(1.5)
    assert bench.source.upload.value == ()


def test_stop_ends_the_processing_of_a_long_file(bench, wav, monkeypatch):
    transcribe = bench.session.transcribe

    def stop_while_transcribing():
        for done in transcribe():
            yield done  # the workbench shows this progress, then asks for the next step
            if done < 0.5:
                bench.stop()

    monkeypatch.setattr(bench.session, "transcribe", stop_while_transcribing)
    long = wav.with_name("long.wav")
    soundfile.write(long, speechlike(20.0, seed=5), 16000)
    bench.open_path(str(long))
    assert bench.wait(120)
    assert "stopped" in bench.source.status.value
    assert 0 < bench.source.progress.value < 0.5
    assert len(bench.session.denoised) == len(bench.session.audio)  # denoising had finished
    assert bench.source.error.value == ""


def test_model_load_error_keeps_the_old_models(bench, tmp_path):
    denoiser, transcriber = bench.session.denoiser, bench.session.transcriber
    bench.models.asr.value = str(tmp_path / "missing.nemo")
    bench.models.load.click()
    assert bench.wait(60)
    assert "ASR not loaded" in bench.models.error.value and "not found" in bench.models.error.value
    assert "the previous one stays in use" in bench.models.error.value
    assert bench.session.transcriber is transcriber
    assert bench.session.denoiser is not denoiser  # the denoiser path was fine: reloaded
    assert bench.session.finals == streamed_finals(transcriber, bench.session.mixed)


def test_without_models_the_raw_audio_still_shows(tmp_path, wav, no_kernel_microphone):
    bench = Workbench(denoiser=tmp_path / "none.th", asr=tmp_path / "none.nemo", examples={"speech": wav})
    assert bench.wait(60)
    assert "denoiser not loaded" in bench.models.error.value and "ASR not loaded" in bench.models.error.value
    assert bench.session.denoised is None and bench.session.finals == []
    assert bytes(bench.spectrograms.raw.image.value).startswith(PNG)
    assert "no denoiser" in bench.spectrograms.denoised.title.value
    bench.dry.slider.value = 0.3
    assert bench.wait(60)
    assert bench.dry.error.value == bench.source.error.value == ""
    view = bench.transcript.view  # without a denoiser the audio to download is the raw one, no dry named
    assert view.mixed == view.raw == bytes(bench.spectrograms.raw.player.value) and view.basename == "speech"
    assert bench.spectrograms.denoised.player.layout.visibility == "hidden"


def test_no_examples_and_no_microphone_are_said(tmp_path, no_kernel_microphone):
    bench = Workbench(denoiser=tmp_path / "none.th", asr=tmp_path / "none.nemo", examples={})
    assert bench.wait(60)
    assert "no bundled examples" in bench.source.status.value
    assert bench.source.record.layout.display == "none"  # a button that can never work is not shown
    assert "No microphone on the kernel" in bench.source.microphone.value
    bench.recordings.toggle_kernel()
    assert "no microphone" in bench.source.error.value


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def test_browser_recording_streams_into_the_session(bench):
    recorder, rate = bench.source.recorder, 48000
    audio = speechlike(2.0, seed=2, rate=rate)
    recorder.receive(recorder, {"type": "start", "rate": rate}, [])
    for start in range(0, len(audio), rate // 10):
        recorder.receive(recorder, {"type": "chunk", "rate": rate}, [pcm16(audio[start:start + rate // 10])])
    recorder.receive(recorder, {"type": "stop"}, [])
    assert bench.wait(120)
    session = bench.session
    assert not session.recording
    assert session.duration_s == pytest.approx(2.0, abs=0.01)
    whole = pcm16_to_float(pcm16(audio), rate)  # chunks are resampled without seams
    np.testing.assert_allclose(session.audio, whole, atol=1e-6)
    assert len(session.denoised) == len(session.audio)
    assert session.partial is None
    assert bytes(bench.spectrograms.raw.player.value).startswith(b"RIFF")
    assert "browser recording" in bench.source.status.value
    assert bench.source.error.value == ""
    assert bench.source.example.label == f"browser recording ({rate} Hz)"  # the selector shows the source
    assert bench.source.stop.layout.display == "none"
    bench.open_example("speech")
    assert bench.wait(120)
    assert bench.source.example.label == bench.session.name == "speech" and len(bench.source.example.options) == 1


def test_bad_browser_messages_are_reported(bench):
    recorder = bench.source.recorder
    recorder.receive(recorder, {"type": "error", "message": "no microphone in this browser: NotFoundError"}, [])
    assert "NotFoundError" in bench.source.error.value
    recorder.receive(recorder, {"type": "chunk", "rate": 48000}, [])
    assert "bad message" in bench.source.error.value
    recorder.receive(recorder, {"type": "start", "rate": 48000}, [])
    recorder.receive(recorder, {"type": "chunk", "rate": 48000}, [b"\x00\x01\x02"])
    assert bench.wait(60)
    assert "PCM16" in bench.source.error.value
    recorder.receive(recorder, {"type": "stop"}, [])
    assert bench.wait(60)
    assert not bench.session.recording


class FakeMicrophone:
    """Stands in for MicrophoneSource: yields chunks of test audio until stopped."""

    def __init__(self):
        self.stopped = threading.Event()
        self.name = "fake"

    def stop(self):
        self.stopped.set()

    def __iter__(self):
        for chunk in chunks(speechlike(30.0, seed=4), 0.1):
            if self.stopped.wait(0.01):
                return
            yield chunk


def test_kernel_microphone_records_until_stopped(bench, monkeypatch):
    monkeypatch.setattr(recording, "MicrophoneSource", FakeMicrophone)
    bench.recordings.toggle_kernel()
    assert bench.source.record.description == "Stop recording"
    threading.Event().wait(0.5)
    bench.source.stop.click()
    for thread in threading.enumerate():
        if thread.name == "workbench-microphone":
            thread.join(30)  # the pump submits the end of the recording when it stops
    assert bench.wait(120)
    session = bench.session
    assert not session.recording and 0 < session.duration_s < 30, bench.source.error.value
    assert len(session.denoised) == len(session.audio)
    assert bench.source.record.description == "Record (kernel mic)"
    assert "kernel microphone" in bench.source.status.value


def test_widgets_have_stable_css_classes(bench):
    classes = set()
    stack = [bench.view]
    while stack:
        widget = stack.pop()
        classes.update(getattr(widget, "_dom_classes", ()))
        stack.extend(getattr(widget, "children", ()))
    assert {"wb-workbench", "wb-source", "wb-example", "wb-upload", "wb-path", "wb-open", "wb-record-kernel",
            "wb-record-browser", "wb-level", "wb-elapsed", "wb-progress", "wb-stop", "wb-raw-spec",
            "wb-denoised-spec", "wb-raw-audio", "wb-denoised-audio", "wb-dry", "wb-transcript-view",
            "wb-transcript-text", "wb-transcript-dry", "wb-models-info", "wb-rtf", "wb-denoiser-path", "wb-asr-path", "wb-device",
            "wb-load-models", "wb-error", "wb-status"} <= classes


def test_project_paths_are_shown_relative(monkeypatch):
    from workbench.paths import DEFAULT_ASR, ROOT, display_path

    monkeypatch.chdir(ROOT / "notebooks")
    assert display_path(DEFAULT_ASR) == "../checkpoint/asr.nemo"
    assert display_path("/elsewhere/model.nemo") == "/elsewhere/model.nemo"


def test_tuning_sweep_uses_the_loaded_models_and_sets_the_dry_slider(bench, wav, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.wav").write_bytes(wav.read_bytes())
    (corpus / "a.txt").write_text("abc", encoding="utf-8")
    bench.tuning.source.value = str(corpus)
    bench.tuning.drys.value = "0, 1"
    bench.tuning.run(wait=True)
    assert bench.tuning.status.value.startswith("done"), bench.tuning.status.value
    assert set(bench.tuning.results.dry) == {0.0, 1.0}
    bench.tuning.use_button.click()
    assert bench.wait(60)
    assert bench.dry.slider.value == bench.tuning.best_dry == bench.session.dry == bench.session.transcript_dry


def test_language_model_switch_redecodes_the_mix(tmp_path, demucs_files, char_nemo, wav, no_kernel_microphone):
    from workbench.asr.config import JAMO_LABELS
    from workbench.asr.lm import LabelLM, lm_beside
    from workbench.train.lm import label_ids

    asr = tmp_path / "asr.nemo"
    asr.write_bytes(char_nemo.read_bytes())
    lm = LabelLM.train([label_ids("가나다 라마", JAMO_LABELS)] * 10, JAMO_LABELS, order=3)
    lm.weight, lm.bonus = 3.0, 2.0  # strong enough to change the tiny model's output
    lm.save(lm_beside(asr))
    bench = Workbench(denoiser=demucs_files[1]["package"], asr=asr, examples={"speech": wav})
    assert bench.wait(180)
    session, switch = bench.session, bench.transcript.use_lm
    assert not switch.disabled and "3-gram" in switch.description and "3-gram LM" in bench.transcript.models.value
    with_lm = [e for e in session.transcriber.stream(chunks(session.mixed, FILE_PIECE_S)) if e.final]
    greedy = [e for e in session.transcriber.stream(chunks(session.mixed, FILE_PIECE_S), use_lm=False) if e.final]
    assert with_lm != greedy
    assert session.finals == with_lm
    switch.value = False
    assert bench.wait(60) and session.finals == greedy and not session.use_lm
    switch.value = True
    assert bench.wait(60) and session.finals == with_lm


def test_without_language_model_the_switch_says_greedy(bench):
    assert bench.transcript.use_lm.disabled and "greedy" in bench.transcript.use_lm.description


def test_the_source_selector_shows_what_is_open(demucs_files, char_nemo, wav, tmp_path, no_kernel_microphone):
    second = tmp_path / "second.wav"
    second.write_bytes(wav.read_bytes())
    bench = Workbench(denoiser=demucs_files[1]["package"], asr=char_nemo, examples={"speech": wav, "second": second})
    bench.source.example.value = "second"
    assert bench.wait(180)
    assert bench.session.name == bench.source.example.value == "second"  # it stays on the chosen example
    bench.open_bytes(wav.read_bytes(), "upload.wav")
    assert bench.wait(60)
    assert bench.source.example.label == "upload.wav" and len(bench.source.example.options) == 3
    bench.source.example.value = "second"
    assert bench.wait(60)
    assert bench.session.name == bench.source.example.value == "second" and len(bench.source.example.options) == 2
