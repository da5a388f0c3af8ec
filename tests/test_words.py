"""Word times from the CTC alignment, whole syllables in partials, and no text from digital silence."""
import itertools
import json
import shutil
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import soundfile
from models import speechlike

from workbench import load_audio, load_transcriber
from workbench.asr import TranscriptEvent, Word
from workbench.asr.ctc import GreedySearch, Segmenter, collapse, greedy_path
from workbench.asr.hangul import LONE_JAMO, whole_syllables
from workbench.asr.stream import StreamConfig, TextEvents
from workbench.asr.words import forced_path, token_spans
from workbench.paths import CHECKPOINT_DIR, EXAMPLES_DIR

BUNDLED = CHECKPOINT_DIR / "asr.nemo"
CLEAN = EXAMPLES_DIR / "clean.wav"
WORDS = ["오늘", "날씨가", "정말", "좋네요", "학교에", "가요", "사과", "세", "개", "주세요"]
BLANK = 4


def one_hot(path, labels: int = BLANK + 1, p: float = 0.9) -> np.ndarray:
    """Log-probabilities that put ``p`` on each frame's label of ``path`` and spread the rest."""
    probs = np.full((len(path), labels), (1 - p) / (labels - 1))
    probs[np.arange(len(path)), path] = p
    return np.log(probs)


@pytest.fixture(scope="module")
def bundled():
    return load_transcriber(BUNDLED)


def test_forced_path_of_the_greedy_text_is_the_greedy_path():
    path = [BLANK, 0, 0, BLANK, 0, 1, 1, BLANK, BLANK, 2, BLANK]
    log_probs = one_hot(path)
    tokens = collapse(greedy_path(log_probs), BLANK)
    assert tokens == [0, 0, 1, 2]
    assert forced_path(log_probs, tokens, BLANK).tolist() == path


def test_forced_path_places_labels_the_greedy_path_skipped():
    log_probs = one_hot([BLANK, 0, BLANK, BLANK, BLANK, 1, BLANK])
    log_probs[3] = np.log([0.1, 0.1, 0.35, 0.05, 0.4])  # the beam's "2" where greedy saw blank
    path = forced_path(log_probs, [0, 2, 1], BLANK)
    assert collapse(path, BLANK) == [0, 2, 1]
    assert token_spans(path, BLANK) == [(0, 1, 2), (2, 3, 4), (1, 5, 6)]


@pytest.mark.parametrize("fixture", ["char_nemo", "bpe_nemo"])
def test_words_join_to_the_text_offline_and_streamed(request, fixture):
    transcriber = load_transcriber(request.getfixturevalue(fixture))
    audio = speechlike(6.0, seed=7)
    words = transcriber.transcribe_words(audio)
    assert " ".join(word.text for word in words) == transcriber.transcribe(audio)
    events = list(transcriber.stream(np.array_split(audio, 30), config=StreamConfig(0.64, 1.28, 0.32),
                                     endpoint_s=0.16))
    finals = [event for event in events if event.final]
    assert finals
    for event in events:
        assert event.words == () if not event.final else " ".join(w.text for w in event.words) == event.text
    timed = [word for event in finals for word in event.words]
    for word in timed:
        assert 0 <= word.start_s < word.end_s <= 6.0 + transcriber.frame_s
    assert all(a.end_s <= b.start_s for a, b in itertools.pairwise(timed))
    for event in finals:  # a final's span covers its words
        assert event.start_s <= event.words[0].start_s and event.words[-1].end_s <= event.end_s


def test_event_dicts_carry_words_on_finals_only():
    partial = TranscriptEvent("안녕", False, 0.0, 0.5)
    final = TranscriptEvent("안녕 하세요", True, 0.0, 1.2, (Word("안녕", 0.0, 0.5), Word("하세요", 0.6, 1.2)))
    assert partial.to_dict() == {"text": "안녕", "final": False, "start_s": 0.0, "end_s": 0.5}
    assert json.loads(json.dumps(final.to_dict())) == {
        "text": "안녕 하세요", "final": True, "start_s": 0.0, "end_s": 1.2,
        "words": [{"text": "안녕", "start_s": 0.0, "end_s": 0.5}, {"text": "하세요", "start_s": 0.6, "end_s": 1.2}]}


def test_closed_segments_keep_their_frames_and_silence_keeps_none():
    path = [BLANK] * 100 + [0, 0, BLANK, 1] + [BLANK] * 4 + [2]
    segmenter = Segmenter(GreedySearch(BLANK), BLANK, endpoint_frames=4)
    closed = segmenter.push(one_hot(path))
    assert [(s.tokens, s.first_frame, len(s.log_probs)) for s in closed] == [([0, 1], 100, 8)]
    np.testing.assert_array_equal(closed[0].log_probs, one_hot(path)[100:108])
    tail = segmenter.close()
    assert tail.tokens == [2] and tail.first_frame == 108 and len(tail.log_probs) == 1


@pytest.mark.parametrize("use_lm", [False, True], ids=["greedy", "beam+lm"])
def test_a_long_segment_is_aligned_in_pieces(bundled, use_lm, monkeypatch):
    """Memory stays bounded: a segment longer than one Viterbi pass is aligned in pieces of
    ``MAX_ALIGN_FRAMES``, each holding the tokens the search emitted there; the words hardly move."""
    import workbench.asr.words

    audio = load_audio(CLEAN)
    whole = bundled.transcribe_words(audio, use_lm)
    monkeypatch.setattr(workbench.asr.words, "MAX_ALIGN_FRAMES", 10)
    pieces = bundled.transcribe_words(audio, use_lm)
    assert [w.text for w in pieces] == [w.text for w in whole] and len(whole) > 3
    for a, b in zip(whole, pieces):
        assert abs(a.start_s - b.start_s) <= 2 * bundled.frame_s and abs(a.end_s - b.end_s) <= 2 * bundled.frame_s


def known_boundaries(transcriber, voices, use_lm: bool) -> dict[str, list[float]]:
    """Boundary errors of the offline words and of the streamed finals' words."""
    from workbench.train.speech import Voice
    from workbench.word_timing import boundary_errors, overlapped, spoken_words

    errors = {"offline": [], "stream": []}
    for variant in voices:
        audio, truth = spoken_words(WORDS, Voice(variant, 160, 50))
        offline = transcriber.transcribe_words(audio, use_lm)
        streamed = [w for e in transcriber.stream(np.array_split(audio, len(audio) // 1600), use_lm=use_lm)
                    for w in e.words]
        for name, found in (("offline", offline), ("stream", streamed)):
            assert all(overlapped(found, truth)), (variant, name, found)
            errors[name] += boundary_errors(found, truth)
    return errors


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
@pytest.mark.parametrize("use_lm", [False, True], ids=["greedy", "beam+lm"])
def test_word_times_on_speech_with_known_boundaries(bundled, use_lm):
    """Words spoken one by one (espeak-ng, held-out voices, 0.35 s pauses): the median error over
    all word starts and ends is at most 0.15 s, offline and streamed."""
    for name, errors in known_boundaries(bundled, ["m7", "Linda"], use_lm).items():
        print(f"{'beam+lm' if use_lm else 'greedy'} {name}: median boundary error {np.median(errors):.3f} s")
        assert len(errors) == 4 * len(WORDS) and np.median(errors) <= 0.15


def test_whole_syllables_drop_lone_jamo():
    assert whole_syllables("반녕ㅎ") == "반녕"
    assert whole_syllables("날ㅅ") == "날"
    assert whole_syllables("아ㅇ이 ㄱ 학교\u1100") == "아이 학교"
    assert whole_syllables("ㅎ") == ""


def test_partials_hold_back_an_unfinished_syllable(transcriber):
    """Jamo arrive one by one: 반, then the lead ㄴ of 녕 (shown only once its vowel comes); the
    final keeps its full text, lone jamo included."""
    labels = list(transcriber.model.decoder.vocabulary)
    ids = [labels.index(jamo) for jamo in unicodedata.normalize("NFD", "반녕")] + [labels.index("\u1112")]
    text_events = TextEvents(transcriber, endpoint_s=10.0, use_lm=False)
    shown = []
    for label in ids:  # one label, then a blank, per push
        path = [label, transcriber.blank]
        events = text_events.push(one_hot(path, transcriber.blank + 1))
        shown += [event.text for event in events]
    assert shown == ["바", "반", "반녀", "반녕"]
    assert [event.text for event in text_events.close()] == ["반녕ㅎ"]


@pytest.mark.parametrize("chunk_s", [0.24, 0.48])
def test_no_partial_of_the_bundled_model_shows_a_lone_jamo(bundled, chunk_s):
    audio = load_audio(CLEAN)
    events = list(bundled.stream(np.array_split(audio, len(audio) // 1600),
                                 config=StreamConfig(chunk_s, 1.0, 0.0)))
    partials = [event.text for event in events if not event.final]
    assert len(partials) > 3
    assert not [text for text in partials if LONE_JAMO.search(text)]


@pytest.mark.parametrize("use_lm", [False, True], ids=["greedy", "beam+lm"])
def test_digital_silence_gives_no_text(bundled, use_lm):
    zeros = np.zeros(16000, np.float32)
    assert bundled.transcribe(zeros, use_lm) == "" and bundled.transcribe_words(zeros, use_lm) == ()
    one_step = np.random.default_rng(0).integers(-1, 2, 16000 * 3).astype(np.float32) / 32768  # a muted input's LSB
    assert bundled.transcribe(one_step, use_lm) == ""
    long = np.zeros(16000 * 60, np.float32)
    assert list(bundled.stream(np.array_split(long, 600), use_lm=use_lm)) == []


def test_cache_aware_bundled_model_gives_no_text_on_silence():
    """It normalises nothing per input, so its own output on zeros is blank already (no gate)."""
    streaming = load_transcriber(CHECKPOINT_DIR / "asr_streaming.nemo")
    zeros = np.zeros(16000 * 5, np.float32)
    assert list(streaming.stream(np.array_split(zeros, 50))) == [] and streaming.transcribe(zeros) == ""


def test_speech_around_digital_silence_is_still_heard(bundled):
    speech = load_audio(CLEAN)
    zeros = np.zeros(16000 * 5, np.float32)
    finals = [e.text for e in bundled.stream(np.array_split(np.concatenate([speech, zeros, speech]), 200)) if e.final]
    assert len(finals) == 2 and all(len(text) > 10 for text in finals)


def test_cli_json_finals_carry_words_and_silence_prints_nothing(tmp_path):
    soundfile.write(tmp_path / "zeros.wav", np.zeros(16000 * 2, np.int16), 16000)
    command = [sys.executable, "-m", "workbench", "transcribe", "--json"]
    run = subprocess.run(command + [str(CLEAN)], capture_output=True, text=True, timeout=300, check=True)
    finals = [event for event in map(json.loads, run.stdout.splitlines()) if event["final"]]
    assert finals and all(" ".join(w["text"] for w in e["words"]) == e["text"] for e in finals)
    assert all(set(w) == {"text", "start_s", "end_s"} for e in finals for w in e["words"])
    silent = subprocess.run(command + [str(tmp_path / "zeros.wav")], capture_output=True, text=True, timeout=300,
                            check=True)
    assert silent.stdout == ""
