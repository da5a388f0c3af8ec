"""Subtitles: cues split from the finals by their word times, at most 2 lines of 20 characters and 6 s."""
import itertools
import re

import numpy as np
import pytest

from workbench.asr import TranscriptEvent, Word
from workbench.subtitles import LINE_CHARS, MAX_CUE_S, MAX_LINES, srt, subtitles, vtt

SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n((?:.+\n)+)\n")


def spoken(text: str, start_s: float = 0.0, word_s: float = 0.5, gap_s: float = 0.1) -> TranscriptEvent:
    """A final whose words follow one another, ``word_s`` long, ``gap_s`` apart."""
    words, at = [], start_s
    for piece in text.split():
        words.append(Word(piece, at, at + word_s))
        at += word_s + gap_s
    return TranscriptEvent(text, True, start_s, words[-1].end_s, tuple(words))


def parse(text: str) -> list[tuple[float, float, list[str]]]:
    cues = SRT_CUE.findall(text)
    assert "".join(match.group(0) for match in SRT_CUE.finditer(text)) == text  # nothing else in it
    assert [int(cue[0]) for cue in cues] == list(range(1, len(cues) + 1))
    seconds = [[int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms in (cue[1:5], cue[5:9])]
               for cue in cues]
    return [(start, end, cue[9].splitlines()) for (start, end), cue in zip(seconds, cues)]


def test_a_long_final_is_split_into_cues_that_fit():
    text = "오늘 아침 일곱 시에 일어나서 지하철을 타고 학교에 갔는데 비가 많이 와서 우산을 샀어요 그리고 친구를 만났습니다"
    event = spoken(text, start_s=3.0)
    cues = parse(srt([event]))
    assert len(cues) >= 2
    for start, end, lines in cues:
        assert 1 <= len(lines) <= MAX_LINES and all(len(line) <= LINE_CHARS for line in lines)
        assert end - start <= MAX_CUE_S
    assert " ".join(" ".join(lines) for *_, lines in cues) == text
    starts = {word.start_s for word in event.words}
    ends = {word.end_s for word in event.words}
    assert all(round(start, 3) in {round(s, 3) for s in starts} for start, _, _ in cues)
    assert all(round(end, 3) in {round(e, 3) for e in ends} for _, end, _ in cues)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))


def test_duration_splits_a_slow_final():
    event = spoken("하나 둘 셋 넷", word_s=2.0, gap_s=0.5)  # 8 characters, 9.5 s; three words take 7 s
    cues = parse(srt([event]))
    assert [lines for *_, lines in cues] == [["하나 둘"], ["셋 넷"]]
    assert cues[0][:2] == (0.0, 4.5) and cues[1][:2] == (5.0, 9.5)


def test_a_word_longer_than_a_line_keeps_a_line_of_its_own():
    long_word = "가" * (LINE_CHARS + 5)
    cues = parse(srt([spoken(f"짧은 {long_word} 말")]))
    assert [lines for *_, lines in cues] == [["짧은", long_word], ["말"]]


def test_partials_empty_finals_and_finals_without_words():
    events = [TranscriptEvent("안녕", False, 0.0, 0.4), TranscriptEvent("", True, 0.0, 0.0),
              TranscriptEvent("  만든  이벤트  ", True, 1.0, 2.5), spoken("안녕 하세요", start_s=4.0)]
    cues = parse(srt(events))
    assert cues == [(1.0, 2.5, ["만든 이벤트"]), (4.0, 5.1, ["안녕 하세요"])]


def test_vtt_has_the_same_cues():
    events = [spoken("오늘 아침 일곱 시에 일어나서 지하철을 타고 학교에 갔는데 비가 많이 와서")]
    cues = parse(srt(events))
    body = vtt(events)
    assert body.startswith("WEBVTT\n\n") and subtitles(events, "vtt") == body and subtitles(events, "srt") == srt(events)
    blocks = body.removeprefix("WEBVTT\n\n").split("\n\n")[:-1]
    assert [block.splitlines()[1:] for block in blocks] == [lines for *_, lines in cues]
    assert blocks[0].splitlines()[0] == "00:00:00.000 --> " + srt(events).splitlines()[1].split(" --> ")[1].replace(",", ".")


@pytest.mark.parametrize("seconds", [0.5, 4.0, 30.0])
def test_any_final_gives_cues_within_the_limits(seconds):
    rng = np.random.default_rng(int(seconds))
    pieces = ["".join(rng.choice(list("가나다라마바사아자차카타파하"), rng.integers(1, 8))) for _ in range(40)]
    event = spoken(" ".join(pieces), word_s=seconds / 40, gap_s=0.0)
    cues = parse(srt([event]))
    assert " ".join(" ".join(lines) for *_, lines in cues) == event.text
    assert all(len(lines) <= MAX_LINES and end - start <= MAX_CUE_S + 1e-9 for start, end, lines in cues)
