import dataclasses
import functools
import itertools
import operator
import unicodedata

import numpy as np
import pytest
from models import non_ctc_nemo, speechlike

from workbench import CheckpointError, DeviceError, load_transcriber
from workbench.asr.ctc import GreedySearch, Segmenter, collapse
from workbench.asr.hangul import compose
from workbench.asr.stream import StreamConfig

BLANK = 9


def test_collapse_merges_repeats_and_drops_blanks():
    assert collapse([1, 1, BLANK, 1, 2, 2, BLANK, BLANK, 3], BLANK) == [1, 1, 2, 3]
    assert collapse([BLANK, BLANK], BLANK) == []


def test_segmenter_closes_on_blank_run_and_matches_collapse():
    path = [1, 1, BLANK, 2] + [BLANK] * 5 + [3, 3, 4] + [BLANK] * 2
    scores = np.log(np.eye(BLANK + 1)[path] * 0.9 + 0.01)
    segmenter = Segmenter(GreedySearch(BLANK), BLANK, endpoint_frames=4)
    closed = segmenter.push(scores[:6]) + segmenter.push(scores[6:])
    tail = segmenter.close()
    assert [s.tokens for s in closed] == [[1, 2]] and tail.tokens == [3, 4]
    assert closed[0].frames == [0, 3] and tail.frames == [9, 11]
    assert functools.reduce(operator.iadd, (s.tokens for s in closed + [tail]), []) == collapse(path, BLANK)


@pytest.mark.parametrize("fixture", ["char_nemo", "bpe_nemo"])
def test_loads_char_and_bpe_models(request, fixture):
    transcriber = load_transcriber(request.getfixturevalue(fixture))
    audio = speechlike(2.0)
    scores = transcriber.log_probs(audio)
    assert scores.shape[1] == transcriber.blank + 1
    assert scores.shape[0] == pytest.approx(2.0 / transcriber.frame_s, abs=2)
    text = transcriber.transcribe(audio)
    assert text == unicodedata.normalize("NFC", text)


def test_offline_matches_nemo_transcribe(transcriber):
    audio = speechlike(2.5, seed=3)
    hypothesis = transcriber.model.transcribe([audio], batch_size=1, verbose=False)[0]
    nemo_text = getattr(hypothesis, "text", hypothesis)
    assert transcriber.transcribe(audio) == compose(nemo_text).strip()


def test_jamo_compose_into_syllables_and_leftovers_into_letters():
    decomposed = unicodedata.normalize("NFD", "안녕 하세요")
    assert compose(decomposed) == "안녕 하세요"
    assert compose("\u1100 \u1161\u11a8 \u1112\u1161\u11ab") == "ㄱ ㅏㄱ 한"


def test_stream_config_refuses_sizes_a_stream_cannot_have():
    assert StreamConfig() == StreamConfig(chunk_s=1.0, left_s=2.0, right_s=0.5)
    assert StreamConfig(0.04, 0.0, 0.0).left_s == 0.0  # no context is a valid choice
    for sizes in ({"chunk_s": 0.0}, {"chunk_s": -1.0}, {"left_s": -0.5}, {"right_s": float("nan")},
                  {"left_s": float("inf")}):
        name = next(iter(sizes))
        with pytest.raises(ValueError, match=f"^{name}: expected a finite number of seconds"):
            StreamConfig(**sizes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        StreamConfig().chunk_s = 2.0


def test_one_chunk_stream_equals_offline(transcriber):
    audio = speechlike(3.0, seed=4)
    events = list(transcriber.stream(np.array_split(audio, 17), config=StreamConfig(chunk_s=4.0), endpoint_s=0.4))
    finals = [e.text for e in events if e.final]
    assert " ".join(finals).replace(" ", "") == transcriber.transcribe(audio).replace(" ", "")


def test_event_sequence_and_timing(transcriber):
    audio = speechlike(6.0, seed=5)
    streamer = transcriber.streamer(StreamConfig(chunk_s=0.64, left_s=1.28, right_s=0.32), endpoint_s=0.16)
    seen, events = 0, []
    for piece in np.array_split(audio, 60):
        new = streamer.feed(piece)
        seen += len(piece)
        for event in new:  # text never lags the audio by more than chunk + right context
            assert seen / 16000 - event.end_s <= streamer.latency_s + 1e-6
        events += new
    events += streamer.flush()
    assert events and events[-1].final
    assert streamer.decoded_s == pytest.approx(6.0)
    for event in events:
        assert 0 <= event.start_s <= event.end_s <= 6.0 + transcriber.frame_s
    finals = [e for e in events if e.final]
    assert all(a.end_s <= b.start_s for a, b in itertools.pairwise(finals))
    segment_start = 0
    for index, event in enumerate(events):  # partials belong to the segment that closes next
        if event.final:
            assert all(not e.final and e.start_s == event.start_s for e in events[segment_start:index])
            segment_start = index + 1


def test_cost_is_linear_in_stream_length(transcriber, monkeypatch):
    lengths = []
    original = transcriber.log_probs
    monkeypatch.setattr(transcriber, "log_probs", lambda audio: lengths.append(len(audio)) or original(audio))
    streamer = transcriber.streamer(StreamConfig(chunk_s=0.64, left_s=1.28, right_s=0.32))
    for piece in np.array_split(speechlike(10.0), 100):
        streamer.feed(piece)
    streamer.flush()
    assert len(lengths) == int(np.ceil(10.0 / 0.64))
    assert max(lengths) <= round(2.24 * 16000)
    assert len(streamer._audio) <= round(2.24 * 16000)


def test_short_and_trailing_audio_is_not_lost(transcriber):
    audio = speechlike(1.3, seed=6)
    streamer = transcriber.streamer(StreamConfig(chunk_s=1.0, right_s=0.5))
    assert streamer.feed(audio) == []  # the first chunk still waits for its right context
    streamer.flush()
    assert streamer.decoded_s == pytest.approx(1.3)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*workbench.train asr"):
        load_transcriber(tmp_path / "missing.nemo")
    (tmp_path / "text.nemo").write_text("not an archive")
    with pytest.raises(CheckpointError, match="not a .nemo archive"):
        load_transcriber(tmp_path / "text.nemo")
    with pytest.raises(CheckpointError, match="EncDecRNNTModel, not a CTC model"):
        load_transcriber(non_ctc_nemo(tmp_path / "rnnt.nemo"))


def test_truncated_nemo(tmp_path, char_nemo):
    data = char_nemo.read_bytes()
    (tmp_path / "cut.nemo").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.nemo"):
        load_transcriber(tmp_path / "cut.nemo")


def test_unknown_device(char_nemo):
    with pytest.raises(DeviceError, match="unknown device"):
        load_transcriber(char_nemo, device="gpu0")


def test_two_threads_loading_at_once_restore_one_at_a_time(char_nemo, monkeypatch):
    """NeMo's restore changes the process's working folder (os.chdir), so a restore running beside
    another found relative paths gone; restores now take turns."""
    import threading
    import time

    from nemo.collections.asr.models import EncDecCTCModel

    restore, inside, most = EncDecCTCModel.restore_from.__func__, [0], [0]
    counting = threading.Lock()

    def counted(cls, *args, **kwargs):
        with counting:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.3)
        try:
            return restore(cls, *args, **kwargs)
        finally:
            with counting:
                inside[0] -= 1

    monkeypatch.setattr(EncDecCTCModel, "restore_from", classmethod(counted))
    errors = []

    def load():
        try:
            load_transcriber(char_nemo, lm=False, live=False)
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and most[0] == 1
