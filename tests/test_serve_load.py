"""benchmarks/serve_load.py's own logic: the capacity search and reading the service's events back."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from serve_load import largest_passing, transcript_event

from workbench.asr import TranscriptEvent
from workbench.asr.words import Word


def search(capacity: int, ladder: list[int]) -> tuple[tuple[int, int | None], list[int]]:
    tried = []

    def passes(count: int) -> bool:
        tried.append(count)
        return count <= capacity

    return largest_passing(passes, ladder), tried


@pytest.mark.parametrize("capacity, found, tried", [
    (9, (9, 10), [1, 2, 4, 6, 8, 12, 10, 9]),      # climbs to the first failure, then bisects 8..12
    (11, (11, 12), [1, 2, 4, 6, 8, 12, 10, 11]),
    (8, (8, 9), [1, 2, 4, 6, 8, 12, 10, 9]),
    (3, (3, 4), [1, 2, 4, 3]),
    (0, (0, 1), [1]),                              # not even one stream
    (40, (16, None), [1, 2, 4, 6, 8, 12, 16]),     # never failed: at least the ladder's top
])
def test_capacity_search_climbs_the_ladder_then_bisects(capacity, found, tried):
    assert search(capacity, [1, 2, 4, 6, 8, 12, 16]) == (found, tried)


def test_a_streamed_event_reads_back_as_the_event_the_server_sent():
    final = TranscriptEvent("안녕 하세요", True, 0.2, 1.4, (Word("안녕", 0.3, 0.7), Word("하세요", 0.8, 1.3)))
    partial = TranscriptEvent("안녕", False, 0.2, 0.8)
    for event in (final, partial):
        assert transcript_event(json.loads(json.dumps(event.to_dict(), ensure_ascii=False))) == event
