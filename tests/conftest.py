import os
import sys
from pathlib import Path

import pytest
import torch

# Tiny models gain nothing from threads on a few cores, and threads oversubscribe the CPU
# (the non-browser suite: 432 s with default threads, 266 s with one). Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent))
import models


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR",
                     help="save the browser tests' screenshots in DIR (docs/ in the README)")


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


@pytest.fixture(scope="module")
def engine():
    """The bundled models behind a service (one per test module that asks)."""
    engine = models.bundled_engine()
    yield engine
    engine.close()
