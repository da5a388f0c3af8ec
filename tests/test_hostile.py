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
import time

import numpy as np
import pytest
import soundfile
from models import speechlike, tiny_demucs

GIB = 1 << 30
TORCH_ONLY_MEMORY = 3 * GIB      # the CLI with torch imported stays far below this
NEMO_MEMORY = 5 * GIB            # importing NeMo alone maps about 2.6 GB


def run_bounded(*args, memory: int = TORCH_ONLY_MEMORY, seconds: float = 120, env: dict | None = None):
    """``python -m workbench ARGS`` with its address space capped at ``memory`` bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], check=False, capture_output=True, text=True,
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


def test_a_callers_shorter_limit_refuses_before_decoding(tmp_path, monkeypatch):
    """The service passes its own limit down: a declared duration over it is refused before a block
    is decoded; the global limit still applies when it is the shorter."""
    from workbench import audio

    wav = tmp_path / "long.wav"
    soundfile.write(wav, speechlike(3.0), 16000)
    with pytest.raises(audio.AudioTooLong, match="declares 3 s of audio, more than the limit of 2 s$"):
        next(audio.audio_blocks(wav, max_s=2))
    monkeypatch.setenv("WORKBENCH_MAX_AUDIO_S", "1")
    with pytest.raises(audio.AudioTooLong, match=r"limit of 1 s \(WORKBENCH_MAX_AUDIO_S\)"):
        audio.load_audio(wav, max_s=2)
    monkeypatch.delenv("WORKBENCH_MAX_AUDIO_S")
    assert len(audio.load_audio(wav, max_s=5)) == 48000


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


def test_a_class_that_is_not_a_class_is_named(tmp_path):
    """A package whose 'class' is None was refused as holding "a ."."""
    from workbench import load_denoiser
    from workbench.errors import CheckpointError

    path = save_facebook_package(tmp_path / "none.th", tiny_demucs(), **{"class": None})
    with pytest.raises(CheckpointError, match=r"holds 'class': None \(a NoneType, not a class\), not a Demucs"):
        load_denoiser(path)


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


# -- 3-5. .nemo archives and label LMs ---------------------------------------
def nemo_with(tmp_path, source, name="crafted.nemo", replace: dict | None = None, extra: dict | None = None,
              mode="w"):
    """A copy of the ``.nemo`` ``source`` with members replaced (name -> bytes) or added."""
    import io
    import tarfile

    replace, extra = replace or {}, extra or {}
    path = tmp_path / name
    with tarfile.open(source) as old, tarfile.open(path, mode) as new:
        for member in old:
            data = old.extractfile(member).read() if member.isfile() else None
            key = member.name.removeprefix("./")
            if key in replace:
                data = replace[key]
                member.size = len(data)
            new.addfile(member, io.BytesIO(data) if data is not None else None)
        for key, data in extra.items():
            info = tarfile.TarInfo(f"./{key}")
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    return path


def transcribe_with(tmp_path, asr, env=None, seconds=180):
    wav = tmp_path / "in.wav"
    soundfile.write(wav, speechlike(0.5), 16000)
    return run_bounded("transcribe", wav, "--asr", asr, "--dry", "1", "--lm", "none", memory=NEMO_MEMORY,
                       seconds=seconds, env=env)


def test_nemo_weights_are_loaded_weights_only_whatever_the_environment(tmp_path, char_nemo):
    import pickle

    marker = tmp_path / "MARKER"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    import torch

    buffer = __import__("io").BytesIO()
    torch.save({"weights": Payload()}, buffer)
    path = nemo_with(tmp_path, char_nemo, replace={"model_weights.ckpt": buffer.getvalue()})
    result = transcribe_with(tmp_path, path, env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert not marker.exists()
    assert_one_line_error(result, "refused as unsafe", "system")
    del pickle


BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]) + "\n"


@pytest.mark.parametrize("config, words", [
    (BILLION_LAUGHS, "aliases"),
    ("- 1\n- 2\n", "not a mapping"),
    ("[" * 200 + "]" * 200, "deeper"),
    ("\xff\xfe garbage", "not UTF-8"),
], ids=["alias bomb", "list", "deep", "not utf-8"])
def test_nemo_config_is_checked_before_it_is_parsed(tmp_path, char_nemo, config, words):
    data = config.encode("latin-1") if words == "not UTF-8" else config.encode()
    path = nemo_with(tmp_path, char_nemo, replace={"model_config.yaml": data})
    assert path.stat().st_size < 1 << 20
    assert_one_line_error(transcribe_with(tmp_path, path, seconds=60), words)


def test_nemo_decompression_bomb_is_refused_before_extraction(tmp_path, char_nemo):
    import io
    import tarfile

    class Zeros(io.RawIOBase):
        def __init__(self, size):
            self.left = size

        def readable(self):
            return True

        def readinto(self, buffer):
            count = min(len(buffer), self.left)
            buffer[:count] = bytes(count)
            self.left -= count
            return count

    size = 400 << 20
    path = tmp_path / "bomb.nemo"
    with tarfile.open(char_nemo) as model, tarfile.open(path, "w:gz", compresslevel=1) as tar:
        config = model.getmember("./model_config.yaml")
        tar.addfile(config, model.extractfile(config))
        info = tarfile.TarInfo("./model_weights.ckpt")
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))
    assert path.stat().st_size < 4 << 20
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = transcribe_with(tmp_path, path, env={"TMPDIR": str(temp)}, seconds=60)
    assert_one_line_error(result, "decompression bomb")
    assert not list(temp.iterdir())


def test_nemo_temp_folder_is_removed_on_sigterm(tmp_path, char_nemo):
    import signal
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    wav = tmp_path / "in.wav"
    soundfile.write(wav, speechlike(0.5), 16000)
    process = subprocess.Popen([sys.executable, "-m", "workbench", "transcribe", str(wav), "--asr", str(char_nemo),
                                "--dry", "1"], env={**os.environ, "TMPDIR": str(temp), "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(temp.glob("workbench-nemo-*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert any(temp.glob("workbench-nemo-*")), "the model was never extracted"
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    assert not list(temp.iterdir())


def test_lm_decompression_bomb_is_refused(tmp_path):
    from workbench.asr.lm import LabelLM
    from workbench.errors import CheckpointError

    path = tmp_path / "bomb.lm.npz"
    np.savez_compressed(path, labels=np.array(["a", "b"]), order=np.array(1), fusion=np.array([0.5, 1.0]),
                        ngrams1=np.zeros((12_500_000, 2), np.int64))
    assert path.stat().st_size < 2 << 20
    with pytest.raises(CheckpointError, match="decompression bomb"):
        LabelLM.load(path)


@pytest.mark.parametrize("order, fusion", [(0, [0.5, 1.0]), (2, [float("nan"), 1.0]), (2, [0.5, float("inf")])])
def test_lm_settings_that_would_empty_transcripts_are_refused(tmp_path, order, fusion):
    from workbench.asr.lm import LabelLM
    from workbench.errors import CheckpointError

    path = tmp_path / "bad.lm.npz"
    tables = {f"ngrams{n}": np.array([[0] * (n - 1) + [0, 1]]) for n in range(1, max(order, 1) + 1)}
    np.savez_compressed(path, labels=np.array(["a", "b"]), order=np.array(order), fusion=np.array(fusion), **tables)
    with pytest.raises(CheckpointError):
        LabelLM.load(path)


# -- 6, 9. whole-file denoising --------------------------------------------------
def test_enhance_memory_is_flat_in_the_file_length(tmp_path, demucs_files):
    """Minutes through the whole-signal forward pass needed gigabytes; blocks need a few MB."""
    _, paths = demucs_files
    rate, minutes = 16000, 4
    wav = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(wav, "w", rate, 1, subtype="PCM_16") as handle:
        for _ in range(minutes):
            handle.write((0.1 * rng.standard_normal(60 * rate)).astype(np.float32))
    result = run_bounded("enhance", wav, tmp_path / "out.wav", "--dry", "0.5", "--denoiser", paths["package"],
                         memory=3 * GIB // 2, seconds=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert soundfile.info(tmp_path / "out.wav").frames == minutes * 60 * rate


def test_enhance_refuses_non_finite_output_and_leaves_no_file(tmp_path, demucs_files):
    import models
    import torch

    model = models.tiny_demucs()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1e30)
    path = save_facebook_package(tmp_path / "loud.th", model)
    result = enhance_with(tmp_path, path)
    assert_one_line_error(result, "NaN or infinite")
    assert not (tmp_path / "out.wav").exists()


def test_one_sample_is_denoised_to_a_number():
    import models

    from workbench.denoise import Denoiser

    denoiser = Denoiser(models.tiny_demucs())
    out = denoiser.enhance(np.array([0.1], np.float32), 0.5)
    assert out.shape == (1,) and np.isfinite(out).all()
    assert denoiser.offline_scale(np.array([0.1], np.float32)) == 0.0


# -- 8, 10. command-line arguments, text files, terminal output ------------------
@pytest.mark.parametrize("args", [
    ["transcribe", "x.wav", "--chunk-s", "nan"], ["transcribe", "x.wav", "--chunk-s", "inf"],
    ["transcribe", "x.wav", "--chunk-s", "0"], ["transcribe", "x.wav", "--left-s", "-1"],
    ["transcribe", "x.wav", "--right-s", "-inf"], ["evaluate", "x", "--workers", "-1"],
    ["evaluate", "x", "--chunk-s", "nan"], ["evaluate", "x", "--left-s", "-2"],
], ids=lambda args: " ".join(args[2:]))
def test_bad_numbers_are_refused_in_one_line(args):
    assert_one_line_error(run_bounded(*args, seconds=60), args[2])


def test_non_utf8_manifest_and_missing_out_folder(tmp_path):
    manifest = tmp_path / "set.jsonl"
    manifest.write_bytes(b'{"audio_filepath": "a.wav", "text": "\xff\xfe"}\n')
    assert_one_line_error(run_bounded("evaluate", manifest, "--workers", "0", seconds=60), "not UTF-8")
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe")
    assert_one_line_error(run_bounded("evaluate", tmp_path, "--workers", "0", seconds=60), "not UTF-8")
    manifest.write_text('{"audio_filepath": "a.wav", "text": "x"}\n')
    result = run_bounded("evaluate", manifest, "--out", tmp_path / "missing" / "r.csv", seconds=60)
    assert_one_line_error(result, "folder does not exist")


def test_formula_looking_text_is_quoted_in_csv():
    import pandas as pd

    from workbench.tuning import csv_safe

    frame = pd.DataFrame({"file": ["a.wav"], "reference": ["=HYPERLINK(\"x\")"], "hypothesis": ["@SUM(1)"],
                          "cer": [0.5]})
    safe = csv_safe(frame)
    assert safe.reference[0] == "'=HYPERLINK(\"x\")" and safe.hypothesis[0] == "'@SUM(1)" and safe.cer[0] == 0.5


def test_terminal_output_has_no_control_characters_and_allocation_failures_are_recognised():
    from workbench.errors import out_of_memory, printable

    assert printable("가\x1b]0;owned\x07나\x1b[2J") == "가]0;owned나[2J"
    assert out_of_memory(MemoryError()) and out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory"))
    assert not out_of_memory(RuntimeError("shape mismatch"))


# -- 7. app panels -------------------------------------------------------------
def test_restricted_paths_reveal_nothing(monkeypatch, tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.paths import ROOT
    from workbench.widgets.trust import checked_path, writable_path

    monkeypatch.setenv("WORKBENCH_RESTRICTED", "1")
    messages = set()
    for text in ["/etc/passwd", str(tmp_path / "missing.wav"), "audio_example/../../../etc/hostname",
                 "audio_example/missing.wav"]:
        with pytest.raises(WorkbenchError) as refused:
            checked_path(text)
        messages.add(str(refused.value))
    assert len(messages) == 1
    assert checked_path("audio_example/clean.wav").name == "clean.wav"
    monkeypatch.chdir(ROOT / "notebooks")  # where Voilà runs the app: its fields show "../checkpoint/..."
    assert checked_path("../checkpoint/asr.nemo") == (ROOT / "checkpoint" / "asr.nemo").resolve()
    assert checked_path("audio_example/clean.wav").name == "clean.wav"
    with pytest.raises(WorkbenchError, match="plain file name"):
        writable_path("../.bashrc")
    monkeypatch.setenv("WORKBENCH_RESTRICTED", "0")
    assert str(checked_path(str(tmp_path / "x.wav"))) == str(tmp_path / "x.wav")


def test_tuning_panel_asks_before_overwriting_and_hides_the_scheduler_in_the_app(monkeypatch, tmp_path):
    import pandas as pd

    from workbench.widgets.tuning_panel import TuningPanel

    monkeypatch.setenv("WORKBENCH_RESTRICTED", "1")
    assert TuningPanel().scheduler.layout.display == "none"
    monkeypatch.setenv("WORKBENCH_RESTRICTED", "0")
    panel = TuningPanel()
    panel.results = pd.DataFrame({"file": ["a.wav"], "reference": ["=1+1"], "hypothesis": ["x"]})
    target = tmp_path / ".profile"
    target.write_text("keep me")
    panel.csv.value = str(target)
    panel.save()
    assert target.read_text() == "keep me" and "again to overwrite" in panel.status.value
    panel.save()
    assert "'=1+1" in target.read_text()


def test_app_escapes_the_reference_and_says_when_opening_failed(demucs_files, char_nemo, tmp_path, monkeypatch):
    from workbench.errors import MicrophoneUnavailable
    from workbench.widgets import app

    def missing(*_args, **_kwargs):
        raise MicrophoneUnavailable("no microphone")

    monkeypatch.setattr(app, "find_microphone", missing)
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, speechlike(1.0), 16000)
    (tmp_path / "speech.txt").write_text("<img src=x onerror=alert(1)>")
    bench = app.Workbench(denoiser=demucs_files[1]["package"], asr=char_nemo, examples={})
    bench.open_path(str(wav))
    assert bench.wait(180)
    assert "<img" not in bench.transcript.reference.value and "&lt;img" in bench.transcript.reference.value
    bench.open_bytes(b"not audio", "junk.wav")
    assert bench.wait(60)
    assert "opening" not in bench.source.status.value and "could not open junk.wav" in bench.source.status.value


def test_decoder_noise_does_not_precede_the_one_line(tmp_path):
    """libmpg123 printed 'Illegal Audio-MPEG-Header' notes on stderr before the error."""
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 12)
    assert_one_line_error(run_bounded("enhance", bad, tmp_path / "out.wav", "--dry", "1", seconds=60), "bad.mp3")



def test_concurrent_decodes_leave_stderr_where_it_was(tmp_path):
    """Two overlapping swaps of fd 2 restored each other's /dev/null: every later log line was lost."""
    import threading

    from workbench.audio import load_audio, quiet_c_stderr
    from workbench.errors import AudioError

    before = os.fstat(2)

    def quiet_for(seconds):
        with quiet_c_stderr():
            time.sleep(seconds)

    first = threading.Thread(target=quiet_for, args=(0.3,))
    second = threading.Thread(target=quiet_for, args=(0.3,))
    first.start()
    time.sleep(0.1)
    second.start()
    first.join()
    second.join()
    assert os.path.samestat(os.fstat(2), before)

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 12)

    def decode_many():
        for _ in range(20):
            with pytest.raises(AudioError):
                load_audio(bad)

    threads = [threading.Thread(target=decode_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert os.path.samestat(os.fstat(2), before)


def _fed(stream, pieces, bad=None):
    """Outputs of ``stream`` for ``pieces`` then flush; ``bad`` is offered before the 4th piece and must be refused."""
    from workbench import AudioError

    out = []
    for i, piece in enumerate(pieces):
        if bad is not None and i == 3:
            with pytest.raises(AudioError):
                stream.feed(bad)
        out.append(stream.feed(piece))
    return out + [stream.flush()]


@pytest.mark.parametrize("bad", [np.full(800, np.nan, np.float32), np.full(800, np.inf, np.float32),
                                 np.zeros((400, 2), np.float32)], ids=["nan", "inf", "2-D"])
def test_a_refused_chunk_leaves_every_stream_usable(transcriber, bad):
    """A NaN, infinite or 2-D chunk is refused before it touches a stream's state (item 9): the
    denoiser's running RMS and the recogniser's buffer go on as if it had never come."""
    from workbench import Denoiser

    pieces = np.array_split(speechlike(2.0, seed=5), 10)
    denoiser = Denoiser(tiny_demucs())
    for expected, got in zip(_fed(denoiser.stream(dry=0.0), pieces), _fed(denoiser.stream(dry=0.0), pieces, bad),
                             strict=True):
        np.testing.assert_array_equal(expected, got)
    assert _fed(transcriber.streamer(), pieces) == _fed(transcriber.streamer(), pieces, bad)


@pytest.mark.parametrize("rate", [44101, 47999])
def test_live_streams_at_odd_rates_resample_with_bounded_memory(rate):
    """A client may name any rate from 8 to 48 kHz (``/v1/stream?sample_rate=``): the live path's
    resampler must not build a kernel that grows with the rates' ratio (about 6 GB at 44101 Hz)."""
    code = f"""
import numpy as np
from workbench.live import LiveStream
stream = LiveStream(keep=True)
tone = np.sin(2 * np.pi * 440 * np.arange({rate}) / {rate}).astype(np.float32)
for piece in np.array_split(tone, 10):
    stream.feed(piece, rate={rate})
stream.finish()
out = stream.raw.array
print(len(out), int(np.argmax(np.abs(np.fft.rfft(out[:16000])))))
"""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (TORCH_ONLY_MEMORY, TORCH_ONLY_MEMORY))

    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                            preexec_fn=limit, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-500:]
    length, peak = map(int, result.stdout.split())
    assert abs(length - 16000) <= 2 and abs(peak - 440) <= 2


def test_a_hostile_reference_beside_audio_is_no_reference(tmp_path):
    """A non-UTF-8, oversized, folder or FIFO ``.txt`` beside an audio file raised or blocked the
    caller outside the source panel; now each is simply no reference."""
    import os

    from workbench.paths import MAX_REFERENCE_BYTES, reference_text

    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "huge.txt").write_text("가" * MAX_REFERENCE_BYTES, encoding="utf-8")
    (tmp_path / "folder.txt").mkdir()
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "fine.txt").write_text(" 안녕하세요\n", encoding="utf-8")
    for name in ("latin", "huge", "folder", "fifo", "absent"):
        assert reference_text(tmp_path / f"{name}.wav") is None, name
    assert reference_text(tmp_path / "fine.wav") == "안녕하세요"


def test_a_decoders_long_block_goes_through_the_denoiser_in_short_pieces():
    """The decoder hands over blocks of 2**20 samples (65 s at 16 kHz), and each went through the
    streamer in one call: 1.27 GB peak RSS to enhance one minute. Now the denoiser's work, and
    so its memory, is bounded by FILE_BLOCK_S whatever the block, with the same output."""
    from workbench import Denoiser
    from workbench.audio import SAMPLE_RATE
    from workbench.denoise.denoiser import FILE_BLOCK_S, signal_std

    denoiser = Denoiser(tiny_demucs())
    long_block = np.random.default_rng(0).uniform(-0.3, 0.3, 20 * SAMPLE_RATE).astype(np.float32)
    pieces = list(denoiser.enhance_blocks([long_block], 0.0, signal_std([long_block])))
    assert max(map(len, pieces)) <= FILE_BLOCK_S * SAMPLE_RATE
    np.testing.assert_allclose(np.concatenate(pieces), denoiser.denoise(long_block), atol=1e-6)


def test_a_teaching_views_notice_escapes_its_message():
    """The teaching views put an error's text (which can hold a typed path) into HTML unescaped."""
    from workbench.widgets.ctc_views import message

    shown = message("<img src=x onerror=alert(1)> not found").value
    assert "<img" not in shown and "&lt;img src=x" in shown
