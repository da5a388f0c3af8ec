"""Smoke test of every training step (data -> denoiser -> asr -> lm -> evaluate) at tiny sizes.

Runs the real code paths (espeak-ng synthesis, NeMo training through
Lightning, facebook-layout checkpoint, the workbench's loaders) in a temp
folder; takes about a minute on 2 CPU cores.
"""
import json
import math
import re
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def test_text_numbers_and_jamo():
    from workbench.asr.hangul import compose
    from workbench.train import asr, text
    assert text.sino(1234) == "천이백삼십사"
    assert text.sino(10000) == "만"
    assert text.sino(150300) == "십오만삼백"
    assert text.native(21) == "스물한" and text.native(20) == "스무"
    assert text.digits("010") == "공일공"
    s = text.make_sentences(200, seed=3)
    assert len(set(s)) == 200 and all(re.fullmatch(r"[가-힣]+( [가-힣]+)*", x) for x in s)
    assert s == text.make_sentences(200, seed=3)   # reproducible
    train, held = text.split(s, 20, seed=3)
    assert len(held) == 20 and not set(train) & set(held)
    assert len(asr.LABELS) == 68 and len(set(asr.LABELS)) == 68
    j = asr.to_jamo("안녕 하세요")
    assert set(j) <= set(asr.LABELS) and compose(j) == "안녕 하세요"


def test_noise_mixing_snr():
    from workbench.train import noise
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(16000) / 10).astype(np.float32) * 0.3
    for kind in ("white", "pink", "brown", "hum"):
        n = noise.make(kind, 32000, rng)
        y = noise.add_noise(x, n, 5.0, rng)
        snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
        assert abs(snr - 5.0) < 0.1, (kind, snr)
    tel = noise.telephone(x)
    assert len(tel) == 8000


def test_natural_text():
    from workbench.train import data, text
    assert text.spell_numbers("1948년 7월") .split() == ["천구백사십팔", "년", "칠", "월"]
    train, held = text.corpus_split()
    assert len(train) > 300 and len(held) > 40 and not set(train) & set(held)
    assert all(re.fullmatch(r"[가-힣]+( [가-힣]+)*", s) for s in train + held)
    written = data.written_heldout()
    assert len(written) >= 60 and not set(written) & set(train)
    assert text._ro("정비원") == "정비원으로" and text._ro("서울") == "서울로" and text._ro("바다") == "바다로"


def test_room_augmentation_comes_before_noise(tmp_path):
    from workbench.train import asr
    rooms = asr.room_manifest(tmp_path / "rooms", 2, seed=3, log=lambda line: None)
    stamp = rooms.stat().st_mtime_ns
    assert asr.room_manifest(tmp_path / "rooms", 2, seed=3, log=lambda line: None).stat().st_mtime_ns == stamp
    augmentor = asr.config("t.json", "v.json", "n.json", room_manifest=rooms, room_prob=0.5).train_ds.augmentor
    assert list(augmentor) == ["soxr_speed", "impulse", "noise"] and augmentor.impulse.prob == 0.5
    assert "impulse" not in asr.config("t.json", "v.json", "n.json").train_ds.augmentor
    # a room manifest alone puts the default share of utterances in rooms (train(rooms=N) passes no share)
    assert asr.config("t.json", "v.json", "n.json", room_manifest=rooms).train_ds.augmentor.impulse.prob > 0


def test_channel_paths():
    from workbench.train import channel
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    line = channel.telephone(x, None, 0.0, None, rng)
    assert len(line) == len(x)
    for codec in channel.CODECS:   # AMR-NB is a vocoder with some delay: the least alike
        y = channel.telephone(x, None, 0.0, codec, rng)
        assert len(y) == len(x) and np.corrcoef(line[2000:-2000], y[2000:-2000])[0, 1] > 0.5, codec
    assert len(channel.vocal_tract(x, 1.1)) == 17600
    rir = channel.room_impulse(rng, 0.4)
    y = channel.reverberate(x, rir)
    assert len(y) == len(x) + 4800 and abs(np.mean(y ** 2) - np.mean(x ** 2)) < 1e-3
    y = channel.microphone(x, rng)
    assert np.isfinite(y).all() and 0.04 < np.abs(y).max() < 0.96


@pytest.mark.slow
def test_pipeline_smoke(tmp_path):
    from workbench import manifest
    from workbench.train import asr, denoiser, evaluate, lm
    from workbench.train.__main__ import main

    logs = []
    log = logs.append
    # data (through the CLI)
    assert main(["data", "--out", str(tmp_path), "--smoke"]) == 0
    d = tmp_path / "data"
    for name in ("asr_train.json", "asr_val.json", "eval.json", "noise_train.json", "noise_eval.json"):
        assert (d / name).stat().st_size > 0
    rows = manifest.read(d / "asr_train.json")
    assert len(rows) >= 150 and {"train", "tel", "room"} <= {row.audio.split("/")[-2] for row in rows}
    assert manifest.read(d / "natural.json")
    eval_rows = manifest.read(d / "eval.json")
    assert not {row.text for row in eval_rows} & {row.text for row in rows}
    import soundfile as sf
    info = sf.info(rows[0].audio)
    assert info.samplerate == 16000 and info.channels == 1

    # denoiser: a few steps, facebook layout, loadable by the workbench
    path, steps, loss = denoiser.train(d, tmp_path / "denoiser", minutes=10, hidden=4, batch_size=4, segment=1.0,
                                       max_steps=4, denoise_share=4, threads=2, log=log, noise="files")
    assert steps == 4 and math.isfinite(loss)
    import torch
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == ["denoiser.demucs.Demucs"]
    from workbench.denoise.checkpoint import _safe_load
    package = _safe_load(path)
    assert set(package) == {"class", "args", "kwargs", "state"}
    assert package["kwargs"]["hidden"] == 4
    from workbench.denoise import load_denoiser
    den = load_denoiser(path)
    y = den.enhance(np.zeros(8000, np.float32) + 0.01 * np.random.default_rng(0).standard_normal(8000).astype(np.float32))
    assert y.shape == (8000,) and np.isfinite(y).all()
    assert len(manifest.read(tmp_path / "denoiser" / "denoised.json")) == 4

    # ASR: NeMo's training path, a few steps, with the denoised share as extra manifest
    nemo_path = asr.train(d, tmp_path / "asr", minutes=10, max_steps=4, batch_size=4, d_model=32, n_layers=1,
                          n_heads=2, val_every=2, num_workers=0, log_every=2, threads=2, log=log,
                          extra_manifests=[tmp_path / "denoiser" / "denoised.json"], rooms=2, room_prob=1.0)
    rooms = manifest.read(tmp_path / "asr" / "rooms" / "rooms.json")
    assert len(rooms) == 2 and all(sf.info(room.audio).samplerate == 16000 for room in rooms)
    losses = [float(m) for line in logs for m in re.findall(r"^step \d+ loss ([-\d.e+naif]+)", line)]
    assert losses and all(math.isfinite(v) for v in losses), logs
    assert any(line.startswith("validation step") for line in logs)
    from workbench.asr import load_transcriber
    tr = load_transcriber(nemo_path)
    assert list(tr.model.cfg.labels) == asr.LABELS
    assert isinstance(tr.transcribe(sf.read(eval_rows[0].audio, dtype="float32")[0]), str)

    # the same model made cache-aware: every tensor found, the causal ones remapped; curves written and plotted
    logs.clear()
    streaming = asr.train(d, tmp_path / "asr_ca", minutes=10, max_steps=2, batch_size=4, val_every=2, num_workers=0,
                          log_every=1, threads=2, log=log, init=nemo_path, att_context_size=(4, 1))
    assert any("missing [], unexpected []" in line for line in logs), logs
    encoder = load_transcriber(streaming).model.cfg.encoder
    assert encoder.att_context_style == "chunked_limited" and list(encoder.att_context_size) == [4, 1]
    from workbench.train import curves
    c = curves.read(streaming.parent)
    assert np.isfinite(c["train_loss"]).sum() == 2 and np.isfinite(c["val_cer"]).sum() == 1
    assert main(["curves", str(streaming.parent), "--png", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 1000

    # denoiser guided by that recogniser, on fresh noise: continues from the first one
    guided, steps, loss = denoiser.train(d, tmp_path / "guided", minutes=10, batch_size=2, segment=1.0, max_steps=2,
                                         init=path, asr_guide=nemo_path, threads=2, log=log)
    assert steps == 2 and math.isfinite(loss) and load_denoiser(guided).parameters == den.parameters
    assert any(line.startswith(f"guided by {nemo_path}") for line in logs)

    # the CLI widens a trained denoiser before continuing from it
    (tmp_path / "wide").mkdir()
    (tmp_path / "wide" / "data").symlink_to(d)
    assert main(["denoiser", "--out", str(tmp_path / "wide"), "--smoke", "--init", str(path), "--hidden", "6"]) == 0
    assert load_denoiser(tmp_path / "wide" / "denoiser" / "denoiser.th").model.hidden == 6

    # LM: counted on the training sentences, fusion tuned on validation, found beside the model
    lm_path = lm.train(d, nemo_path, order=3, weights=(0.3, 0.5), bonuses=(0.0, 1.0), log=log)
    assert lm_path == nemo_path.with_suffix(".lm.npz")
    tuned = load_transcriber(nemo_path).lm
    assert tuned.order == 3 and (tuned.weight, tuned.bonus) in [(0.3, 0.0), (0.3, 1.0), (0.5, 0.0), (0.5, 1.0)]
    assert any(line.startswith("validation CER") for line in logs)

    # evaluate: every condition (LM and greedy, with and without denoiser), enhancement scores, examples
    results = evaluate.run(d, tmp_path / "eval", path, nemo_path, limit=6, examples=tmp_path / "examples", log=log)
    saved = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    # 2 clean sets + 6 kinds x 2 SNRs + telephone + room + 2 means
    assert len(saved["cer"]) == 18 and all(len(v) == 3 and min(v.values()) >= 0 for v in saved["cer"].values())
    assert saved["decoding"] == "beam search + 3-gram label LM"
    assert len(saved["enhancement"]) == 12
    assert all(-0.5 < e["pesq_noisy"] < 4.7 and 0 <= e["stoi_denoised"] <= 1 for e in saved["enhancement"].values())
    assert results["utterances"] == 6
    for name in ("clean", "babble", "street", "hum", "telephone"):
        assert (tmp_path / "examples" / f"{name}.wav").is_file()
        assert (tmp_path / "examples" / f"{name}.txt").read_text(encoding="utf-8").strip()
    assert sf.info(str(tmp_path / "examples" / "telephone.wav")).samplerate == 8000


def test_average_interpolates_weights_of_equal_architectures(tmp_path, char_nemo):
    import torch
    from models import tiny_bpe_ctc, tiny_char_ctc
    from nemo.collections.asr.models import EncDecCTCModel

    from workbench.train.__main__ import main

    other = tiny_char_ctc(tmp_path / "other.nemo", seed=1)
    out = tmp_path / "average.nemo"
    assert main(["average", str(char_nemo), str(other), "--weight", "0.25", "--to", str(out)]) == 0
    first, second, mean = (EncDecCTCModel.restore_from(str(p), map_location="cpu").state_dict()
                           for p in (char_nemo, other, out))
    key = "decoder.decoder_layers.0.weight"
    assert not torch.allclose(first[key], second[key])
    for key, value in mean.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.25 * first[key] + 0.75 * second[key])
    with pytest.raises(ValueError, match="different labels"):
        main(["average", str(char_nemo), str(tiny_bpe_ctc(tmp_path / "bpe.nemo")), "--to", str(out)])


def _noting(signum, frame):
    """A SIGTERM handler that notes the signal and goes on, as Lightning's does."""


def test_synthesis_workers_end_on_sigterm_whatever_handler_the_parent_has():
    import signal

    from workbench.train.data import synthesis_pool

    previous = signal.signal(signal.SIGTERM, _noting)
    try:
        with synthesis_pool(2) as pool:
            handlers = pool.map(signal.getsignal, [signal.SIGTERM] * 4)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handlers == [signal.SIG_DFL] * 4
