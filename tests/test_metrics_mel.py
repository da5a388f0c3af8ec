import numpy as np
import pytest

from workbench.mel import mel_spectrogram
from workbench.metrics import cer, char_edits, corpus_cer, wer, word_edits


def test_cer_ignores_spaces_and_composes_jamo():
    assert cer("안녕 하세요", "안녕하세요") == 0.0
    assert cer("안녕하세요", "\u1109\u1161\u11ab녕하세요") == pytest.approx(0.2)  # NFD jamo for 산
    assert cer("가나다", "") == 1.0 and cer("", "") == 0.0 and cer("", "가") == 1.0


def test_wer_and_corpus_cer():
    assert wer("오늘 날씨 좋네요", "오늘 날시 좋네요") == pytest.approx(1 / 3)
    assert corpus_cer(["가나", "다라마바"], ["가나", "다라"]) == pytest.approx(2 / 6)


def test_edits_are_counted_not_rounded_from_rates():
    assert char_edits("가나다", "가다라") == 2 and char_edits("", "가나다") == 3
    assert word_edits("오늘 날씨", "") == 2 and word_edits("", "오늘 날씨 좋네") == 3
    # a hypothesis for an empty reference is 3 insertions, pooled over 2 reference characters
    assert corpus_cer(["", "가나"], ["가나다", "가나"]) == pytest.approx(3 / 2)


def test_mel_axes_follow_the_signal():
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    mel = mel_spectrogram(tone)
    assert mel.db.shape == (80, 101) and mel.times[-1] == pytest.approx(1.0)
    assert mel.freqs[mel.db[:, 50].argmax()] == pytest.approx(1000, rel=0.1)
