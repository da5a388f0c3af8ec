import itertools

import numpy as np
import pytest
import soundfile
from models import speechlike

from workbench import teaching
from workbench.asr.ctc import collapse
from workbench.asr.stream import StreamConfig


def test_token_spans_are_runs_of_one_non_blank_label():
    blank = 9
    path = [9, 1, 1, 9, 1, 2, 2, 9, 9, 3]
    assert teaching.token_spans(path, blank) == [(1, 1, 3), (1, 4, 5), (2, 5, 7), (3, 9, 10)]
    assert [label for label, _, _ in teaching.token_spans(path, blank)] == collapse(path, blank)
    assert teaching.token_spans([blank] * 4, blank) == []


def test_posteriorgram_rows_are_blank_then_tokens_by_peak(transcriber):
    log_probs = transcriber.log_probs(speechlike(2.0))
    gram = teaching.posteriorgram(transcriber, log_probs, top=5)
    assert gram.ids[0] == transcriber.blank and gram.labels[0] == teaching.BLANK_LABEL
    assert gram.probs.shape == (6, len(log_probs)) and len(gram.times) == len(log_probs)
    np.testing.assert_allclose(gram.probs, np.exp(log_probs[:, gram.ids]).T, rtol=1e-6)
    peaks = gram.probs[1:].max(axis=1)
    assert np.all(np.diff(peaks) <= 0)
    others = np.delete(np.exp(log_probs), gram.ids, axis=1)
    assert others.max() <= peaks.min() + 1e-9
    assert gram.times[1] == pytest.approx(transcriber.frame_s)
    fixed = teaching.posteriorgram(transcriber, log_probs[:10], ids=gram.ids)
    assert fixed.ids == gram.ids and fixed.probs.shape == (6, 10)


def test_alignment_spans_give_the_offline_transcript(transcriber):
    log_probs = transcriber.log_probs(speechlike(3.0, seed=1))
    align = teaching.alignment(transcriber, log_probs)
    assert align.text == transcriber.transcribe(speechlike(3.0, seed=1))
    ids = [token.ids[0] for token in align.tokens]
    assert ids == collapse(align.path, transcriber.blank)
    for token in align.tokens:
        assert 0 <= token.start < token.end <= len(align.path)
        assert set(align.path[token.start:token.end]) == {token.ids[0]}
        assert token.start_s == pytest.approx(token.start * transcriber.frame_s)
    words = "".join(word.text for word in align.words)
    assert words == align.text.replace(" ", "")
    assert len(align.path_labels) == len(align.path)


def test_merging_repeats_goes_by_label_id_not_by_the_label_shown(transcriber):
    """Initial ᄀ and final ᆨ both show as ㄱ; side by side in the path they are two tokens
    (as in 국가), so merging repeats keeps both."""
    labels = list(transcriber.model.decoder.vocabulary)
    initial, final = labels.index("\u1100"), labels.index("\u11a8")
    path = [transcriber.blank, final, final, initial, transcriber.blank, initial]
    log_probs = np.log(np.full((len(path), transcriber.blank + 1), 1e-3))
    log_probs[np.arange(len(path)), path] = 0.0
    align = teaching.alignment(transcriber, log_probs)
    assert align.merged_labels == [teaching.BLANK_LABEL, "ㄱ", "ㄱ", teaching.BLANK_LABEL, "ㄱ"]
    assert align.kept_labels == ["ㄱ", "ㄱ", "ㄱ"] and len(align.kept_labels) == len(collapse(path, transcriber.blank))


@pytest.mark.parametrize("chunk_s, left_s, right_s", [(1.0, 2.0, 0.5), (0.4, 0.4, 0.0)])
def test_stream_steps_reproduce_the_stream(transcriber, chunk_s, left_s, right_s):
    audio = speechlike(3.3, seed=2)
    config = StreamConfig(chunk_s, left_s, right_s)
    steps = teaching.stream_steps(transcriber, audio, config)
    stream = transcriber.streamer(config)
    finals = [e.text for e in transcriber.stream([audio], config=config) if e.final]
    assert steps[-1].hypothesis.replace(" ", "") == "".join(finals).replace(" ", "")
    assert steps[0].start == 0 and steps[-1].end == len(audio)
    for before, after in itertools.pairwise(steps):
        assert after.start == before.end == before.start + stream.chunk
    for step in steps[:-1]:
        assert step.context_start == max(0, step.start - stream.left)
        assert step.wait_s == pytest.approx(min(stream.chunk + stream.right, len(audio) - step.start) / 16000)
    path = np.concatenate([step.path for step in steps])
    assert transcriber.text(collapse(path, transcriber.blank)) == steps[-1].hypothesis


@pytest.fixture(scope="module")
def view_options(tmp_path_factory, demucs_files, char_nemo):
    folder = tmp_path_factory.mktemp("examples")
    for name, seed in (("one", 0), ("two", 1)):
        soundfile.write(folder / f"{name}.wav", speechlike(2.0, seed), 16000)
    _, paths = demucs_files
    return {"examples": {p.stem: p for p in sorted(folder.glob("*.wav"))},
                "denoiser": paths["package"], "asr": char_nemo}


def test_views_draw_and_follow_their_controls(view_options):
    from workbench.widgets.ctc_views import AlignmentView, PosteriorgramView, StreamingView

    gram = PosteriorgramView(**view_options)
    first = bytes(gram.image.value)
    assert first.startswith(b"\x89PNG")
    gram.dry.value = 1.0
    assert bytes(gram.image.value) != first

    align = AlignmentView(**view_options)
    assert bytes(align.image.value).startswith(b"\x89PNG") and "merge repeats" in align.steps.value
    assert align.words.children
    align.words.children[0].click()
    assert bytes(align.player.value).startswith(b"RIFF") and align.player.loop is False

    stream = StreamingView(StreamConfig(chunk_s=0.48, left_s=0.48, right_s=0.24), **view_options)
    assert stream.step.max == 4  # 2 s in chunks of 0.48 s
    stream.step.value = 2
    assert "step 3" in stream.text.value and stream.text.value.count("step") == 3
    stream.chunk_s.value = 0.96
    assert stream.step.max == 2


def test_views_show_one_message_when_models_are_missing(view_options, tmp_path):
    from workbench.widgets.ctc_views import alignment_panel, posteriorgram_panel, streaming_panel

    missing = {**view_options, "asr": tmp_path / "none.nemo"}
    for panel in (posteriorgram_panel, alignment_panel, streaming_panel):
        assert "none.nemo" in panel(**missing).value
    assert "no example recordings" in posteriorgram_panel(**{**view_options, "examples": {}}).value
    (tmp_path / "text.wav").write_text("not audio")
    view = alignment_panel(**{**view_options, "examples": {"bad": tmp_path / "text.wav", **view_options["examples"]}})
    assert "cannot decode" in view.notice.value
    view.example.value = "one"
    assert view.notice.value == "" and view.words.children


# -- how the teaching figures read on screen ------------------------------------------------------
SCREEN_PX = 800  # a narrow notebook output area: the PNG is shown at most this wide
MIN_TEXT_PX = 11


def drawn_texts(view):
    """(text, size in screen px, rotation) of every non-empty text in ``view``'s figure, drawn as the view draws it."""
    from matplotlib import rc_context
    from matplotlib.text import Text

    from workbench.figures import png, style
    from workbench.widgets.ctc_views import TEACHING_STYLE

    with rc_context({**style(), **TEACHING_STYLE}):
        figure = view.figure()
        png(figure)
    scale = SCREEN_PX / (figure.get_figwidth() * 90)  # png() draws at 90 dpi
    axis_labels = {axes.yaxis.label for axes in figure.axes}
    return [(text.get_text(), text.get_fontsize() * 90 / 72 * scale, text.get_rotation())
            for text in figure.findobj(Text)
            if text.get_visible() and text.get_text().strip() and text not in axis_labels]


def test_figure_text_is_horizontal_and_legible_at_a_narrow_width(view_options):
    from workbench.widgets.ctc_views import AlignmentView, PosteriorgramView, StreamingView

    views = [PosteriorgramView(**view_options), AlignmentView(**view_options), StreamingView(**view_options)]
    for view in views:
        texts = drawn_texts(view)
        assert texts
        for text, size, rotation in texts:
            assert size >= MIN_TEXT_PX and rotation == 0, (type(view).__name__, text, size, rotation)
    assert teaching.BLANK_LABEL in {text for text, _, _ in drawn_texts(views[0])}  # row labels are checked too


def test_token_labels_take_the_first_row_where_they_do_not_overlap():
    from workbench.widgets.ctc_views import label_rows

    def span(text, start, end):
        return teaching.Span(text, 0, 0, start, end, ())

    spans = [span("ㄱ", 0.0, 0.04), span("ㅏ", 0.04, 0.08), span("ㄴ", 0.08, 0.12), span("ㅇ", 1.0, 1.04)]
    assert label_rows(spans, width_s=0.1) == [0, 1, 2, 0]  # three crowded letters, then room again
    assert label_rows(spans, width_s=0.01) == [0, 0, 0, 0]
    assert label_rows(spans[:3] * 2, width_s=1.0, rows=2)[2] in (0, 1)  # full rows: still one of them


def test_the_stepper_draws_no_empty_step(view_options, tmp_path):
    from workbench.widgets.ctc_views import StreamingView

    config = StreamConfig(chunk_s=0.48, left_s=0.48, right_s=0.0)  # 0.48 s: whole frames
    audio = speechlike(4 * 0.48, seed=3)
    path = tmp_path / "sliver.wav"
    soundfile.write(path, np.concatenate([audio, audio[:10]]), 16000)  # 4 chunks and 10 samples: a last sliver
    view = StreamingView(config, **{**view_options, "examples": {"sliver": path}})
    stepped = teaching.stream_steps(view.transcriber, view.signals()[1], config)
    assert stepped[-1].end - stepped[-1].start == 10 and not stepped[-1].new_text  # the stream decodes the sliver
    shown = view.steps()
    assert stepped[-1] not in shown and len(shown) == 4  # ... the stepper does not show it
    for step in shown:
        assert step.end - step.start >= view.transcriber.frame_samples or step.new_text
    view.step.value = view.step.max
    last = len(shown)
    assert any(text.startswith(f"step {last}/{last}: chunk") for text, _, _ in drawn_texts(view))
    if stepped[-1] not in shown:
        assert "last 1 ms" in view.text.value and len(shown) == 4 and "not drawn" in view.text.value
