"""The live mode (workbench.asr.live_mode): voice-activity endpoints, fast partials, full-context finals."""
import itertools
import shutil

import numpy as np
import pytest
import torch
from test_cache_aware import cache_aware_config

from workbench import CheckpointError, load_audio, load_transcriber
from workbench.asr import CTCStream
from workbench.asr.cache_aware import CacheAwareStream
from workbench.asr.hangul import LONE_JAMO, whole_syllables
from workbench.asr.live_mode import (
    ONSET_SEARCH_S,
    REDECODES,
    VAD_FRAME,
    Endpointer,
    LiveModeStream,
    Redecodes,
    final_log_probs,
    live_streamer,
    speech_onset,
)
from workbench.audio import SAMPLE_RATE, chunks
from workbench.live import FILE_REDECODES, LiveStream
from workbench.paths import ROOT

QUIET_S = 1.0


def quiet(seconds, rng):
    return (1e-3 * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)


@pytest.fixture(scope="module")
def talk():
    """Three spoken clips with a second of faint noise around each, and where each clip lies."""
    rng, pieces, spans, at = np.random.default_rng(0), [], [], 0
    for name in ("clean", "hum", "clean"):
        speech = load_audio(ROOT / "audio_example" / f"{name}.wav")
        pieces += [quiet(QUIET_S, rng), speech]
        at += round(QUIET_S * SAMPLE_RATE)
        spans.append((at, at + len(speech)))
        at += len(speech)
    return np.concatenate([*pieces, quiet(QUIET_S, rng)]), spans


def run(stream, audio):
    events = [event for chunk in chunks(audio, 0.1) for event in stream.feed(chunk)]
    return events + stream.flush()


def test_finals_equal_the_offline_decode_of_each_endpointed_utterance(transcriber, talk):
    audio, _ = talk
    stream = live_streamer(transcriber)
    events = [event for event in run(stream, audio) if event.final]
    offline = [offline_decode(transcriber, audio[start:end]) for start, end in stream.utterances]
    assert [event.text for event in events] == [text for text in offline if text]
    assert events
    for event in events:  # the words, timed in the stream, make up the final's text
        assert " ".join(word.text for word in event.words) == event.text
        assert all(event.start_s <= word.start_s < word.end_s <= event.end_s for word in event.words)
    spans = [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in stream.utterances]
    frame_s = transcriber.frame_s  # the crop's last output frame may reach past its end
    assert all(any(a <= event.start_s and event.end_s <= b + frame_s for a, b in spans) for event in events)


def offline_decode(transcriber, crop):
    """An utterance's crop decoded as the live mode's final decodes it (two readings averaged)."""
    return transcriber.decode(final_log_probs(transcriber, crop)[0])


def test_the_final_averages_the_crop_with_the_crop_one_frame_shorter(transcriber, talk):
    audio, (span, *_) = talk
    crop, frame = audio[span[0]:span[1]], transcriber.frame_samples
    averaged, skip = final_log_probs(transcriber, crop)
    whole, later = transcriber.log_probs(crop), transcriber.log_probs(crop[frame:])
    assert skip == frame and len(averaged) == min(len(whole) - 1, len(later))
    expected = np.log((np.exp(whole[1:1 + len(averaged)]) + np.exp(later[:len(averaged)])) / 2)
    np.testing.assert_allclose(averaged, expected, atol=1e-5)
    assert np.allclose(np.exp(averaged).sum(axis=1), 1, atol=1e-4)  # still probabilities
    short = crop[:frame]
    assert final_log_probs(transcriber, short)[1] == 0  # too short to shorten: the crop alone
    np.testing.assert_array_equal(final_log_probs(transcriber, short)[0], transcriber.log_probs(short))


def test_endpoints_fall_in_the_pauses_and_cover_the_speech(transcriber, talk):
    audio, spans = talk
    stream = live_streamer(transcriber)
    run(stream, audio)
    speech = [(start, end) for start, end in stream.utterances if end - start > 0.5 * SAMPLE_RATE]
    assert len(speech) == len(spans)
    pause = round(QUIET_S * SAMPLE_RATE)
    for (start, end), (spoken_start, spoken_end) in zip(speech, spans):
        assert spoken_start - pause < start <= spoken_start + 0.1 * SAMPLE_RATE
        assert spoken_end - 0.3 * SAMPLE_RATE <= end < spoken_end + pause


def test_an_utterance_is_cut_at_its_maximum_length(transcriber, talk):
    audio, _ = talk
    stream = live_streamer(transcriber, max_s=1.0)
    run(stream, audio)
    lengths = [(end - start) / SAMPLE_RATE for start, end in stream.utterances]
    # an utterance's crop begins up to the onset search (plus the pre-roll) before its first voiced frame
    assert max(lengths) <= 1.0 + ONSET_SEARCH_S + stream.pre_roll / SAMPLE_RATE + 0.03
    assert len(lengths) >= 6
    # crops never reach before the last endpoint; a piece that goes on from a cut starts at the cut
    starts_after = [start - end for (_, end), (start, _) in itertools.pairwise(stream.utterances)]
    assert min(starts_after) == 0


def tone_after_noise(onset_s, seconds=1.0, level=1e-3, seed=0):
    """Faint noise, then a 200 Hz tone from ``onset_s`` on."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = level * np.random.default_rng(seed).standard_normal(len(t))
    return (noise + 0.2 * np.sin(2 * np.pi * 200 * t) * (t >= onset_s)).astype(np.float32)


@pytest.mark.parametrize("voiced_s", [0.45, 0.5, 0.6, 0.75])
def test_the_speech_onset_is_found_to_a_few_milliseconds_near_the_first_voiced_frame(voiced_s):
    audio = tone_after_noise(0.5)
    onset = speech_onset(audio, round(voiced_s * SAMPLE_RATE))
    assert abs(onset - 0.5 * SAMPLE_RATE) <= 0.01 * SAMPLE_RATE


def test_without_quiet_before_it_or_a_louder_window_the_onset_is_the_first_voiced_frame():
    audio = tone_after_noise(0.0)
    assert speech_onset(audio, 100) == 100          # nothing before to measure the noise on
    noise = tone_after_noise(2.0)                   # noise only: nothing louder than it
    assert speech_onset(noise, 8000) == 8000


def test_partials_come_from_the_low_latency_streamer_and_restart_with_each_utterance(transcriber, talk):
    audio, _ = talk
    events = run(live_streamer(transcriber), audio)
    partials = [event for event in events if not event.final]
    assert partials and all(event.start_s <= event.end_s <= len(audio) / SAMPLE_RATE for event in partials)
    stream = live_streamer(transcriber)
    run(stream, audio[:round(0.5 * SAMPLE_RATE)])  # quiet only: no utterance, nothing kept but the pre-roll
    assert stream.utterances == [] or all(end - start < 0.5 * SAMPLE_RATE for start, end in stream.utterances)


class Counting:
    """A transcriber that records the length of every input it encodes."""

    def __init__(self, transcriber):
        self.transcriber, self.lengths = transcriber, []

    def log_probs(self, audio):
        self.lengths.append(len(audio))
        return self.transcriber.log_probs(audio)

    def __getattr__(self, name):
        return getattr(self.transcriber, name)


@pytest.mark.parametrize("use_lm", [True, False])
def test_redecoded_partials_are_the_decode_of_the_utterance_so_far_in_whole_syllables(transcriber, talk, use_lm):
    audio, _ = talk
    counting = Counting(transcriber)
    stream = live_streamer(counting, use_lm=use_lm)
    assert stream.partials is None
    events = run(stream, audio)
    partials = [event for event in events if not event.final and event.text]
    assert partials
    for event in partials:
        heard = audio[round(event.start_s * SAMPLE_RATE):round(event.end_s * SAMPLE_RATE)]
        assert event.text == whole_syllables(transcriber.transcribe(heard, use_lm))
        assert not LONE_JAMO.search(event.text)
    # re-decodes read at most REDECODES.rate times the audio (each also its onset search and pre-roll)
    finals = len(stream.utterances)
    redecoded = sum(counting.lengths) - sum(end - start for start, end in stream.utterances)
    slack = (len(counting.lengths) - finals) * (ONSET_SEARCH_S * SAMPLE_RATE + stream.pre_roll)
    assert redecoded <= REDECODES.rate * len(audio) + slack
    assert len(counting.lengths) - finals <= len(audio) / (REDECODES.every_s * SAMPLE_RATE)


def test_redecodes_are_due_every_period_or_a_share_of_the_utterance():
    assert REDECODES == Redecodes(0.1, 40.0)
    tenths = Redecodes(0.2, 10.0)
    assert tenths.due(0.2, 1.0) and not tenths.due(0.1, 1.0)
    assert not tenths.due(0.25, 3.0) and tenths.due(0.3, 3.0)  # past 2 s: every tenth of the length
    uncapped = Redecodes(0.1, float("inf"))
    assert uncapped.due(0.1, 100.0) and not uncapped.due(0.05, 100.0)


def test_a_long_utterance_is_redecoded_less_often(transcriber, talk):
    audio, _ = talk
    counting = Counting(transcriber)
    stream = live_streamer(counting, redecodes=Redecodes(0.1, 10.0), max_s=30.0, hangover_s=5.0)  # the whole talk: one utterance
    run(stream, audio)
    assert len(stream.utterances) == 1
    redecodes = counting.lengths[:-1]
    # every re-decode waits for a tenth of the utterance so far: far fewer than one per 0.1 s
    assert len(redecodes) < 0.5 * len(audio) / (0.1 * SAMPLE_RATE)
    assert all(later > earlier for earlier, later in itertools.pairwise(redecodes))


def test_partials_choose_between_redecodes_and_the_low_latency_streamer(transcriber, talk):
    assert isinstance(live_streamer(transcriber, partials="companion").partials, CTCStream)  # no companion: chunks
    with pytest.raises(ValueError, match="partials"):
        live_streamer(transcriber, partials="sometimes")


def test_endpointer_closes_after_the_hangover():
    endpointer = Endpointer(hangover_s=0.3, max_s=10.0)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    closed = endpointer.feed(np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), tone,
                                             np.zeros(SAMPLE_RATE, np.float32)]))
    assert len(closed) == 1
    start, end = closed[0]
    assert 0.4 * SAMPLE_RATE <= start <= 0.7 * SAMPLE_RATE
    # the hangover after the detector's own (about 0.15 s at mode 2)
    assert (1.5 + 0.3) * SAMPLE_RATE - 480 <= end <= (1.5 + 0.3 + 0.25) * SAMPLE_RATE
    assert endpointer.close(3 * SAMPLE_RATE) == []


def test_faint_noise_is_never_speech_and_an_open_utterance_closes_at_the_end():
    endpointer = Endpointer()
    noise = (1e-3 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    assert endpointer.feed(noise) == [] and endpointer.start is None
    speech = load_audio(ROOT / "audio_example" / "clean.wav")
    assert endpointer.feed(speech[:SAMPLE_RATE]) == [] and endpointer.start is not None
    [(start, end)] = endpointer.close(3 * SAMPLE_RATE)
    assert 2 * SAMPLE_RATE - VAD_FRAME <= start < 3 * SAMPLE_RATE and end == 3 * SAMPLE_RATE  # a frame may straddle
    assert endpointer.start is None and endpointer.close(4 * SAMPLE_RATE) == []


@pytest.fixture(scope="module")
def pair(tmp_path_factory, char_nemo):
    """A full-context model with a cache-aware companion beside it (``NAME_streaming.nemo``)."""
    from nemo.collections.asr.models import EncDecCTCModel

    folder = tmp_path_factory.mktemp("pair")
    shutil.copy(char_nemo, folder / "asr.nemo")
    torch.manual_seed(1)
    EncDecCTCModel(cfg=cache_aware_config()).save_to(str(folder / "asr_streaming.nemo"))
    return folder


def test_load_transcriber_finds_the_companion_and_streams_in_the_live_mode_by_default(pair, talk):
    full = load_transcriber(pair / "asr.nemo")
    assert full.companion is not None and full.companion.cache_aware
    stream = full.streamer()
    assert isinstance(stream, LiveModeStream) and stream.partials is None  # partials: full-context re-decodes
    assert isinstance(live_streamer(full, full.companion, partials="companion").partials, CacheAwareStream)
    audio, _ = talk
    events = list(full.stream(chunks(audio, 0.1)))
    run(stream, audio)
    offline = [offline_decode(full, audio[start:end]) for start, end in stream.utterances]
    assert [event.text for event in events if event.final] == [text for text in offline if text]
    # a given buffered setting, or cache_aware, asks for that streamer, as before
    assert isinstance(full.streamer(config=stream_config()), CTCStream)
    assert isinstance(full.streamer(cache_aware=False), CTCStream)


def test_a_whole_file_has_a_live_streams_finals_with_partials_once_a_second(pair, talk):
    full = load_transcriber(pair / "asr.nemo")
    audio, _ = talk
    live = LiveStream(full)
    streamed = [event for chunk in chunks(audio, 0.1) for event in live.feed(chunk)] + live.finish()
    whole = LiveStream.for_file(audio, full)
    from_file = [event for _, new in whole.run(audio) for event in new]
    finals = [event.text for event in streamed if event.final]
    assert finals and [event.text for event in from_file if event.final] == finals
    assert live._recogniser.redecodes == REDECODES and whole._recogniser.redecodes == FILE_REDECODES == Redecodes(1, 10)


def stream_config():
    from workbench.asr.stream import StreamConfig

    return StreamConfig(0.5, 1.0, 0.2)


def test_without_a_companion_the_model_streams_as_before(pair, char_nemo):
    assert isinstance(load_transcriber(pair / "asr.nemo", live=False).streamer(), CTCStream)
    assert isinstance(load_transcriber(char_nemo).streamer(), CTCStream)  # a single .nemo
    chosen = load_transcriber(char_nemo, live=pair / "asr_streaming.nemo")
    assert isinstance(chosen.streamer(), LiveModeStream)


def test_a_companion_that_cannot_stream_cache_aware_is_one_clear_error(pair, char_nemo):
    with pytest.raises(CheckpointError, match="not trained for cache-aware"):
        load_transcriber(pair / "asr.nemo", live=char_nemo)
    with pytest.raises(CheckpointError, match="not found"):
        load_transcriber(pair / "asr.nemo", live=pair / "missing.nemo")


def test_transcribe_streams_in_the_live_mode_unless_told_none(pair, talk, tmp_path, capsys):
    import json

    import soundfile

    from workbench.__main__ import main
    from workbench.asr.stream import StreamConfig

    audio, _ = talk
    wav = tmp_path / "talk.wav"
    soundfile.write(wav, audio, SAMPLE_RATE)
    audio = load_audio(wav)  # as the command reads it

    def finals(*options):
        assert main(["transcribe", str(wav), "--json", "--dry", "1", "--asr", str(pair / "asr.nemo"), *options]) == 0
        return [event["text"] for event in map(json.loads, capsys.readouterr().out.splitlines()) if event["final"]]

    full = load_transcriber(pair / "asr.nemo")
    assert finals() == [event.text for event in run(full.streamer(), audio) if event.final]
    buffered = [event.text for event in run(full.streamer(StreamConfig()), audio) if event.final]
    assert finals("--live", "none") == buffered
    assert finals("--chunk-s", "1") == buffered  # a buffered size asks for buffered streaming
    assert buffered != [event.text for event in run(full.streamer(), audio) if event.final]  # the modes differ
