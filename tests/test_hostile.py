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


# -- 2. denoiser checkpoints -------------------------------------------------
FACEBOOK_MODULE = "denoiser.demucs"


def save_facebook_package(path, model, **changes):
    """A facebook serialized-model ``.th`` of ``model``, with any field of the package replaced."""
    import types

    import torch

    cls = type("Demucs", (), {"__module__": FACEBOOK_MODULE, "__qualname__": "Demucs"})
    sys.modules["denoiser"], sys.modules[FACEBOOK_MODULE] = types.ModuleType("denoiser"), types.ModuleType("x")
    sys.modules[FACEBOOK_MODULE].Demucs = cls
    try:
        package = {"class": cls, "args": (), "kwargs": dict(model.init_kwargs), "state": model.state_dict()}
        torch.save({**package, **changes}, path)
    finally:
        del sys.modules["denoiser"], sys.modules[FACEBOOK_MODULE]
    return path


def enhance_with(tmp_path, denoiser):
    wav = tmp_path / "in.wav"
    soundfile.write(wav, speechlike(0.5), 16000)
    return run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "0.5", "--denoiser", denoiser)


@pytest.mark.parametrize("hidden, words", [(10000, "out of bounds"), (2000, "does not fit a Demucs with its settings")])
def test_denoiser_settings_are_checked_before_building(tmp_path, hidden, words):
    """A 1.4 KB package declaring hidden=10000 got the process killed building the model."""
    import models

    model = models.tiny_demucs()
    path = save_facebook_package(tmp_path / "big.th", model, kwargs={**model.init_kwargs, "hidden": hidden})
    assert path.stat().st_size < 100_000
    assert_one_line_error(enhance_with(tmp_path, path), words)


@pytest.mark.parametrize("changes, words", [
    ({"floor": float("nan")}, ["floor=nan"]),
    ({"depth": 10**6}, ["depth"]),
    ({"sample_rate": 10**9}, ["sample_rate"]),
    ({"growth": float("inf")}, ["growth"]),
])
def test_denoiser_settings_out_of_bounds(tmp_path, changes, words):
    import models

    model = models.tiny_demucs()
    path = save_facebook_package(tmp_path / "bad.th", model, kwargs={**model.init_kwargs, **changes})
    assert_one_line_error(enhance_with(tmp_path, path), *words)


@pytest.mark.parametrize("break_state", [
    lambda state: state.update({"encoder.0.0.weight": state["encoder.0.0.weight"].reshape(-1)}),
    lambda state: state.pop("encoder.0.2.weight"),
    lambda state: state.update({"lstm.lstm.weight_hh_l0": state["lstm.lstm.weight_hh_l0"] * float("nan")}),
], ids=["1-D weight", "missing key", "nan weights"])
def test_malformed_state_dict(tmp_path, break_state):
    import models
    import torch

    state = models.tiny_demucs().state_dict()
    break_state(state)
    torch.save(state, tmp_path / "bare.th")
    assert_one_line_error(enhance_with(tmp_path, tmp_path / "bare.th"), "denoiser checkpoint")


def test_positional_args_that_are_not_a_list(tmp_path):
    import models

    path = save_facebook_package(tmp_path / "args.th", models.tiny_demucs(), args=5)
    assert_one_line_error(enhance_with(tmp_path, path), "'args'")


def test_refused_pickle_names_the_global(tmp_path):
    import torch

    marker = tmp_path / "MARKER"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    torch.save({"encoder.0.0.weight": Payload()}, tmp_path / "evil.th")
    result = enhance_with(tmp_path, tmp_path / "evil.th")
    assert_one_line_error(result, "refused as unsafe", "system")
    assert not marker.exists()
