"""Cache-aware streaming: incremental features and encoder steps equal the offline pass."""
import itertools

import numpy as np
import pytest
import soundfile
import torch
from models import TINY_CONFORMER, speechlike

from workbench import load_transcriber, teaching
from workbench.asr import CTCStream
from workbench.asr.cache_aware import CacheAwareStream, LogMelStream, trained_for_cache_aware
from workbench.asr.config import JAMO_LABELS, conformer_ctc_config
from workbench.asr.lm import LabelLM
from workbench.asr.stream import StreamConfig, TextEvents
from workbench.train.lm import label_ids

# Streamed and offline posteriors are the same sums in float32 over differently shaped
# tensors (a chunk vs the whole utterance), which moves them by about 1e-6. A frame read from
# the wrong place (cache, subsampling history, feature window) moves them by 1e-3 or more.
TOLERANCE = 1e-4


def cache_aware_config(**encoder):
    config = conformer_ctc_config(JAMO_LABELS, **TINY_CONFORMER)
    config.encoder.update({"att_context_size": [14, 6], "att_context_style": "chunked_limited",
                           "conv_context_size": "causal", "causal_downsampling": True, **encoder})
    return config


@pytest.fixture(scope="module")
def cache_aware_nemo(tmp_path_factory):
    from nemo.collections.asr.models import EncDecCTCModel

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("cache_aware") / "ca.nemo"
    EncDecCTCModel(cfg=cache_aware_config()).save_to(str(path))
    return path


@pytest.fixture(scope="module")
def cache_aware(cache_aware_nemo):
    return load_transcriber(cache_aware_nemo)


def streamed_log_probs(transcriber, audio, feed):
    """Every step's log-probabilities, as the streamer hands them to its search."""
    streamer = transcriber.streamer(use_lm=False)
    steps, push = [], streamer.text_events.push
    streamer.text_events.push = lambda scores: steps.append(scores) or push(scores)
    for start in range(0, len(audio), feed):
        streamer.feed(audio[start:start + feed])
    streamer.flush()
    return steps


@pytest.mark.parametrize("seconds", [0.13, 1.0, 3.37])
def test_features_equal_the_preprocessor_on_the_whole_signal(cache_aware, seconds):
    audio = speechlike(seconds, seed=2)
    preprocessor = cache_aware.model.preprocessor
    features = LogMelStream(preprocessor)
    pieces = [features.feed(piece) for piece in np.array_split(audio, 11)] + [features.flush()]
    offline, length = preprocessor(input_signal=torch.from_numpy(audio)[None], length=torch.tensor([len(audio)]))
    assert torch.cat(pieces, dim=1).numpy() == pytest.approx(offline[0, :, :int(length[0])].numpy(), abs=1e-5)


@pytest.mark.parametrize("feed", [37, 160, 1123, 4480, 16000, 10**6])
def test_streamed_log_probs_equal_offline(cache_aware, feed):
    audio = speechlike(3.37, seed=7)  # 337 feature frames: 12 steps of 28 (first 25), the last one short
    steps = streamed_log_probs(cache_aware, audio, feed)
    offline = cache_aware.log_probs(audio)
    assert [len(s) for s in steps[:-1]] == [7] * (len(steps) - 1)  # one chunk of 7 output frames per step
    streamed = np.concatenate(steps)
    assert streamed.shape == offline.shape
    assert np.abs(streamed - offline).max() < TOLERANCE


def test_streams_sharing_a_model_keep_their_own_state(cache_aware):
    one, two = speechlike(2.0, seed=11), speechlike(2.0, seed=12)
    streams = [cache_aware.streamer(use_lm=False) for _ in range(2)]
    steps = [[], []]
    for stream, seen in zip(streams, steps):
        push = stream.text_events.push
        stream.text_events.push = lambda scores, seen=seen, push=push: seen.append(scores) or push(scores)
    for start in range(0, len(one), 800):  # interleaved feeds
        for stream, audio in zip(streams, (one, two)):
            stream.feed(audio[start:start + 800])
    for stream in streams:
        stream.flush()
    for seen, audio in zip(steps, (one, two)):
        assert np.abs(np.concatenate(seen) - cache_aware.log_probs(audio)).max() < TOLERANCE


def test_every_frame_is_encoded_once(cache_aware, monkeypatch):
    sizes, step = [], cache_aware.model.encoder.cache_aware_stream_step
    monkeypatch.setattr(cache_aware.model.encoder, "cache_aware_stream_step",
                        lambda processed_signal, **kw: sizes.append(processed_signal.shape[2]) or step(
                            processed_signal=processed_signal, **kw))
    for _ in cache_aware.stream(np.array_split(speechlike(10.0), 100), use_lm=False):
        pass
    assert sizes[0] == 25 and set(sizes[1:-1]) == {5 + 28}  # 5 frames of subsampling history
    assert sum(sizes) - 5 * (len(sizes) - 1) == 1000


@pytest.mark.parametrize("use_lm", [False, True])
def test_events_equal_decoding_the_offline_log_probs(cache_aware, use_lm):
    cache_aware.lm = LabelLM.train([label_ids(s, JAMO_LABELS) for s in ["안녕 하세요", "하나 둘 셋"] * 3],
                                   JAMO_LABELS, order=3)
    audio = speechlike(6.0, seed=5)
    streamer = cache_aware.streamer(endpoint_s=0.16, use_lm=use_lm)
    seen, events = 0, []
    for piece in np.array_split(audio, 60):
        new = streamer.feed(piece)
        seen += len(piece)
        for event in new:  # text never lags the audio by more than one chunk and half a window
            assert seen / 16000 - event.end_s <= streamer.latency_s + 1e-6
        events += new
    events += streamer.flush()
    assert streamer.latency_s == pytest.approx(0.28 + 0.0125)
    assert streamer.decoded_s == pytest.approx(6.0)
    reference = TextEvents(cache_aware, endpoint_s=0.16, use_lm=use_lm)
    offline = reference.push(cache_aware.log_probs(audio)) + reference.close()
    finals = [e for e in events if e.final]
    assert finals and finals == [e for e in offline if e.final]
    for event in events:
        assert 0 <= event.start_s <= event.end_s <= 6.0 + cache_aware.frame_s
    cache_aware.lm = None


def test_text_is_updated_every_chunk(cache_aware):
    streamer = cache_aware.streamer(use_lm=False, endpoint_s=100.0)
    steps, events, hypotheses, push = [], [], [], streamer.text_events.push

    def step(scores):
        steps.append(len(events))
        new = push(scores)
        hypotheses.append(tuple(streamer.text_events.segmenter.segment.tokens))
        return new

    streamer.text_events.push = step
    for piece in np.array_split(speechlike(4.0, seed=9), 400):  # 10 ms each
        events.append(streamer.feed(piece))
    # the first step needs 25 feature frames and 200 samples more, then one every 28 frames (0.28 s)
    assert steps == [25 + 28 * k for k in range(14)]
    assert all(not e.final for new in events for e in new)
    assert {i for i, new in enumerate(events) if new} <= set(steps)  # a partial when a step changed the text
    # the hypothesis grows step by step (the random model's lone jamo are held back from partials)
    assert len(set(hypotheses)) > 3


def test_choice_follows_the_model_config(cache_aware, transcriber):
    assert cache_aware.cache_aware and not transcriber.cache_aware
    assert isinstance(cache_aware.streamer(), CacheAwareStream)
    assert isinstance(transcriber.streamer(), CTCStream)
    assert isinstance(cache_aware.streamer(StreamConfig(chunk_s=0.64), cache_aware=False), CTCStream)
    with pytest.raises(ValueError, match="not trained for cache-aware streaming"):
        transcriber.streamer(cache_aware=True)


@pytest.mark.parametrize("change", [{"att_context_style": "regular"}, {"conv_context_size": None},
                                    {"causal_downsampling": False}])
def test_models_not_trained_for_it_stream_buffered(change):
    from nemo.collections.asr.models import EncDecCTCModel

    assert trained_for_cache_aware(EncDecCTCModel(cfg=cache_aware_config()))
    assert not trained_for_cache_aware(EncDecCTCModel(cfg=cache_aware_config(**change)))


def test_per_utterance_normalisation_is_not_streamed_cache_aware():
    from nemo.collections.asr.models import EncDecCTCModel

    config = cache_aware_config()
    config.preprocessor.normalize = "per_feature"
    assert not trained_for_cache_aware(EncDecCTCModel(cfg=config))


def test_teaching_steps_observe_the_stream(cache_aware):
    audio = speechlike(3.3, seed=2)
    steps = teaching.cache_aware_steps(cache_aware, audio)
    finals = [e.text for e in cache_aware.stream([audio], use_lm=False) if e.final]
    assert steps[-1].hypothesis == " ".join(finals)
    assert steps[0].start == 0 and steps[-1].end == len(audio)
    for before, after in itertools.pairwise(steps):
        assert after.start == before.end == before.start + 7 * cache_aware.frame_samples
        assert after.context_start == max(0, after.start - 14 * cache_aware.frame_samples)
    assert all(0 < step.wait_s <= cache_aware.streamer().latency_s for step in steps)


def test_streaming_view_shows_the_cache_aware_row(tmp_path, demucs_files, cache_aware_nemo, char_nemo):
    from workbench.widgets.ctc_views import StreamingView

    soundfile.write(tmp_path / "one.wav", speechlike(2.0, 3), 16000)
    options = {"examples": {"one": tmp_path / "one.wav"}, "denoiser": demucs_files[1]["package"]}
    view = StreamingView(asr=cache_aware_nemo, **options)
    assert bytes(view.image.value).startswith(b"\x89PNG") and "cache-aware at" in view.text.value
    view.step.value = view.step.max
    assert view.text.value.count("cache-aware at") == 1
    assert "cache-aware" not in StreamingView(asr=char_nemo, **options).text.value
