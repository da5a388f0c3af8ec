"""The recording controller (workbench.recording) without widgets: a synchronous worker, a fake microphone."""
import itertools
import threading

import numpy as np
import pytest
from models import speechlike

from workbench import MicrophoneUnavailable, pcm16_to_float, recording
from workbench.audio import chunks
from workbench.recording import RecordingController
from workbench.session import Session


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


class Shown:
    """The hooks' calls, in order, and a worker that runs each job at once."""

    def __init__(self):
        self.calls, self.tokens = [], itertools.count(1)

    def submit(self, job, on_error):
        try:
            job()
        except Exception as error:  # noqa: BLE001 - as the workbench's worker does
            on_error(str(error))

    def controller(self, session, **hooks):
        def hook(name):
            return lambda *args: self.calls.append((name, *args))

        return RecordingController(session, self.submit, lambda: next(self.tokens), hook("error"),
                                   stop_browser=hook("stop_browser"), on_named=hook("named"),
                                   on_started=hook("started"), on_fed=hook("fed"), on_finished=hook("finished"),
                                   on_microphone=hook("microphone"), **hooks)


def test_a_browser_recording_is_resampled_into_the_session_and_finished():
    shown, session, rate = Shown(), Session(), 48000
    controller = shown.controller(session)
    audio = speechlike(1.0, seed=1, rate=rate)
    controller.browser_started(rate)
    assert session.recording and session.name == "browser recording (48000 Hz)"
    for start in range(0, len(audio), rate // 10):
        controller.browser_chunk(pcm16(audio[start:start + rate // 10]), rate)
    controller.browser_stopped()
    assert not session.recording
    np.testing.assert_allclose(session.audio, pcm16_to_float(pcm16(audio), rate), atol=1e-6)
    names = [call[0] for call in shown.calls]
    assert names[:2] == ["named", "started"] and names[-1] == "finished" and names.count("fed") == 10
    assert shown.calls[0] == ("named", "browser recording (48000 Hz)")


def test_chunks_and_ends_of_a_superseded_recording_are_dropped():
    shown, session = Shown(), Session()
    controller = shown.controller(session)
    controller.browser_started(16000)
    old = controller._browser_token
    controller.browser_started(16000)  # a second start supersedes the first
    controller._chunk(old, np.ones(1600, np.float32))
    controller._finish(old)
    assert session.recording and len(session.audio) == 0
    controller.browser_stopped()
    controller.browser_chunk(pcm16(np.ones(160)), 16000)  # after the end
    assert not session.recording and len(session.audio) == 0


class FakeMicrophone:
    """Stands in for MicrophoneSource: chunks until stopped, or a failure after ``fail_after`` chunks."""

    fail_after = None

    def __init__(self):
        self.stopped = threading.Event()

    def stop(self):
        self.stopped.set()

    def __iter__(self):
        for index, chunk in enumerate(chunks(speechlike(30.0, seed=4), 0.1)):
            if index == self.fail_after:
                raise OSError("the device went away")
            if self.stopped.wait(0.005):
                return
            yield chunk


def join_microphone():
    for thread in threading.enumerate():
        if thread.name == "workbench-microphone":
            thread.join(30)


def test_the_kernel_microphone_records_on_its_own_thread_until_toggled_off(monkeypatch):
    monkeypatch.setattr(recording, "MicrophoneSource", FakeMicrophone)
    shown, session = Shown(), Session()
    controller = shown.controller(session)
    controller.toggle_kernel()
    assert ("stop_browser",) in shown.calls and ("microphone", True) in shown.calls
    threading.Event().wait(0.3)
    controller.toggle_kernel()
    join_microphone()
    assert not session.recording and 0 < session.duration_s < 30 and session.name == "kernel microphone"
    assert shown.calls[-2:] == [("microphone", False), ("finished",)]


def test_microphone_failures_are_reported(monkeypatch):
    def missing():
        raise MicrophoneUnavailable("no microphone found: connect one")

    monkeypatch.setattr(recording, "MicrophoneSource", missing)
    shown, session = Shown(), Session()
    shown.controller(session).toggle_kernel()
    assert shown.calls == [("error", "no microphone found: connect one")] and not session.recording

    class Failing(FakeMicrophone):
        fail_after = 3

    monkeypatch.setattr(recording, "MicrophoneSource", Failing)
    shown.calls.clear()
    shown.controller(session).toggle_kernel()
    join_microphone()
    assert ("error", "OSError: the device went away") in shown.calls
    assert not session.recording and session.duration_s == pytest.approx(0.3)
