"""Parity with facebook's own denoiser code (installed by setup.sh into .venv/reference)."""
import sys
from pathlib import Path

import pytest
import torch

REFERENCE = Path(sys.prefix) / "reference"


@pytest.fixture(scope="module")
def facebook():
    if not (REFERENCE / "denoiser").is_dir():
        pytest.fail("facebook's denoiser is missing: run ./setup.sh")
    sys.path.insert(0, str(REFERENCE))
    import denoiser.demucs
    import denoiser.utils

    yield denoiser
    sys.path.remove(str(REFERENCE))


@pytest.fixture(scope="module")
def dns48(facebook):
    torch.manual_seed(0)
    return facebook.demucs.Demucs(hidden=48).eval()


def same_output(a, b):
    x = torch.randn(1, 1, 24_000) * 0.1
    with torch.no_grad():
        return (a(x) - b(x)).abs().max().item()


def test_facebook_state_dict_and_package_load_unchanged(dns48, facebook, tmp_path):
    from workbench.denoise import load_demucs

    torch.save(dns48.state_dict(), tmp_path / "dns48.th")
    torch.save(facebook.utils.serialize_model(dns48), tmp_path / "package.th")
    for name in ("dns48.th", "package.th"):
        assert same_output(load_demucs(tmp_path / name), dns48) == 0.0


def test_our_package_loads_in_facebook_code(dns48, facebook, tmp_path):
    from workbench.denoise import Demucs, save_package

    ours = Demucs.preset("dns48")
    ours.load_state_dict(dns48.state_dict())
    save_package(ours, tmp_path / "ours.th")
    package = torch.load(tmp_path / "ours.th", weights_only=False)  # facebook's loader trusts the pickle
    theirs = facebook.utils.deserialize_model(package)
    assert type(theirs) is facebook.demucs.Demucs
    assert same_output(theirs.eval(), dns48) == 0.0


@pytest.mark.parametrize("name", ["dns48", "dns64", "master64"])
def test_presets_are_facebooks_released_models(facebook, name):
    import denoiser.pretrained

    from workbench.denoise import Demucs

    theirs = getattr(denoiser.pretrained, name)(pretrained=False)  # builds the model, downloads nothing
    ours = Demucs.preset(name)
    assert ours.init_kwargs == {**ours.init_kwargs, **theirs._init_args_kwargs[1]}
    assert ({key: value.shape for key, value in ours.state_dict().items()}
            == {key: value.shape for key, value in theirs.state_dict().items()})
