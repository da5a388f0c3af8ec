"""Latency measures (workbench.latency) on scripted event sequences with known answers."""
import math
from dataclasses import dataclass

import numpy as np
import pytest

from workbench.asr import TranscriptEvent
from workbench.audio import SAMPLE_RATE
from workbench.latency import Latency, measure, play, revised


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Event:
    """A transcript event with word times (the interface of ``TranscriptEvent.words``)."""

    text: str
    final: bool
    start_s: float = 0.0
    end_s: float = 0.0
    words: tuple = ()


def partial(text):
    return TranscriptEvent(text, False, 0.0, 0.0)


def test_lag_is_from_the_end_of_speech_to_the_first_time_the_shown_text_equals_the_final():
    timed = [(0.5, partial("안녕")), (0.9, partial("안녕하세요")), (1.2, partial("안녕하세")),
             (1.6, TranscriptEvent("안녕하세요", True, 0.1, 1.0)),
             (2.5, partial("감사")), (3.3, TranscriptEvent("감사합니다", True, 2.0, 3.0))]
    result = measure(timed, audio_s=4.0)
    # utterance 1 was first shown whole by a partial at 0.9 s (speech end 1.0 s): -0.1 s;
    # utterance 2 only by its final at 3.3 s: 0.3 s
    assert result.lag_s == pytest.approx([-0.1, 0.3])
    assert result.summary()["lag_p50_s"] == pytest.approx(0.1)


def test_emit_is_per_word_from_its_end_to_its_first_appearance():
    final = Event("나는 학교에 간다", True, 0.0, 1.5,
                  (Word("나는", 0.0, 0.4), Word("학교에", 0.5, 1.0), Word("간다", 1.1, 1.5)))
    timed = [(0.6, partial("나는")), (1.1, partial("나는 학교")), (1.3, partial("나는 학교에")),
             (1.9, final)]
    result = measure(timed, audio_s=2.0)
    assert result.emit_s == pytest.approx([0.2, 0.3, 0.4])
    assert result.lag_s == pytest.approx([0.4])
    summary = result.summary()
    assert summary["emit_p50_s"] == pytest.approx(0.3)
    assert summary["emit_p95_s"] == pytest.approx(0.39)


def test_a_word_shown_then_taken_back_counts_from_its_first_appearance():
    final = Event("비가 온다", True, 0.0, 1.0, (Word("비가", 0.0, 0.4), Word("온다", 0.5, 1.0)))
    timed = [(0.5, partial("비가")), (0.8, partial("이가")), (1.4, final)]
    assert measure(timed, 1.0).emit_s == pytest.approx([0.1, 0.4])


def test_revisions_count_shown_words_changed_not_words_appended_or_growing():
    assert revised([], ["가", "나"]) == 0
    assert revised(["가"], ["가", "나"]) == 0           # appended
    assert revised(["가", "하"], ["가", "한"]) == 0      # the last word grows (jamo ㅎㅏ -> ㅎㅏㄴ)
    assert revised(["가", "하"], ["가", "한", "다"]) == 0
    assert revised(["가", "나"], ["다", "나"]) == 1     # an earlier word changed
    assert revised(["가", "나", "다"], ["가"]) == 2     # two words removed
    assert revised(["하"], ["호"]) == 1                 # the last word changed, not grown


def test_revisions_per_minute_include_a_final_that_differs_from_its_partial():
    timed = [(0.3, partial("오늘")), (0.6, partial("오늘 아침")), (0.9, partial("오늘 아치")),
             (1.2, partial("오늘 아침에 비")),  # "아치" -> "아침에": grown, not revised
             (1.5, TranscriptEvent("오늘 아침에 피", True, 0.0, 1.2)),  # "비" -> "피": one revision
             (2.0, partial("우산")), (2.4, TranscriptEvent("우산", True, 1.8, 2.2))]
    result = measure(timed, audio_s=30.0)
    # "아침" -> "아치" is a change of the last word that is not a growth: one; "비" -> "피": one
    assert result.revisions == 2
    assert result.summary()["revisions_per_min"] == pytest.approx(4.0)


def test_nothing_measured_gives_nan_and_streams_add_up():
    empty = measure([], audio_s=1.0)
    assert all(math.isnan(value) for key, value in empty.summary().items() if key != "revisions_per_min")
    assert empty.summary()["revisions_per_min"] == 0
    total = Latency([0.1], [0.2], 1, 30.0) + Latency([0.3], [], 2, 30.0)
    assert total.lag_s == [0.1, 0.3] and total.revisions == 3 and total.summary()["revisions_per_min"] == 3.0


class ScriptedStreamer:
    """Every feed costs ``cost`` seconds of a fake clock; a partial after each feed, a final at the flush."""

    def __init__(self, clock, cost):
        self.clock, self.cost, self.fed = clock, cost, 0

    def feed(self, chunk):
        self.fed += len(chunk)
        self.clock.now += self.cost
        return [partial(f"{self.fed}")]

    def flush(self):
        self.clock.now += self.cost
        return [TranscriptEvent("end", True, 0.0, self.fed / SAMPLE_RATE)]


class FakeClock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(("cost", "expected"), [(0.02, [0.12, 0.22, 0.27, 0.29]),
                                                # 0.15 s a feed: later feeds wait for the one before
                                                (0.15, [0.25, 0.40, 0.55, 0.70])])
def test_play_keeps_real_time_pace_and_queues_feeds_behind_slow_compute(cost, expected):
    clock = FakeClock()
    audio = np.zeros(round(0.25 * SAMPLE_RATE), np.float32)  # feeds of 0.1, 0.1 and 0.05 s, then the flush
    timed, compute = play(ScriptedStreamer(clock, cost), audio, feed_s=0.1, clocks={"fake": clock})["fake"]
    assert [at for at, _ in timed] == pytest.approx(expected)
    assert compute == pytest.approx(4 * cost)
    assert [event.final for _, event in timed] == [False, False, False, True]


def test_word_histories_record_each_form_shown_in_a_words_place_and_when_it_became_final():
    from workbench.timeline import timeline_figure, word_histories

    final = Event("나는 학교에 간다", True, 0.0, 1.5,
                  (Word("나는", 0.0, 0.4), Word("학교에", 0.5, 1.0), Word("간다", 1.1, 1.5)))
    timed = [(0.6, partial("나는")), (1.1, partial("나는 학교")), (1.3, partial("나는 학교에 갔")),
             (1.9, final), (2.5, partial("또")), (3.0, TranscriptEvent("또", True, 2.0, 2.4))]
    histories = word_histories(timed)
    assert [word.text for word in histories] == ["나는", "학교에", "간다", "또"]
    assert histories[0].shown == [(0.6, "나는")] and histories[0].revisions == 0
    assert histories[1].shown == [(1.1, "학교"), (1.3, "학교에")] and histories[1].revisions == 1
    assert histories[2].shown == [(1.3, "갔"), (1.9, "간다")]
    assert [word.final_s for word in histories] == [1.9, 1.9, 1.9, 3.0]
    assert histories[1].spoken == (0.5, 1.0) and histories[3].spoken is None  # no word times: not placed
    from workbench.figures import png

    audio = np.zeros(3 * SAMPLE_RATE, np.float32)
    assert png(timeline_figure(audio, histories, "scripted")).startswith(b"\x89PNG")
