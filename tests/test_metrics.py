import numpy as np
import pytest

from workbench.metrics import si_sdr


def test_si_sdr_of_a_known_distortion_and_its_invariances():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(16000)
    reference -= reference.mean()
    error = rng.standard_normal(16000)
    error -= error.mean()
    error -= error @ reference / (reference @ reference) * reference   # orthogonal to the reference
    error *= np.linalg.norm(reference) / np.linalg.norm(error) / 10      # |target|² / |error|² = 100 at gain 1
    estimate = 0.3 * reference + 0.3 * error
    assert si_sdr(estimate, reference) == pytest.approx(20.0, abs=1e-6)
    assert si_sdr(5 * estimate + 0.2, reference) == pytest.approx(20.0, abs=1e-6)   # gain and offset ignored
    assert si_sdr(np.append(estimate, np.ones(100)), reference) == pytest.approx(20.0, abs=1e-6)  # common length
    assert si_sdr(reference, reference) > 100


def test_si_sdr_matches_torchmetrics():
    torch = pytest.importorskip("torch")
    audio = pytest.importorskip("torchmetrics.functional.audio")
    rng = np.random.default_rng(1)
    reference = rng.standard_normal(8000).astype(np.float32)
    for scale in (0.1, 1.0, 3.0):
        estimate = (reference + scale * rng.standard_normal(8000)).astype(np.float32)
        expected = audio.scale_invariant_signal_distortion_ratio(
            torch.from_numpy(estimate).double(), torch.from_numpy(reference).double(), zero_mean=True)
        assert si_sdr(estimate, reference) == pytest.approx(float(expected), abs=1e-4)
