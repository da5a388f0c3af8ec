import json
import subprocess
import sys

import numpy as np
import soundfile
from models import speechlike

from workbench import load_audio


def run(*args):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], check=False,
                          capture_output=True, text=True, timeout=300)


def test_transcribe_streams_json_events(tmp_path, demucs_files, char_nemo):
    _, paths = demucs_files
    soundfile.write(tmp_path / "in.wav", speechlike(3.0), 22050)
    result = run("transcribe", tmp_path / "in.wav", "--denoiser", paths["package"], "--asr", char_nemo,
                 "--json", "--chunk-s", "0.64", "--dry", "0.3")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and events[-1]["final"] is True
    assert all(set(e) == {"text", "final", "start_s", "end_s"} | ({"words"} if e["final"] else set()) for e in events)


def test_transcribe_plain_prints_finals(tmp_path, char_nemo):
    soundfile.write(tmp_path / "in.wav", speechlike(2.0), 16000)
    result = run("transcribe", tmp_path / "in.wav", "--asr", char_nemo, "--dry", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("[")


def test_enhance_writes_audio(tmp_path, demucs_files):
    _model, paths = demucs_files
    audio = speechlike(1.0)
    soundfile.write(tmp_path / "in.wav", audio, 16000)
    result = run("enhance", tmp_path / "in.wav", tmp_path / "out.wav", "--dry", "0.5", "--denoiser", paths["training"])
    assert result.returncode == 0, result.stderr
    out = load_audio(tmp_path / "out.wav")
    assert out.shape == audio.shape and not np.allclose(out, load_audio(tmp_path / "in.wav"), atol=1e-3)


def test_errors_are_one_line(tmp_path, char_nemo):
    (tmp_path / "text.wav").write_text("not audio")
    cases = [
        (["transcribe", tmp_path / "text.wav", "--asr", char_nemo, "--dry", "1"], "cannot decode"),
        (["transcribe", tmp_path / "missing.wav"], "not found"),
        (["enhance", tmp_path / "text.wav", tmp_path / "o.wav", "--denoiser", tmp_path / "none.th"], "cannot decode"),
        (["transcribe", tmp_path / "text.wav", "--asr", tmp_path / "none.nemo", "--device", "tpu"], "cannot decode"),
    ]
    soundfile.write(tmp_path / "ok.wav", speechlike(0.5), 16000)
    cases += [
        (["enhance", tmp_path / "ok.wav", tmp_path / "o.wav", "--denoiser", tmp_path / "none.th"], "none.th"),
        (["transcribe", tmp_path / "ok.wav", "--asr", tmp_path / "none.nemo", "--dry", "1"], "none.nemo"),
        (["transcribe", tmp_path / "ok.wav", "--asr", char_nemo, "--dry", "1", "--device", "tpu"], "unknown device"),
        (["transcribe", tmp_path / "ok.wav", "--asr", char_nemo, "--dry", "1", "--lm", tmp_path / "text.wav"],
         "cannot read language model"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
