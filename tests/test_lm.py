"""The label LM (Witten-Bell n-gram), CTC prefix beam search, and the LM beside a .nemo."""
import numpy as np
import pytest
from models import speechlike

from workbench import CheckpointError, load_transcriber
from workbench.asr.config import JAMO_LABELS
from workbench.asr.ctc import GreedySearch, PrefixBeamSearch, Segmenter
from workbench.asr.lm import LabelLM, lm_beside
from workbench.asr.stream import StreamConfig
from workbench.train.lm import label_ids

BLANK = 3  # labels a, b, c, then blank


def decode(search, probs):
    for index, frame in enumerate(np.log(np.maximum(probs, 1e-12))):
        search.push(index, frame)
    return search.best().tokens


def test_witten_bell_by_hand():
    lm = LabelLM.train([[0, 1], [0, 2]], ["a", "b", "c"], order=2)
    # unigrams: counts a 2, b 1, c 1 (4 in all, 3 kinds) -> (c + 3/3) / (4 + 3)
    # after the start: a twice -> (c + 1 * P_uni) / (2 + 1); after a: b, c once each -> (c + 2 * P_uni) / (2 + 2)
    assert np.exp(lm.log_probs(())) == pytest.approx([17 / 21, 2 / 21, 2 / 21])
    assert np.exp(lm.log_probs((0,))) == pytest.approx([6 / 28, 11 / 28, 11 / 28])
    assert np.exp(lm.log_probs((1, 2, 0))) == pytest.approx(np.exp(lm.log_probs((0,))))


def test_distributions_sum_to_one_and_survive_save_load(tmp_path):
    rng = np.random.default_rng(0)
    sentences = [list(rng.integers(0, 5, rng.integers(1, 12))) for _ in range(50)]
    lm = LabelLM.train(sentences, list("abcde"), order=4)
    lm.weight, lm.bonus = 0.7, 1.5
    lm.save(tmp_path / "x.lm.npz")
    loaded = LabelLM.load(tmp_path / "x.lm.npz")
    assert (loaded.labels, loaded.order, loaded.weight, loaded.bonus) == (list("abcde"), 4, 0.7, 1.5)
    for history in [(), (1,), (4, 4, 4, 4, 4), tuple(rng.integers(0, 5, 7))]:
        assert np.exp(lm.log_probs(history)).sum() == pytest.approx(1.0)
        assert loaded.log_probs(history) == pytest.approx(lm.log_probs(history))


def test_garbled_lm_file(tmp_path):
    (tmp_path / "bad.lm.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="cannot read language model.*bad.lm.npz"):
        LabelLM.load(tmp_path / "bad.lm.npz")


def test_beam_search_sums_paths_that_greedy_misses():
    # "a" has paths a a, a _, _ a: 0.16 + 0.24 + 0.24 = 0.64 > 0.36 for the all-blank path greedy takes
    frames = [[0.4, 0, 0, 0.6]] * 2
    assert decode(GreedySearch(BLANK), frames) == []
    assert decode(PrefixBeamSearch(BLANK, bonus=0.0), frames) == [0]


def test_beam_search_merges_repeats_only_across_blank():
    frames = np.eye(4)[[0, 0, BLANK, 0, 1, 1]] * 0.97 + 0.01
    assert decode(PrefixBeamSearch(BLANK, bonus=0.0), frames) == decode(GreedySearch(BLANK), frames) == [0, 0, 1]


@pytest.mark.parametrize("follower", [1, 2])
def test_lm_settles_what_the_acoustics_leave_open(follower):
    lm = LabelLM.train([[0, follower]] * 20, ["a", "b", "c"], order=2)
    frames = [[0.9, 0.03, 0.03, 0.04], [0.02, 0.45, 0.45, 0.08]]
    assert decode(PrefixBeamSearch(BLANK, lm, weight=1.0), frames) == [0, follower]


def test_jamo_label_ids():
    ids = label_ids("한 글", JAMO_LABELS)
    assert "".join(JAMO_LABELS[i] for i in ids) == "\u1112\u1161\u11ab \u1100\u1173\u11af"
    with pytest.raises(ValueError, match="character-vocabulary"):
        label_ids("x", ["▁ab", "c"])


@pytest.fixture(scope="module")
def jamo_lm():
    sentences = ["안녕 하세요", "한국어 음성 인식", "하나 둘 셋"] * 5
    return LabelLM.train([label_ids(s, JAMO_LABELS) for s in sentences], JAMO_LABELS, order=3)


def test_lm_beside_the_model_is_found_and_checked(tmp_path, char_nemo, jamo_lm):
    model = tmp_path / "asr.nemo"
    model.write_bytes(char_nemo.read_bytes())
    assert load_transcriber(model).lm is None
    jamo_lm.save(lm_beside(model))
    assert lm_beside(model).name == "asr.lm.npz"
    assert load_transcriber(model).lm.order == 3
    assert load_transcriber(model, lm=False).lm is None
    LabelLM.train([[0, 1]], list("abc"), order=2).save(tmp_path / "other.lm.npz")
    with pytest.raises(CheckpointError, match="other labels"):
        load_transcriber(model, lm=tmp_path / "other.lm.npz")
    with pytest.raises(CheckpointError, match="language model not found"):
        load_transcriber(model, lm=tmp_path / "missing.lm.npz")


def test_stream_with_lm_equals_offline_with_lm(char_nemo, jamo_lm):
    transcriber = load_transcriber(char_nemo, lm=False)
    transcriber.lm = jamo_lm
    audio = speechlike(3.0, seed=4)
    scores = transcriber.log_probs(audio)
    assert isinstance(transcriber.search(), PrefixBeamSearch)
    assert isinstance(transcriber.search(use_lm=False), GreedySearch)
    events = list(transcriber.stream(np.array_split(audio, 17), config=StreamConfig(chunk_s=4.0), endpoint_s=10.0))
    assert [e.text for e in events if e.final] == [transcriber.decode(scores)]
    segmenter = Segmenter(transcriber.search(), transcriber.blank, endpoint_frames=10_000)
    assert segmenter.push(scores[:20]) + segmenter.push(scores[20:]) == []
    assert transcriber.text(segmenter.close().tokens) == transcriber.decode(scores)


def test_lm_with_unknown_labels_is_refused(tmp_path):
    lm = LabelLM.train([[0, 1]], list("ab"), order=2)
    np.savez(tmp_path / "odd.lm.npz", labels=np.array(["a"]), order=np.array(2), fusion=np.array([0.5, 1.0]),
             ngrams1=lm.ngrams[0], ngrams2=lm.ngrams[1])
    with pytest.raises(CheckpointError, match="cannot read language model.*ValueError"):
        LabelLM.load(tmp_path / "odd.lm.npz")
