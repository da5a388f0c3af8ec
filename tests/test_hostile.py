"""Hostile input costs no more than a clear message.

Each case is a tiny crafted file made in a temporary folder, run through the
command line in a subprocess with bounded memory (``RLIMIT_AS``) and time; it
must end with exit status 2, one line on stderr, and no trace of code from the
file having run (a marker file it would create).
"""
import os
import resource
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from models import speechlike

GIB = 1 << 30
TORCH_ONLY_MEMORY = 3 * GIB      # the CLI with torch imported stays far below this
NEMO_MEMORY = 5 * GIB            # importing NeMo alone maps about 2.6 GB


def run_bounded(*args, memory: int = TORCH_ONLY_MEMORY, seconds: float = 120, env: dict | None = None):
    """``python -m workbench ARGS`` with its address space capped at ``memory`` bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          timeout=seconds, preexec_fn=limit, env=environment)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr[-3000:]
    for word in words:
        assert word in result.stderr, result.stderr


def one_sample_wav(path, rate: int):
    soundfile.write(path, np.array([0.25], np.float32), rate, subtype="PCM_16")
    assert path.stat().st_size == 46
    return path


# -- 1. sample rates ---------------------------------------------------------
@pytest.mark.parametrize("rate", [44101, 96001])
def test_odd_rate_costs_little(tmp_path, rate):
    """One sample at a rate sharing no factor with 16 kHz took 9-11 GB through julius' kernel."""
    wav = one_sample_wav(tmp_path / "odd.wav", rate)
    result = run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "1", seconds=60)
    assert_one_line_error(result, "no audio samples")


def test_odd_rate_resamples_with_bounded_kernel():
    from workbench.audio import resample

    tone = np.sin(2 * np.pi * 440 * np.arange(44101) / 44101).astype(np.float32)
    out = resample(tone, 44101)
    assert abs(len(out) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(out[:16000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)
    assert np.abs(out).max() < 1.01


@pytest.mark.parametrize("rate", [8, 999, 384_001])
def test_absurd_rates_are_refused(tmp_path, rate):
    wav = tmp_path / "rate.wav"
    soundfile.write(wav, np.zeros(1000, np.float32), rate, subtype="PCM_16")
    result = run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "1", seconds=60)
    assert_one_line_error(result, "sample rate")
    assert not (tmp_path / "out.wav").exists()


def test_duration_limit_is_configurable(tmp_path):
    wav = tmp_path / "long.wav"
    soundfile.write(wav, speechlike(3.0), 16000)
    result = run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "1", env={"WORKBENCH_MAX_AUDIO_S": "2"})
    assert_one_line_error(result, "limit of 2 s")
    assert not (tmp_path / "out.wav").exists()


def test_float_samples_outside_unit_range_are_refused(tmp_path):
    wav = tmp_path / "loud.wav"
    soundfile.write(wav, np.array([0.1, 1e30, -0.2] * 100, np.float32), 16000, subtype="FLOAT")
    result = run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "1")
    assert_one_line_error(result, "outside [-1, 1]")
