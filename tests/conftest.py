import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import models  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR",
                     help="save the browser tests' screenshots in DIR (docs/ in the README)")


def speechlike(seconds: float, seed: int = 0, rate: int = 16000) -> np.ndarray:
    """Bursts of harmonic tones separated by pauses: deterministic, speech-shaped test audio."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 0.7 * t) > -0.2).astype(np.float32)
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / rate) / k for k in range(1, 6))
    return (0.2 * envelope * voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def demucs_files(model_dir):
    model = models.tiny_demucs()
    return model, models.save_demucs_layouts(model, model_dir)


@pytest.fixture(scope="session")
def char_nemo(model_dir) -> Path:
    return models.tiny_char_ctc(model_dir / "char.nemo")


@pytest.fixture(scope="session")
def bpe_nemo(model_dir) -> Path:
    return models.tiny_bpe_ctc(model_dir / "bpe.nemo")


@pytest.fixture(scope="session")
def transcriber(char_nemo):
    from workbench import load_transcriber

    return load_transcriber(char_nemo)
