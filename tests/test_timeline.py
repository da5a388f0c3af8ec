"""The timeline view (workbench.timeline): each word at its own spoken time, on scripted streams."""
import numpy as np

from workbench.asr import TranscriptEvent, Word
from workbench.audio import SAMPLE_RATE
from workbench.figures import png
from workbench.timeline import timeline_figure, word_histories


def partial(text):
    return TranscriptEvent(text, False, 0.0, 0.0)


def spoken_bars(figure) -> list[tuple[float, float]]:
    """(start, end) of the solid spoken bars on the word axes."""
    axes = figure.axes[1]
    return [(round(bar.get_x(), 6), round(bar.get_x() + bar.get_width(), 6)) for bar in axes.patches
            if bar.get_fill()]


def test_words_sit_at_their_own_spoken_times():
    words = (Word("나는", 0.2, 0.6), Word("학교에", 0.7, 1.3), Word("간다", 1.4, 1.9))
    timed = [(0.8, partial("나는")), (1.6, partial("나는 학교에")), (2.3, TranscriptEvent("나는 학교에 간다", True, 0.2, 1.9, words))]
    histories = word_histories(timed)
    assert [word.spoken for word in histories] == [(0.2, 0.6), (0.7, 1.3), (1.4, 1.9)]
    figure = timeline_figure(np.zeros(2 * SAMPLE_RATE, np.float32), histories)
    assert spoken_bars(figure) == [(0.2, 0.6), (0.7, 1.3), (1.4, 1.9)]


def test_the_finals_timed_words_are_the_rows_whatever_its_texts_spacing():
    # a decoder whose word grouping differs from the text's spaces: the timed words still place each word
    words = (Word("학교에", 0.1, 0.7), Word("간다", 0.8, 1.2))
    timed = [(0.9, partial("학교 에")), (1.5, TranscriptEvent("학교 에 간다", True, 0.1, 1.2, words))]
    histories = word_histories(timed)
    assert [(word.text, word.spoken) for word in histories] == [("학교에", (0.1, 0.7)), ("간다", (0.8, 1.2))]
    assert histories[1].shown[-1] == (1.5, "간다") and histories[1].final_s == 1.5


def test_a_final_without_word_times_is_not_drawn_as_spoken_over_its_whole_utterance():
    timed = [(0.9, partial("비가")), (1.8, TranscriptEvent("비가 온다", True, 0.3, 1.5))]
    histories = word_histories(timed)
    assert [word.spoken for word in histories] == [None, None]
    assert [word.utterance for word in histories] == [(0.3, 1.5), (0.3, 1.5)]
    figure = timeline_figure(np.zeros(2 * SAMPLE_RATE, np.float32), histories, "no word times")
    assert spoken_bars(figure) == []  # an outline of the utterance, not a spoken span per word
    assert "no word times" in figure.axes[1].get_xlabel()
    assert png(figure).startswith(b"\x89PNG")
