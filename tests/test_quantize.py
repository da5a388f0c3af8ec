"""int8 dynamic quantization of the denoiser and the recogniser: every Linear converted, outputs close to float."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from models import speechlike
from torch import nn

from workbench import DeviceError, load_audio, load_denoiser, load_transcriber
from workbench.denoise import Denoiser
from workbench.quantize import is_quantized, quantize_linear


def float_linears(module: nn.Module) -> list:
    return [m for m in module.modules() if type(m) is nn.Linear]


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_quantized_denoiser_is_close_to_float_offline_and_streamed(demucs_files):
    _, paths = demucs_files
    exact, quantized = load_denoiser(paths["package"]), load_denoiser(paths["package"], quantize=True)
    assert not is_quantized(exact.layers) and is_quantized(quantized.layers) and not float_linears(quantized.layers)
    audio = speechlike(2.0, seed=3)
    reference = exact.denoise(audio)
    offline = quantized.denoise(audio)
    stream = quantized.stream(dry=0.0, hop_ms=32, scale=Denoiser.offline_scale(audio))
    streamed = np.concatenate([stream.feed(c) for c in np.array_split(audio, 37)] + [stream.flush()])
    assert len(offline) == len(streamed) == len(audio)
    assert 0 < relative(offline, reference) < 0.02 and 0 < relative(streamed, reference) < 0.02


def test_quantized_transcriber_is_close_to_float(char_nemo):
    exact, quantized = load_transcriber(char_nemo), load_transcriber(char_nemo, quantize=True)
    assert float_linears(exact.model.encoder) and not float_linears(quantized.model.encoder)
    audio = speechlike(2.0)
    reference, scores = np.exp(exact.log_probs(audio)), np.exp(quantized.log_probs(audio))
    assert scores.shape == reference.shape
    assert 0 < np.abs(scores - reference).max() < 0.05


def test_quantization_runs_on_the_cpu_only():
    with pytest.raises(DeviceError, match="CPU only"):
        quantize_linear(nn.Linear(2, 2), "cuda")


def test_cli_enhance_quantized(tmp_path, demucs_files):
    _, paths = demucs_files
    soundfile.write(tmp_path / "in.wav", speechlike(1.0), 16000)
    outputs = {}
    for flag in ([], ["--quantize"]):
        out = tmp_path / f"out{len(flag)}.wav"
        result = subprocess.run([sys.executable, "-m", "workbench", "enhance", tmp_path / "in.wav", out, "--dry", "0",
                                 "--denoiser", paths["package"], *flag], check=False, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs[len(flag)] = load_audio(out)
    assert 0 < relative(outputs[1], outputs[0]) < 0.02


def test_models_panel_switch_loads_int8_models_and_says_so(demucs_files, char_nemo, monkeypatch):
    """The Models panel's int8 checkbox existed but every load ignored it."""
    from workbench.quantize import is_quantized
    from workbench.widgets import app

    monkeypatch.setattr(app, "kernel_microphone", lambda: None)
    bench = app.Workbench(denoiser=demucs_files[1]["package"], asr=char_nemo, examples={})
    assert bench.wait(180)
    assert "int8" not in bench.models.status.value and not is_quantized(bench.session.transcriber.model)
    bench.models.quantize.value = True
    bench.load_models()
    assert bench.wait(180)
    session = bench.session
    assert is_quantized(session.transcriber.model) and is_quantized(session.denoiser.layers)
    assert bench.models.status.value.count("cpu int8") == 2
    assert bench.tuning.models_from()["quantize"] is True


def test_evaluation_loads_the_models_it_is_asked_for(demucs_files, char_nemo):
    import argparse

    from workbench.__main__ import add_evaluate_arguments
    from workbench.models import load_models
    from workbench.quantize import is_quantized

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    assert parser.parse_args(["set.json", "--quantize"]).quantize and not parser.parse_args(["set.json"]).quantize
    denoiser, transcriber = load_models(str(demucs_files[1]["package"]), str(char_nemo), "cpu", True, True)
    assert is_quantized(denoiser.layers) and is_quantized(transcriber.model)
