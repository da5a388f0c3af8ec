import argparse
import json
import threading

import numpy as np
import pandas as pd
import pytest
import soundfile
from models import speechlike
from test_live_mode import pair  # noqa: F401 - a fixture: a model with a cache-aware companion

from workbench import load_audio, tuning
from workbench.__main__ import add_evaluate_arguments, run_evaluate
from workbench.asr.stream import StreamConfig
from workbench.audio import chunks
from workbench.errors import WorkbenchError
from workbench.metrics import cer, wer

REFERENCES = ["안녕하세요 반갑습니다", "커피 한 잔 주세요", "지하철 역이 어디에 있나요"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of wav + txt pairs and a manifest of the same files (relative paths)."""
    folder = tmp_path_factory.mktemp("corpus")
    for number, text in enumerate(REFERENCES):
        soundfile.write(folder / f"utt{number}.wav", speechlike(1.5 + 0.5 * number, seed=number), 16000)
        (folder / f"utt{number}.txt").write_text(text + "\n", encoding="utf-8")
    manifest = folder / "manifest.json"
    manifest.write_text("\n".join(json.dumps({"audio_filepath": f"utt{n}.wav", "text": t, "duration": 1.0},
                                             ensure_ascii=False) for n, t in enumerate(REFERENCES)) + "\n",
                        encoding="utf-8")
    return folder, manifest


@pytest.fixture(scope="module")
def models(demucs_files, char_nemo):
    _, paths = demucs_files
    return {"denoiser": str(paths["package"]), "asr": str(char_nemo)}


def test_folder_and_manifest_list_the_same_items(corpus, tmp_path):
    folder, manifest = corpus
    assert tuning.read_items(folder) == tuning.read_items(manifest)
    assert [item.text for item in tuning.read_items(folder)] == REFERENCES
    bad = tmp_path / "bad.json"
    bad.write_text('{"audio_filepath": "a.wav", "text": "가"}\n{"audio": "b.wav"}\n', encoding="utf-8")
    with pytest.raises(WorkbenchError, match="bad.json:2"):
        tuning.read_items(bad)
    with pytest.raises(WorkbenchError, match="no .wav file"):
        tuning.read_items(tmp_path)


def test_grid_rows_match_direct_decoding(corpus, models, transcriber, demucs_files):
    folder, _ = corpus
    stream = StreamConfig(0.4, 0.8, 0.2)
    arrived = []
    results = tuning.evaluate(folder, [0.0, 0.5, 1.0], [None, stream], workers=0, on_rows=arrived.append,
                              progress=False, **models)
    assert list(results.columns) == tuning.COLUMNS
    assert len(results) == 3 * 3 * 2 and len(arrived) == 3
    item = tuning.read_items(folder)[1]
    audio = load_audio(item.audio)
    rows = results[results.file == item.audio].set_index(["decoding", "dry"])
    raw = rows.loc[("offline", 1.0)]
    assert raw.hypothesis == transcriber.transcribe(audio)
    assert raw.cer == pytest.approx(cer(item.text, raw.hypothesis))
    assert raw.wer == pytest.approx(wer(item.text, raw.hypothesis))
    from workbench.models import load_models

    denoiser, _ = load_models(models["denoiser"], models["asr"], "cpu")
    half = denoiser.enhance(audio, 0.5)
    assert rows.loc[("offline", 0.5)].hypothesis == transcriber.transcribe(half)
    finals = [e.text for e in transcriber.stream(chunks(tuning.with_tail(half), 0.4), config=stream) if e.final]
    assert rows.loc[("stream", 0.5)].hypothesis == " ".join(finals)
    assert rows.loc[("stream", 0.5)].chunk_s == 0.4


def test_stream_grid_is_every_combination_and_refuses_impossible_sizes():
    assert tuning.streams_from() == [None]
    assert tuning.streams_from([0.5, 1.0], None, [0.0]) == [StreamConfig(0.5, 2.0, 0.0), StreamConfig(1.0, 2.0, 0.0)]
    for sizes in ([0.0], None, None), (None, [-1.0], None), (None, None, [float("nan")]):
        with pytest.raises(WorkbenchError, match="expected a finite number of seconds"):
            tuning.streams_from(*sizes)


def test_summary_pools_edits_and_best_takes_the_lowest_cer():
    rows = [{"file": f, "decoding": "offline", "chunk_s": float("nan"), "left_s": float("nan"),
             "right_s": float("nan"), "dry": dry, "reference": "", "hypothesis": "", "cer": 0.0, "wer": 0.0,
             "ref_chars": chars, "ref_words": 2, "char_edits": edits, "word_edits": 1, "audio_s": 1.0}
            for f, dry, chars, edits in [("a", 0.0, 10, 5), ("b", 0.0, 30, 3), ("a", 0.5, 10, 1), ("b", 0.5, 30, 6)]]
    summary = tuning.summarize(tuning.table(rows))
    assert summary.set_index("dry").cer.to_dict() == pytest.approx({0.0: 8 / 40, 0.5: 7 / 40})
    assert list(summary.files) == [2, 2]
    assert tuning.best(summary).dry == 0.5


def test_cancel_returns_the_files_finished_so_far(corpus, models):
    folder, _ = corpus
    cancel = threading.Event()
    results = tuning.evaluate(folder, [1.0], workers=0, on_rows=lambda rows: cancel.set(), cancel=cancel,
                              progress=False, **models)
    assert 1 <= results.file.nunique() < len(REFERENCES)


def test_missing_model_is_one_clear_error(corpus, models, tmp_path):
    with pytest.raises(WorkbenchError, match="ASR model not found"):
        tuning.evaluate(corpus[0], [0.5], workers=0, **{**models, "asr": str(tmp_path / "x.nemo")})
    with pytest.raises(WorkbenchError, match="between 0 and 1"):
        tuning.evaluate(corpus[0], [1.5], workers=0, **models)


def test_unreadable_files_are_reported_in_the_table_and_the_run_goes_on(corpus, models, tmp_path, capsys):
    folder, _ = corpus
    (tmp_path / "text.wav").write_text("not audio")
    manifest = tmp_path / "manifest.json"
    rows = [{"audio_filepath": str(folder / "utt0.wav"), "text": REFERENCES[0]},
            {"audio_filepath": "gone.wav", "text": "가"}, {"audio_filepath": "text.wav", "text": "나"}]
    manifest.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    results = tuning.evaluate(manifest, [0.0, 1.0], workers=0, progress=False, **models)
    errors = results.set_index("file").error
    assert errors[str(tmp_path / "gone.wav")].str.contains("not found").all()
    assert errors[str(tmp_path / "text.wav")].str.contains("cannot decode").all()
    assert errors[str(folder / "utt0.wav")].isna().all()
    summary = tuning.summarize(results)
    assert list(summary.files) == [1, 1] and list(summary.failed) == [2, 2]
    ok = results[results.error.isna()]
    assert list(summary.cer) == pytest.approx(list(ok.char_edits / ok.ref_chars))

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    common = ["--dry", "1", "--workers", "0", "--denoiser", models["denoiser"], "--asr", models["asr"]]
    assert run_evaluate(parser.parse_args([str(manifest), *common])) == 0
    printed = capsys.readouterr()
    assert "best dry: 1" in printed.out and printed.err.count("skipped ") == 2
    only_bad = tmp_path / "bad.json"
    only_bad.write_text(json.dumps(rows[1]), encoding="utf-8")
    assert run_evaluate(parser.parse_args([str(only_bad), *common])) == 2
    assert capsys.readouterr().err.strip().endswith(f"no file of {only_bad} could be read")


def test_command_line_writes_csv_and_names_the_best_dry(corpus, models, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    out = tmp_path / "results.csv"
    plot = tmp_path / "cer.png"
    args = parser.parse_args([str(corpus[1]), "--dry", "0,1", "--out", str(out), "--workers", "0",
                              "--denoiser", models["denoiser"], "--asr", models["asr"], "--plot", str(plot)])
    assert run_evaluate(args) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")
    table = pd.read_csv(out)
    assert len(table) == 6 and set(table.dry) == {0.0, 1.0}
    printed = capsys.readouterr().out
    best = tuning.best(tuning.summarize(table))
    assert f"best dry: {best.dry:g}" in printed
    missing = parser.parse_args([str(tmp_path / "none.json")])
    assert run_evaluate(missing) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: evaluation set not found") and "\n" not in error


def test_streams_carry_latency_columns_and_the_live_mode_is_a_decoding(corpus, models, pair, capsys,  # noqa: F811
                                                                       tmp_path):
    from workbench.models import load_models

    folder, _ = corpus
    asr = str(pair / "asr.nemo")
    assert tuning.has_live_mode(asr) and not tuning.has_live_mode(asr, False)
    assert not tuning.has_live_mode(models["asr"]) and tuning.has_live_mode(models["asr"], asr)
    assert tuning.streams_from(live=True) == [None, tuning.LIVE, tuning.CACHE_AWARE]
    assert tuning.streams_from([0.4], live=True, cache_aware=False) == [tuning.LIVE, StreamConfig(0.4)]
    results = tuning.evaluate(folder, [1.0], [None, tuning.LIVE, StreamConfig(0.4, 0.8, 0.2)], workers=0,
                              progress=False, denoiser=models["denoiser"], asr=asr)
    offline, streamed = results[results.decoding == "offline"], results[results.decoding != "offline"]
    assert offline[["lags_s", "emits_s", "revisions", "compute_s"]].isna().all().all()
    assert (streamed.compute_s > 0).all() and streamed.lags_s.notna().any()
    item = tuning.read_items(folder)[0]
    _, transcriber = load_models(None, asr, "cpu", True, False, True)
    audio = tuning.with_tail(load_audio(item.audio))
    assert len(audio) == len(load_audio(item.audio)) + 2 * 16000 and abs(audio[-16000:]).max() < 0.01
    finals = [event.text for event in transcriber.stream(chunks(audio, 0.1)) if event.final]
    assert results.set_index(["file", "decoding"]).loc[(item.audio, "live")].hypothesis == " ".join(finals)

    summary = tuning.summarize(results).set_index("decoding")
    assert summary.loc["offline", ["lag_p50_s", "lag_p95_s", "revisions_per_min", "rtf"]].isna().all()
    live = results[results.decoding == "live"]
    lags = [float(value) for cell in live.lags_s.dropna() for value in cell.split()]
    assert lags and summary.loc["live", "lag_p95_s"] == pytest.approx(np.percentile(lags, 95), abs=1e-3)
    assert summary.loc["live", "revisions_per_min"] == pytest.approx(live.revisions.sum() / live.audio_s.sum() * 60)
    assert summary.loc["live", "rtf"] == pytest.approx(live.compute_s.sum() / live.audio_s.sum())
    from workbench.figures import cer_lag_plot, png

    assert png(cer_lag_plot(summary.reset_index())).startswith(b"\x89PNG")

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    common = [str(folder), "--dry", "1", "--workers", "0", "--asr", asr]
    lag_plot = tmp_path / "lag.png"
    assert run_evaluate(parser.parse_args([*common, "--lag-plot", str(lag_plot)])) == 0
    printed = capsys.readouterr().out
    assert " live " in printed and "lag_p95_s" in printed and "revisions_per_min" in printed
    assert lag_plot.read_bytes().startswith(b"\x89PNG")
    assert run_evaluate(parser.parse_args([*common, "--live", "none"])) == 0
    printed = capsys.readouterr().out
    assert " live " not in printed and "lag_p95_s" not in printed and "chunk_s" not in printed
    assert run_evaluate(parser.parse_args([*common, "--live", "none", "--lag-plot", str(lag_plot)])) == 2
    assert "needs a stream" in capsys.readouterr().err


@pytest.mark.slow
def test_dask_cluster_gives_the_local_table(corpus, models):
    from distributed import Client, LocalCluster

    folder, _ = corpus
    grid = dict(drys=[0.0, 0.5, 1.0], streams=[None, StreamConfig(0.4, 0.8, 0.2)], progress=False, **models)
    local = tuning.evaluate(folder, workers=1, threads=1, **grid)
    links, arrived = [], []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("torch").set_num_threads(1))
        remote = tuning.evaluate(folder, scheduler=cluster.scheduler_address, on_start=links.append,
                                 on_rows=arrived.append, **grid)
        used = client.run(lambda: __import__("workbench.models").models.load_models.cache_info().currsize)
    timed = ["lags_s", "emits_s", "compute_s"]  # measured compute times differ from run to run
    pd.testing.assert_frame_equal(local.drop(columns=timed), remote.drop(columns=timed))
    assert links[0].startswith("http") and len(arrived) == len(REFERENCES)
    assert len(used) == 2 and all(size <= 1 for size in used.values())


def test_panel_sweeps_plots_and_sets_the_slider(corpus, models, tmp_path):
    import ipywidgets

    from workbench.widgets.tuning_panel import tuning_panel

    slider = ipywidgets.FloatSlider(value=0.3)
    panel = tuning_panel(source=corpus[0], slider=slider, drys=[0.0, 1.0], **models)
    assert panel.image.layout.display == "none"  # no picture yet: hidden, not a broken image
    panel.run(wait=True)
    assert panel.status.value.startswith("done") and bytes(panel.image.value).startswith(b"\x89PNG")
    assert panel.image.layout.display is None
    assert panel.progress.children == ()  # the progress bar went when the run ended
    assert "chunk_s" not in panel.table.value and "lag_p95_s" not in panel.table.value  # no empty columns
    assert panel.lag_image.layout.display == "none"  # no stream, no lag plot
    assert panel.best_dry == tuning.best(tuning.summarize(panel.results)).dry
    panel.use_button.click()
    assert slider.value == panel.best_dry
    panel.csv.value = str(tmp_path / "panel.csv")
    panel.save_button.click()
    assert len(pd.read_csv(tmp_path / "panel.csv")) == 6
    chosen = []
    other = tuning_panel(source=tmp_path / "missing", slider=chosen.append, **models)
    other.run(wait=True)
    assert "not found" in other.status.value and other.use_button.disabled


def test_pareto_front_keeps_the_points_no_other_beats_in_both():
    points = pd.DataFrame({"lag_p95_s": [0.2, 0.5, 0.5, 1.0, 0.3, float("nan"), 0.2],
                           "cer": [0.30, 0.10, 0.12, 0.05, 0.35, 0.01, 0.30]})
    # (0.2, 0.30) twice: neither beats the other; (0.5, 0.12) loses to (0.5, 0.10); (0.3, 0.35) to
    # (0.2, 0.30); the NaN lag is not placed
    assert list(tuning.pareto_front(points)) == [True, True, False, True, False, False, True]


def test_cer_interval_is_a_bootstrap_over_files():
    assert tuning.cer_interval([2, 2, 2], [10, 10, 10]) == pytest.approx((0.2, 0.2))
    low, high = tuning.cer_interval([0, 10], [10, 10], draws=2000)
    assert low == pytest.approx(0.0) and high == pytest.approx(1.0)  # both files drawn twice, at the extremes
    low, high = tuning.cer_interval([1, 3, 2, 4, 0, 5], [10] * 6)
    assert 0.05 < low < 15 / 60 < high < 0.45


def test_panel_in_restricted_mode_shows_every_setting_but_the_scheduler(models, monkeypatch):
    from workbench.widgets.tuning_panel import tuning_panel

    monkeypatch.setenv("WORKBENCH_RESTRICTED", "1")
    panel = tuning_panel(**models)
    fields = [panel.source, panel.drys, panel.chunk_s, panel.left_s, panel.right_s, panel.workers, panel.csv]
    assert panel.scheduler.layout.display == "none"
    assert all(field.layout.display != "none" for field in fields)
    assert len({id(field.layout) for field in [*fields, panel.scheduler]}) == len(fields) + 1


def test_grid_points_are_named_in_words_and_read_back_from_their_rows():
    points = [tuning.GridPoint(0.5, True, StreamConfig(1.0, 2.0, 0.5)), tuning.GridPoint(1.0, False, tuning.LIVE),
              tuning.GridPoint(0.0, False, tuning.CACHE_AWARE), tuning.GridPoint(0.2, True, None)]
    assert [point.name for point in points] == [
        "buffered 1 s + 2 s / 0.5 s, beam + LM, dry 0.5", "live mode, greedy, dry 1",
        "cache-aware model alone, greedy, dry 0", "offline, beam + LM, dry 0.2"]
    assert [tuning.GridPoint.of(point.columns) for point in points] == points
    assert list(points[0].columns) == [key for key in tuning.GRID_KEYS]


@pytest.fixture(scope="module")
def with_lm(pair, tmp_path_factory):  # noqa: F811 - the fixture imported above
    """The pair's models and an LM beside the full-context one, strong enough to change its text."""
    import shutil

    from models import JAMO_LABELS

    from workbench.asr.lm import LabelLM, lm_beside
    from workbench.train.lm import label_ids

    folder = tmp_path_factory.mktemp("with_lm")
    for name in ("asr.nemo", "asr_streaming.nemo"):
        shutil.copy(pair / name, folder / name)
    lm = LabelLM.train([label_ids(text, JAMO_LABELS) for text in REFERENCES] * 5, JAMO_LABELS, order=3)
    lm.weight, lm.bonus = 3.0, 2.0
    lm.save(lm_beside(folder / "asr.nemo"))
    return str(folder / "asr.nemo")


def test_decoders_and_the_cache_aware_model_alone_are_dimensions_of_the_grid(corpus, with_lm, capsys):
    from workbench.models import load_models

    item = tuning.read_items(corpus[0])[2]
    results = tuning.evaluate([item], [1.0], tuning.streams_from(live=True), decoders=["greedy", "lm"],
                              workers=0, progress=False, denoiser=None, asr=with_lm)
    # the cache-aware companion has no LM: one greedy row, not a second row that only claims the LM
    assert list(zip(results.decoding, results.decoder)) == [
        ("cache-aware", "greedy"), ("live", "greedy"), ("live", "lm"), ("offline", "greedy"), ("offline", "lm")]
    _, transcriber = load_models(None, with_lm, "cpu", True, False, True)
    audio = load_audio(item.audio)
    rows = results.set_index(["decoding", "decoder"]).hypothesis
    assert rows["offline", "greedy"] == transcriber.transcribe(audio, use_lm=False)
    assert rows["offline", "lm"] == transcriber.transcribe(audio, use_lm=True)
    assert transcriber.transcribe(audio, use_lm=False) != transcriber.transcribe(audio, use_lm=True)
    streamed = chunks(tuning.with_tail(audio), 0.1)
    alone = [e.text for e in transcriber.companion.stream(streamed, use_lm=False, cache_aware=True) if e.final]
    assert rows["cache-aware", "greedy"] == " ".join(alone)
    live_greedy = [e.text for e in transcriber.stream(chunks(tuning.with_tail(audio), 0.1), use_lm=False) if e.final]
    assert rows["live", "greedy"] == " ".join(live_greedy)
    summary = tuning.summarize(results)
    assert list(summary.point) == ["cache-aware model alone, greedy, dry 1", "live mode, greedy, dry 1",
                                   "live mode, beam + LM, dry 1", "offline, greedy, dry 1", "offline, beam + LM, dry 1"]
    with pytest.raises(WorkbenchError, match="decoders must be some of greedy, lm"):
        tuning.evaluate([item], [1.0], decoders=["beam"], workers=0, progress=False, denoiser=None, asr=with_lm)

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    common = [str(corpus[0]), "--dry", "1", "--workers", "0", "--asr", with_lm, "--live", "none"]
    assert run_evaluate(parser.parse_args([*common, "--decoder", "greedy,lm"])) == 0
    printed = capsys.readouterr().out
    assert "offline, greedy, dry 1" in printed and "offline, beam + LM, dry 1" in printed
    assert run_evaluate(parser.parse_args([*common, "--decoder", "beam"])) == 2
    assert capsys.readouterr().err.strip() == "error: decoders must be some of greedy, lm, got beam"


def test_panel_lists_the_pareto_front_first_and_applies_the_chosen_point(corpus, models, with_lm):
    from workbench.widgets.tuning_panel import tuning_panel

    applied = []
    panel = tuning_panel(source=corpus[0], drys=[0.0, 1.0], denoiser=models["denoiser"], asr=with_lm,
                         on_apply=applied.append)
    panel.chunk_s.value, panel.right_s.value, panel.greedy.value = "0.4", "0,0.4", True
    assert panel.apply_button.disabled and panel.point.disabled  # nothing to apply before a run
    panel.run(wait=True)
    assert panel.status.value.startswith("done"), panel.status.value
    assert not panel.apply_button.disabled and panel.point.value == panel.point.options[0][1]
    summary = panel.summary
    assert {"cache-aware", "live", "stream"} == set(summary.decoding)  # sizes given: streams only
    assert set(summary.decoder) == {"greedy", "lm"}
    front = tuning.pareto_points(summary)
    labels = [label for label, _ in panel.point.options]
    assert len(labels) == len(summary)
    assert [label.split(":")[0] for label in labels[:len(front)]] == [f"Pareto {n}" for n in range(1, len(front) + 1)]
    assert [point for _, point in panel.point.options[:len(front)]] == [tuning.GridPoint.of(row)
                                                                       for _, row in front.iterrows()]
    assert all(tuning.GridPoint.of(row).name in " ".join(labels) for _, row in summary.iterrows())
    table = panel.table.value  # each row named by its point; no grid columns beside it
    assert all(name in table for name in summary.point) and "lag_p95_s" in table and ">decoding<" not in table
    chosen = next(point for _, point in panel.point.options if point.stream == tuning.CACHE_AWARE)
    panel.point.value = chosen
    panel.apply_button.click()
    assert applied == [chosen] and chosen.name in panel.status.value
    assert bytes(panel.lag_image.value).startswith(b"\x89PNG")


def test_applying_a_point_sets_the_workbench_sessions_stream_decoder_and_dry(demucs_files, with_lm, tmp_path,
                                                                            monkeypatch):
    from workbench.errors import MicrophoneUnavailable
    from workbench.widgets import app

    def missing(*_args, **_kwargs):
        raise MicrophoneUnavailable("no microphone found: connect one")

    monkeypatch.setattr(app, "find_microphone", missing)
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, speechlike(3.0, seed=1), 16000)
    bench = app.Workbench(denoiser=demucs_files[1]["package"], asr=with_lm, examples={"speech": wav})
    assert bench.wait(180)
    session = bench.session  # through the workbench: wherever the Session class lives
    transcriber = session.transcriber
    assert session.stream is None and session.use_lm and bench.tuning.on_apply == bench.apply_point

    def finals(streamer):
        return [e for e in [*(e for c in chunks(session.mixed, 0.5) for e in streamer.feed(c)), *streamer.flush()]
                if e.final]

    alone = tuning.GridPoint(0.3, False, tuning.CACHE_AWARE)
    buffered = tuning.GridPoint(1.0, True, StreamConfig(0.4, 0.8, 0.2))
    bench.tuning.point.options = [(alone.name, alone), (buffered.name, buffered)]
    bench.tuning.point.value = alone
    bench.tuning.apply_button.click()
    assert bench.wait(120)
    assert (session.stream, session.use_lm, session.dry) == (tuning.CACHE_AWARE, False, 0.3)
    assert bench.dry.slider.value == 0.3 and not bench.transcript.use_lm.value
    assert session.finals == finals(transcriber.companion.streamer(use_lm=False, cache_aware=True))
    bench.tuning.point.value = buffered
    bench.tuning.apply_button.click()
    assert bench.wait(120)
    assert (session.stream, session.use_lm, session.dry) == (buffered.stream, True, 1.0)
    assert session.finals == finals(transcriber.streamer(buffered.stream, use_lm=True))
    assert session.finals != finals(transcriber.streamer(buffered.stream, use_lm=False))
