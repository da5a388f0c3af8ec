"""``python -m workbench.train prepare``: corpora in their published layouts -> 16 kHz WAV and manifests."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from corpus_trees import KSPON_EVAL, KSPON_TEXTS, ZEROTH_TEXTS, kspon_tree, zeroth_tree
from models import speechlike

from workbench import manifest
from workbench.train import transcripts
from workbench.train.__main__ import main


@pytest.mark.parametrize("raw, pronunciation, spelling", [*KSPON_TEXTS.values(), *KSPON_EVAL.values(), (
    "n/ 어/ 그러니까+ 그러니까 (1시)/(한 시)에  (10kg)/(십 킬로)* 정도 o/", "어 그러니까 그러니까 한 시에 십 킬로 정도",
    "어 그러니까 그러니까 1시에 10kg 정도")])
def test_ksponspeech_conventions(raw, pronunciation, spelling):
    assert transcripts.ksponspeech(raw) == pronunciation
    assert transcripts.ksponspeech(raw, spelling=True) == spelling


def test_spoken_form_is_nfc_without_punctuation_in_single_spaces():
    decomposed = "\u1112\u1161\u11ab\u1100\u1173\u11af"   # 한글 in conjoining jamo (NFD)
    assert transcripts.spoken(f"  {decomposed},\t좋아요!!  (정말?)\u200b  ") == "한글 좋아요 정말"
    assert transcripts.ksponspeech("b/ n/ ... ") == "" and transcripts.spoken("b/ n/") == "b n"
    # a letter before a slash is a tag only as a token of its own
    assert transcripts.ksponspeech("lab/ 실험") == "lab 실험" and transcripts.ksponspeech("(b/ 네)") == "네"


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_ksponspeech_tree(tmp_path, capsys):
    root = kspon_tree(tmp_path / "kspon")
    out = tmp_path / "prepared"
    code, printed = _run(["prepare", "ksponspeech", str(root), "--out", str(out), "--workers", "1"], capsys)
    assert code == 0, printed
    rows = manifest.read(out / "manifest.json")
    expected = {name: spoken for name, (_, spoken, _) in {**KSPON_TEXTS, **KSPON_EVAL}.items()}
    assert {manifest_name(row): row.text for row in rows} == expected
    # the official lists give the splits
    assert [manifest_name(row) for row in manifest.read(out / "train.json")] == list(KSPON_TEXTS)[:3]
    assert [manifest_name(row) for row in manifest.read(out / "dev.json")] == ["KsponSpeech_000004"]
    assert [manifest_name(row) for row in manifest.read(out / "eval_clean.json")] == ["KsponSpeech_E00001"]
    assert not (out / "eval_other.json").exists()
    # the audio: the very samples of the .pcm, as 16-bit WAV at 16 kHz, paths relative to DIR
    first = rows[0]
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8").splitlines()[0])["audio_filepath"] \
        == "wav/KsponSpeech_01/KsponSpeech_0001/KsponSpeech_000001.wav"
    samples, rate = sf.read(first.audio, dtype="int16")
    assert rate == 16000 and sf.info(first.audio).subtype == "PCM_16"
    pcm = np.fromfile(root / "KsponSpeech_01" / "KsponSpeech_0001" / "KsponSpeech_000001.pcm", dtype="<i2")
    assert np.array_equal(samples, pcm) and first.duration == pytest.approx(len(pcm) / 16000, abs=1e-3)
    # bad input: one line naming each file, and the run went on
    skipped = (out / "skipped.txt").read_text(encoding="utf-8").splitlines()
    assert len(skipped) == 3
    assert any("KsponSpeech_000005.pcm: odd length (3 bytes)" in line for line in skipped)
    assert any("KsponSpeech_000006.txt: transcript missing" in line for line in skipped)
    assert any("KsponSpeech_000007.txt: transcript is neither UTF-8 nor CP949" in line for line in skipped)
    for line in skipped:
        assert f"skipped {line}" in printed
    assert "5 utterances" in printed and "3 skipped" in printed


def manifest_name(row):
    return row.audio.rsplit("/", 1)[-1].removesuffix(".wav")


def test_ksponspeech_spelling_and_a_listed_file_without_its_txt(tmp_path, capsys):
    root = kspon_tree(tmp_path / "kspon", broken=False)
    (root / "KsponSpeech_01" / "KsponSpeech_0001" / "KsponSpeech_000003.txt").unlink()   # the .trn has its text
    out = tmp_path / "prepared"
    code, printed = _run(["prepare", "ksponspeech", str(root), "--out", str(out), "--spelling"], capsys)
    assert code == 0, printed
    texts = {manifest_name(row): row.text for row in manifest.read(out / "manifest.json")}
    assert texts == {name: spelling for name, (_, _, spelling) in {**KSPON_TEXTS, **KSPON_EVAL}.items()}
    assert (out / "skipped.txt").read_text(encoding="utf-8") == ""


def test_zeroth_tree(tmp_path, capsys):
    root = zeroth_tree(tmp_path / "zeroth", rate=22050)
    out = tmp_path / "prepared"
    code, printed = _run(["prepare", "zeroth", str(root), "--out", str(out), "--workers", "1"], capsys)
    assert code == 0, printed
    for split, texts in ZEROTH_TEXTS.items():
        rows = manifest.read(out / f"{split}.json")
        assert {manifest_name(row): row.text for row in rows} == texts
        for row in rows:   # resampled from 22.05 kHz
            assert sf.info(row.audio).samplerate == 16000 and row.duration == pytest.approx(1.0, abs=1e-3)
    assert len(manifest.read(out / "manifest.json")) == 3
    assert "104_001_0009.flac: audio missing" in printed


def test_manifest_corpus_is_checked_and_normalised(tmp_path, capsys):
    stereo = np.stack([speechlike(1.0, 1, 8000), speechlike(1.0, 2, 8000)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 8000)
    sf.write(tmp_path / "b.flac", speechlike(0.5, 3), 16000)
    rows = [{"audio_filepath": "a.wav", "text": "안녕하세요, 여러분!"},
            {"audio_filepath": str(tmp_path / "b.flac"), "duration": 0.5, "text": "  네.  "},
            {"audio_filepath": "gone.wav", "text": "없음"},
            {"audio_filepath": "junk.wav", "text": "깨진 파일"}]
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wave file")
    source = tmp_path / "in.json"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "prepared"
    code, printed = _run(["prepare", "manifest", str(source), "--out", str(out)], capsys)
    assert code == 0, printed
    prepared = manifest.read(out / "manifest.json")
    assert [row.text for row in prepared] == ["안녕하세요 여러분", "네"]
    assert sf.info(prepared[0].audio).samplerate == 16000 and sf.info(prepared[0].audio).channels == 1
    assert prepared[0].duration == pytest.approx(1.0, abs=1e-3)
    assert "gone.wav: audio missing" in printed and "junk.wav: cannot read the audio" in printed


@pytest.mark.parametrize("corpus", ["manifest", "ksponspeech"])
def test_nothing_to_prepare_is_refused_in_one_line(tmp_path, capsys, corpus):
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    (tmp_path / "nothing").mkdir()
    root = empty if corpus == "manifest" else tmp_path / "nothing"
    code, printed = _run(["prepare", corpus, str(root), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and printed.strip() == f"error: no {corpus} utterances found in {root}"
    code, printed = _run(["prepare", corpus, str(tmp_path / "absent"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and len(printed.strip().splitlines()) == 1 and "not found" in printed


def test_every_utterance_broken_is_refused(tmp_path, capsys):
    folder = tmp_path / "kspon" / "KsponSpeech_01" / "KsponSpeech_0001"
    folder.mkdir(parents=True)
    (folder / "KsponSpeech_000001.pcm").write_bytes(b"\x00")
    (folder / "KsponSpeech_000001.txt").write_bytes("네".encode("cp949"))
    code, printed = _run(["prepare", "ksponspeech", str(tmp_path / "kspon"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "error: none of the 1 utterances could be prepared" in printed


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_sample_corpus_round_trips_through_prepare(tmp_path, capsys):
    from workbench.train import sample_corpus
    root = sample_corpus.write(tmp_path / "KsponSpeech", n_train=3, n_dev=1, n_eval=1, seed=2, log=lambda line: None)
    raw = (root / "KsponSpeech_01" / "KsponSpeech_0001" / "KsponSpeech_000001.txt").read_bytes().decode("cp949")
    code, printed = _run(["prepare", "ksponspeech", str(root), "--out", str(tmp_path / "p"), "--workers", "1"], capsys)
    assert code == 0, printed
    assert {split: len(manifest.read(tmp_path / "p" / f"{split}.json")) for split in ("train", "dev", "eval_clean")} \
        == {"train": 3, "dev": 1, "eval_clean": 1}
    first = manifest.read(tmp_path / "p" / "train.json")[0]
    assert first.text == transcripts.ksponspeech(raw) and first.duration > 0.5
