"""Denoiser -> dry mix -> transcriber (workbench.pipeline)."""
import pytest
from models import tiny_demucs

from workbench import Denoiser
from workbench.asr.stream import StreamConfig
from workbench.denoise.denoiser import HOP_MS
from workbench.pipeline import Pipeline


def test_latency_is_the_denoisers_at_its_hop_plus_the_recognisers(transcriber):
    denoiser, config = Denoiser(tiny_demucs()), StreamConfig(0.64, 1.28, 0.32)
    recogniser = transcriber.streamer(config).latency_s
    assert recogniser == pytest.approx(0.64 + 0.32)
    assert denoiser.stream_latency_s(HOP_MS) - denoiser.stream_latency_s(32.0) == pytest.approx((HOP_MS - 32.0) / 1000)
    assert denoiser.stream_latency_s() == denoiser.stream(0.0).latency / 16000
    pipeline = Pipeline(transcriber, denoiser, 0.5, config, hop_ms=32.0)
    assert pipeline.latency_s == pytest.approx(recogniser + denoiser.stream_latency_s(32.0))
    assert Pipeline(transcriber, denoiser, 1.0, config).latency_s == pytest.approx(recogniser)  # dry 1: no denoiser
