"""The one composer of denoise -> dry mix -> recognise (workbench.live) on whole signals: the mode the CLI,
the service's file answers, the session and evaluate use."""
import subprocess
import sys

import numpy as np
import pytest
from models import speechlike, tiny_demucs

from workbench import Denoiser, mix
from workbench.asr.stream import StreamConfig
from workbench.audio import chunks
from workbench.denoise.denoiser import HOP_MS
from workbench.live import LiveStream, denoise_blocks, dry_mixes


class RecordingTranscriber:
    """Stands in for a Transcriber: its streamer keeps what it is fed."""

    latency_s = 0.0

    def __init__(self):
        self.fed = []

    def streamer(self, config, **options):
        return self

    def feed(self, chunk):
        self.fed.append(np.array(chunk))
        return []

    def flush(self):
        return []

    @property
    def audio(self):
        return np.concatenate(self.fed)


class CountingDenoiser(Denoiser):
    """A denoiser that counts its whole-signal passes and its streams."""

    def __init__(self, model):
        super().__init__(model)
        self.passes = self.streams = 0

    def denoise(self, audio):
        self.passes += 1
        return super().denoise(audio)

    def stream(self, *args, **kwargs):
        self.streams += 1
        return super().stream(*args, **kwargs)


def test_latency_is_the_denoisers_at_its_hop_plus_the_recognisers(transcriber):
    denoiser, config = Denoiser(tiny_demucs()), StreamConfig(0.64, 1.28, 0.32)
    audio = speechlike(1.0)
    recogniser = transcriber.streamer(config).latency_s
    assert recogniser == pytest.approx(0.64 + 0.32)
    assert denoiser.stream_latency_s(HOP_MS) - denoiser.stream_latency_s(32.0) == pytest.approx((HOP_MS - 32.0) / 1000)
    assert denoiser.stream_latency_s() == denoiser.stream(0.0).latency / 16000
    stream = LiveStream.for_file(audio, transcriber, denoiser, 0.5, config=config, hop_ms=32.0)
    assert stream.latency_s == pytest.approx(recogniser + denoiser.stream_latency_s(32.0))
    assert LiveStream.for_file(audio, transcriber, denoiser, 1.0, config=config).latency_s == pytest.approx(recogniser)  # dry 1: no denoiser


def test_a_whole_file_is_the_offline_enhancement_recognised_with_progress():
    denoiser, recogniser = Denoiser(tiny_demucs()), RecordingTranscriber()
    audio = speechlike(1.55, seed=7)
    steps = list(LiveStream.for_file(audio, recogniser, denoiser, 0.3).run(audio))
    done = [fraction for fraction, _ in steps]
    assert len(steps) == len(list(chunks(audio, 0.1))) + 1 and done == sorted(done) and done[-1] == 1.0
    assert 0 < done[0] < 0.1
    np.testing.assert_allclose(recogniser.audio, denoiser.enhance(audio, 0.3), atol=1e-5)


def test_a_given_denoised_signal_is_mixed_and_the_denoiser_never_runs():
    denoiser, recogniser = CountingDenoiser(tiny_demucs()), RecordingTranscriber()
    audio = speechlike(1.0, seed=8)
    denoised = Denoiser(tiny_demucs()).denoise(audio)
    for _ in LiveStream.for_file(audio, recogniser, None, 0.4, denoised=denoised).run(audio, piece_s=0.25):
        pass
    np.testing.assert_array_equal(recogniser.audio, mix(audio, denoised, 0.4))
    assert denoiser.passes == denoiser.streams == 0


def test_dry_one_recognises_the_raw_signal_without_denoising():
    denoiser, recogniser = CountingDenoiser(tiny_demucs()), RecordingTranscriber()
    audio = speechlike(0.5, seed=9)
    list(LiveStream.for_file(audio, recogniser, denoiser, 1.0).run(audio))
    np.testing.assert_array_equal(recogniser.audio, audio)
    assert denoiser.streams == 0


def test_dry_mixes_denoise_once_and_remix_per_dry():
    denoiser = CountingDenoiser(tiny_demucs())
    audio = speechlike(1.0, seed=10)
    denoised = Denoiser(denoiser.model).denoise(audio)
    mixes = dict(dry_mixes(audio, denoiser, [1.0, 0.0, 0.2, 1.0]))
    assert denoiser.passes == 1 and list(mixes) == [1.0, 0.0, 0.2]
    np.testing.assert_array_equal(mixes[1.0], audio)
    np.testing.assert_allclose(mixes[0.0], denoised, atol=1e-6)
    np.testing.assert_allclose(mixes[0.2], mix(audio, denoised, 0.2), atol=1e-6)
    only_raw = CountingDenoiser(tiny_demucs())
    assert [dry for dry, _ in dry_mixes(audio, only_raw, [1.0])] == [1.0] and only_raw.passes == 0


@pytest.mark.parametrize("causal", [True, False])
def test_denoise_blocks_are_the_denoisers_whole_signal_pass(causal):
    denoiser = Denoiser(tiny_demucs(causal=causal))
    audio = speechlike(4.5, seed=11)
    blocks = list(denoise_blocks(denoiser, audio))
    assert len(blocks) == (3 if causal else 1)
    np.testing.assert_allclose(np.concatenate(blocks), denoiser.denoise(audio), atol=1e-6)


def test_the_denoiser_does_not_import_the_composer():
    code = "import sys, workbench.denoise; sys.exit('workbench.live' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
