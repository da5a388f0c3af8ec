"""The core live pipeline (workbench.live) without widgets: resampling, denoising, mixing, recognising."""
import subprocess
import sys

import numpy as np
import pytest
from models import RecordingTranscriber, speechlike, tiny_demucs

from workbench import AudioError, Denoiser, mix, pcm16_to_float
from workbench.asr.live_mode import REDECODES
from workbench.asr.stream import StreamConfig
from workbench.audio import chunks
from workbench.live import LiveStream, PendingChunks


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def test_pcm_chunks_at_any_rate_give_the_whole_recording_resampled_and_its_transcript(transcriber):
    rate = 48000
    audio = speechlike(2.5, seed=2, rate=rate)
    stream = LiveStream(transcriber, keep=True)
    events = []
    for start in range(0, len(audio), rate // 10):
        events += stream.feed(pcm16(audio[start:start + rate // 10]), rate)
    events += stream.finish()
    whole = pcm16_to_float(pcm16(audio), rate)
    np.testing.assert_allclose(stream.raw.array, whole, atol=1e-6)  # no seams between chunks
    assert stream.duration_s == pytest.approx(2.5, abs=1e-3)
    expected = list(transcriber.stream(chunks(whole, 0.3)))
    assert [e for e in events if e.final] == [e for e in expected if e.final]


def test_denoised_output_is_mixed_with_the_raw_samples_it_answers():
    denoiser, recogniser = Denoiser(tiny_demucs()), RecordingTranscriber()
    audio = speechlike(2.0, seed=3)
    stream = LiveStream(recogniser, denoiser, dry=0.3, keep=True, config=StreamConfig(chunk_s=0.5))
    reference = denoiser.stream(0.0)
    expected = []
    for piece in chunks(audio, 0.1):
        stream.feed(piece)
        expected.append(reference.feed(piece))
    stream.finish()
    expected.append(reference.flush())
    denoised = np.concatenate(expected)
    assert len(stream.denoised) == len(stream.raw) == len(audio)
    np.testing.assert_allclose(stream.denoised.array, denoised, atol=1e-6)
    np.testing.assert_allclose(recogniser.audio, mix(audio, denoised, 0.3), atol=1e-6)
    assert recogniser.options == {"use_lm": True, "config": StreamConfig(chunk_s=0.5), "redecodes": REDECODES}


def test_a_new_dry_applies_to_the_samples_mixed_after_it():
    denoiser, recogniser = Denoiser(tiny_demucs()), RecordingTranscriber()
    audio = speechlike(1.0, seed=4)
    stream = LiveStream(recogniser, denoiser, dry=0.0, keep=True)
    stream.feed(audio[:8000])
    mixed_before = len(recogniser.audio)
    stream.dry = 1.0
    stream.feed(audio[8000:])
    stream.finish()
    np.testing.assert_allclose(recogniser.audio[:mixed_before], stream.denoised.array[:mixed_before], atol=1e-6)
    np.testing.assert_array_equal(recogniser.audio[mixed_before:], audio[mixed_before:])


def test_without_a_denoiser_the_raw_audio_is_recognised_and_nothing_is_kept():
    recogniser = RecordingTranscriber()
    audio = speechlike(1.0, seed=5)
    stream = LiveStream(recogniser)
    for piece in chunks(audio, 0.1):
        stream.feed(piece)
    stream.finish()
    assert stream.raw is None and stream.denoised is None
    np.testing.assert_array_equal(recogniser.audio, audio)


def test_a_rate_change_flushes_the_old_resampler():
    stream = LiveStream(keep=True)
    first, second = speechlike(0.5, rate=8000), speechlike(0.5, rate=44100)
    stream.feed(first, 8000)
    stream.feed(second, 44100)
    stream.finish()
    expected = np.concatenate([pcm16_to_float(pcm16(first), 8000), pcm16_to_float(pcm16(second), 44100)])
    assert len(stream.raw) == len(expected)
    np.testing.assert_allclose(stream.raw.array, expected, atol=1e-4)


def test_level_is_the_rms_of_the_last_tenth_of_a_second():
    stream = LiveStream()
    stream.feed(np.full(3200, 0.5, np.float32))
    assert stream.level == pytest.approx(0.5)
    stream.feed(np.concatenate([np.ones(1600), np.zeros(1600)]).astype(np.float32))
    assert stream.level == 0.0
    stream.finish()
    assert stream.level == 0.0


def test_bad_input_is_refused():
    stream = LiveStream()
    with pytest.raises(AudioError, match="PCM16"):
        stream.feed(b"\x00\x01\x02")
    with pytest.raises(AudioError, match="sample rate"):
        stream.feed(np.zeros(10, np.float32), 0)
    with pytest.raises(ValueError, match="dry"):
        LiveStream(dry=1.5)
    stream.finish()
    with pytest.raises(RuntimeError, match="finished"):
        stream.feed(np.zeros(10, np.float32))


def test_pending_chunks_are_taken_joined_per_recording_and_rate():
    pending = PendingChunks()
    assert pending.put(1, b"\x01\x00", 48000) is True
    assert pending.put(1, b"\x02\x00", 48000) is False  # a drain is already due
    pending.put(1, b"\x03\x00", 16000)
    pending.put(2, np.ones(2, np.float32))
    pending.put(2, np.zeros(1, np.float32))
    taken = pending.take()
    assert [(key, rate) for key, _, rate in taken] == [(1, 48000), (1, 16000), (2, 16000)]
    assert taken[0][1] == b"\x01\x00\x02\x00"
    np.testing.assert_array_equal(taken[2][1], [1, 1, 0])
    assert len(pending) == 0 and pending.take() == []
    assert pending.put(3, b"") is True


def test_the_core_imports_no_widgets():
    code = "import sys, workbench.live, workbench.session, workbench.recording, workbench.subtitles; sys.exit('ipywidgets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


class FakeMicrophone:
    """Stands in for MicrophoneSource: 16 kHz chunks of test audio."""

    name = "fake"

    def __init__(self, device=None):
        self.audio = speechlike(2.0, seed=6)

    def stop(self):
        pass

    def __iter__(self):
        return chunks(self.audio, 0.1)


def test_the_cli_microphone_mode_drives_the_live_stream(monkeypatch, capsys, char_nemo, transcriber):
    import json

    import workbench.sources
    from workbench.__main__ import main

    monkeypatch.setattr(workbench.sources, "MicrophoneSource", FakeMicrophone)
    monkeypatch.setattr("signal.signal", lambda *args: None)  # keep pytest's Ctrl-C
    fed, feed = [], LiveStream.feed

    def counted(self, chunk, rate=16000):
        fed.append(len(chunk))
        return feed(self, chunk, rate)

    monkeypatch.setattr(LiveStream, "feed", counted)
    assert main(["transcribe", "--mode", "microphone", "--asr", str(char_nemo), "--dry", "1", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = [e.to_dict() for e in transcriber.stream(chunks(FakeMicrophone().audio, 0.1))]
    assert events == expected and sum(fed) == len(FakeMicrophone().audio)
