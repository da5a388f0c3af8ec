"""Training on your own corpus: fine-tunes of the bundled jamo model and of a BPE model on prepared data,
unemittable characters, the label LM from new text, the denoiser on your own pairs, Lightning's hardware
flags and DDP on two CPU processes."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from corpus_trees import kspon_tree
from models import speechlike

from workbench import manifest
from workbench.train.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "checkpoint" / "asr.nemo"
SMALL = ["--batch-size", "2", "--num-workers", "0", "--val-every", "2", "--threads", "1", "--max-steps", "2"]


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A KsponSpeech tree, prepared."""
    folder = tmp_path_factory.mktemp("kspon")
    root = kspon_tree(folder / "root")
    assert main(["prepare", "ksponspeech", str(root), "--out", str(folder / "prepared"), "--workers", "1"]) == 0
    return folder / "prepared"


def _manifest(folder: Path, texts: list[str]) -> Path:
    entries = []
    for number, text in enumerate(texts):
        path = folder / f"u{number}.wav"
        sf.write(path, speechlike(1.0, number), 16000)
        entries.append(manifest.Entry(str(path), text, 1.0))
    manifest.write(folder / "set.json", entries)
    return folder / "set.json"


def test_unemittable_characters_are_reported_and_their_utterances_skipped(tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.train.asr import Vocabulary, model_manifest
    source = _manifest(tmp_path, ["안녕 하세요", "네 OK", "삼 다시 4", "좋아요"])
    logs = []
    written = model_manifest(source, tmp_path / "jamo.json", Vocabulary(), logs.append)
    rows = manifest.read(written)
    assert [row.text for row in rows] == [Vocabulary().form("안녕 하세요"), Vocabulary().form("좋아요")]
    assert len(logs) == 1 and "skipped 2 of 4 utterances with characters the model cannot emit" in logs[0]
    assert all(f"'{c}' x1" in logs[0] for c in "OK4") and "u1.wav" in logs[0]
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    with pytest.raises(WorkbenchError, match="empty.json has no utterances"):
        model_manifest(tmp_path / "empty.json", tmp_path / "x.json", Vocabulary())


def test_fine_tune_of_the_bundled_model_on_a_prepared_tree(prepared, tmp_path, capsys):
    code, printed = _run(["asr", "--out", str(tmp_path), "--init", str(BUNDLED),
                          "--train-manifest", str(prepared / "train.json"), str(prepared / "dev.json"),
                          "--val-manifest", str(prepared / "eval_clean.json"), *SMALL], capsys)
    assert code == 0, printed
    # dev.json's only utterance says "OK": a jamo model cannot emit it
    assert re.search(r"dev\.json: skipped 1 of 1 utterances .*'O' x1", printed), printed
    assert "initialised from" in printed and "2 steps" in printed
    assert len(manifest.read(tmp_path / "asr" / "train0_jamo.json")) == 3
    from workbench.asr import load_transcriber
    from workbench.asr.config import JAMO_LABELS
    from workbench.train import curves
    assert list(load_transcriber(tmp_path / "asr" / "asr.nemo").model.decoder.vocabulary) == JAMO_LABELS
    table = curves.read(tmp_path / "asr")
    assert np.isfinite(table["val_cer"]).sum() == 1 and table["step"][-1] == 2


def test_fine_tune_of_a_bpe_model_keeps_its_tokenizer(tmp_path, capsys):
    from models import tiny_bpe_ctc

    from workbench.asr import load_transcriber
    init = tiny_bpe_ctc(tmp_path / "bpe.nemo")
    data = tmp_path / "data"
    data.mkdir()
    train = _manifest(data, ["안녕하세요 반갑습니다", "오늘 날씨가 좋네요", "커피 한 잔 주세요", "퓽 소리"])
    code, printed = _run(["asr", "--out", str(tmp_path / "run"), "--init", str(init), "--train-manifest", str(train),
                          "--val-manifest", str(train), "--precision", "bf16-mixed", *SMALL], capsys)
    assert code == 0, printed
    assert "fine-tuning" in printed and "EncDecCTCModelBPE" in printed and "precision bf16-mixed" in printed
    assert re.search(r"skipped 1 of 4 utterances .*'퓽' x1", printed), printed
    assert len(manifest.read(tmp_path / "run" / "asr" / "train0_text.json")) == 3
    before, after = (load_transcriber(path, lm=False).model for path in (init, tmp_path / "run" / "asr" / "asr.nemo"))
    assert type(after).__name__ == "EncDecCTCModelBPE"
    assert list(after.decoder.vocabulary) == list(before.decoder.vocabulary)
    assert after.tokenizer.text_to_ids("지하철 역이 어디에") == before.tokenizer.text_to_ids("지하철 역이 어디에")
    weight = "decoder.decoder_layers.0.weight"
    assert not np.allclose(after.state_dict()[weight].float().numpy(), before.state_dict()[weight].numpy())
    # trained in train mode: batch norm statistics moved
    statistics = "encoder.layers.0.conv.batch_norm.running_mean"
    assert not np.allclose(after.state_dict()[statistics].numpy(), before.state_dict()[statistics].numpy())

    # the label LM from new text, over the BPE model's own pieces
    text = tmp_path / "sentences.txt"
    text.write_text("안녕하세요 반갑습니다\n오늘 날씨가 좋네요\n", encoding="utf-8")
    code, printed = _run(["lm", "--asr", str(tmp_path / "run" / "asr" / "asr.nemo"), "--text", str(text),
                          "--val-manifest", str(train), "--order", "3", "--out", str(tmp_path / "none")], capsys)
    assert code == 0, printed
    assert "validation CER (clean, 4 utterances)" in printed
    lm = load_transcriber(tmp_path / "run" / "asr" / "asr.nemo").lm
    assert lm.labels == list(after.decoder.vocabulary) and lm.order == 3
    absent_text, absent_manifest = tmp_path / "absent.txt", tmp_path / "absent.json"
    for absent, inputs in ((absent_text, [absent_text, train]), (absent_manifest, [text, absent_manifest])):
        code, printed = _run(["lm", "--asr", str(init), "--text", str(inputs[0]), "--val-manifest", str(inputs[1]),
                              "--out", str(tmp_path / "none")], capsys)
        assert code == 2 and printed.strip() == f"error: not found: {absent}"
    first = tuple(after.tokenizer.text_to_ids("안녕하세요"))[:1]
    assert np.argmax(lm.log_probs(())) == first[0]   # every sentence starts with a piece of 안녕 or 오늘


def test_a_streaming_conversion_of_a_bpe_model_and_hardware_it_lacks_are_refused(tmp_path, capsys, bpe_nemo):
    train = _manifest(tmp_path, ["안녕하세요 반갑습니다"])
    code, printed = _run(["asr", "--out", str(tmp_path), "--init", str(bpe_nemo), "--streaming",
                          "--train-manifest", str(train), "--val-manifest", str(train), *SMALL], capsys)
    assert code == 2 and printed.strip().splitlines()[-1].startswith("error: --streaming converts a jamo")
    import torch
    if not torch.cuda.is_available():
        code, printed = _run(["asr", "--out", str(tmp_path), "--train-manifest", str(train), "--val-manifest",
                              str(train), "--accelerator", "gpu", *SMALL], capsys)
        assert code == 2 and printed.strip().splitlines()[-1].startswith("error: --accelerator gpu --devices 1")
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    code, printed = _run(["asr", "--out", str(tmp_path), "--train-manifest", str(tmp_path / "empty.json"),
                          "--val-manifest", str(train), *SMALL], capsys)
    assert code == 2 and printed.strip().splitlines()[-1] == f"error: {tmp_path / 'empty.json'} has no utterances"
    code, printed = _run(["asr", "--out", str(tmp_path), "--train-manifest", str(train),
                          "--val-manifest", str(tmp_path / "absent.json"), *SMALL], capsys)
    assert code == 2 and printed.strip().splitlines()[-1] == f"error: manifest not found: {tmp_path / 'absent.json'}"


def test_denoiser_on_your_own_pairs(tmp_path, capsys):
    import torch

    from workbench.denoise import load_denoiser
    for side in ("clean", "noisy"):
        (tmp_path / side).mkdir()
    rng = np.random.default_rng(0)
    for number in range(3):
        clean = speechlike(1.5, number)
        sf.write(tmp_path / "clean" / f"{number}.wav", clean, 16000)
        sf.write(tmp_path / "noisy" / f"{number}.wav", clean + 0.05 * rng.standard_normal(len(clean)), 16000)
    sf.write(tmp_path / "noisy" / "alone.wav", speechlike(1.0, 7), 16000)
    code, printed = _run(["denoiser", "--out", str(tmp_path / "run"), "--clean", str(tmp_path / "clean"),
                          "--noisy", str(tmp_path / "noisy"), "--max-steps", "2", "--batch-size", "2",
                          "--segment", "1.0", "--hidden", "4", "--threads", "1"], capsys)
    assert code == 0, printed
    assert "1 files without their counterpart" in printed and "2 steps" in printed
    assert load_denoiser(tmp_path / "run" / "denoiser" / "denoiser.th").model.hidden == 4
    # facebook denoiser's file lists: [[path, samples], ...]
    for side in ("clean", "noisy"):
        rows = [[str(path), sf.info(path).frames] for path in sorted((tmp_path / side).glob("?.wav"))]
        (tmp_path / f"{side}.json").write_text(json.dumps(rows), encoding="utf-8")
    from workbench.train import denoiser
    _, steps, loss = denoiser.train(out=tmp_path / "fb", clean=tmp_path / "clean.json",
                                       noisy=tmp_path / "noisy.json", max_steps=2, batch_size=2, segment=1.0,
                                       hidden=4, log=lambda line: None)
    assert steps == 2 and np.isfinite(loss)
    sampler = denoiser.FilePairs(denoiser.pair_files(tmp_path / "clean.json", tmp_path / "noisy.json"), 1.0)
    noisy, clean = sampler.batch(4)
    assert noisy.shape == clean.shape == (4, 16000) and torch.all((noisy - clean).abs().amax(1) > 0)
    (tmp_path / "bad.json").write_text('{"not": "a list"}', encoding="utf-8")
    code, printed = _run(["denoiser", "--out", str(tmp_path / "x"), "--clean", str(tmp_path / "bad.json"),
                          "--noisy", str(tmp_path / "noisy")], capsys)
    assert code == 2 and "expected facebook denoiser's JSON list" in printed


def test_ddp_on_two_cpu_processes(prepared, tmp_path):
    """Lightning's DDP launcher re-executes the command line, so it runs as its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "workbench.train", "asr", "--out", str(tmp_path),
               "--train-manifest", str(prepared / "train.json"), "--val-manifest", str(prepared / "eval_clean.json"),
               "--accelerator", "cpu", "--devices", "2", "--d-model", "32", "--layers", "1", *SMALL]
    done = subprocess.run(command, check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-3000:]
    assert "2 CPU device(s) x 1 node(s)" in printed and "2 steps" in printed
    assert re.search(r"GLOBAL_RANK: 1, MEMBER: 2/2", printed), printed[-3000:]
    assert (tmp_path / "asr" / "asr.nemo").stat().st_size > 0
    rows = (tmp_path / "asr" / "curves.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("step,") and len(rows) == 2   # one writer: the header and one validation
