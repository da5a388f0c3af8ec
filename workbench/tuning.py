"""Error rates and latencies over a grid of dry values and decodings.

Each file is denoised once, y = denoise(x), then re-mixed for every dry value,
dry * x + (1 - dry) * y, and transcribed offline, with the buffered stream (chunk / context
sizes), in the live mode (:mod:`workbench.asr.live_mode`) or by the live mode's cache-aware
companion alone, each with every decoder: greedy, or beam search with the LM (a model without an
LM decodes greedily whatever is asked, and its rows say so). A stream is played at real-time
pace on a simulated CPU clock, one torch thread's (:func:`workbench.latency.play`), so its rows also carry the
lags of each utterance and word and the revisions (:func:`workbench.latency.measure`); the
summary pools them over files: ``lag_p50_s``, ``lag_p95_s``, ``emit_p50_s``, ``emit_p95_s``,
``revisions_per_min`` and ``rtf`` (compute / audio). Each file is streamed with 2 s of faint
noise after it (:func:`with_tail`), as a microphone goes on after the speaker stops.
Corpus rates pool the edits: CER = sum(char edits) / sum(reference chars)
(NFC syllables, spaces ignored), WER likewise over words. A file that cannot
be read gets rows with its ``error`` and is left out of the corpus rates.

Work is split per file and runs in local processes, or on a Dask cluster
when a scheduler address is given; each worker process loads the models once.
"""
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import product
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from . import manifest
from .asr.stream import StreamConfig
from .errors import AudioError, CheckpointError, WorkbenchError, out_of_memory
from .latency import FEED_S, METRICS, Latency
from .models import load_models
from .paths import DEFAULT_ASR, DEFAULT_DENOISER

LIVE = "live"  # the live mode, as a stream setting
CACHE_AWARE = "cache-aware"  # the live mode's cache-aware companion alone, as a stream setting
DECODERS = ("greedy", "lm")  # greedy search; beam search with the model's LM
GRID_KEYS = ["decoding", "decoder", "chunk_s", "left_s", "right_s", "dry"]
COLUMNS = ["file", *GRID_KEYS, "reference", "hypothesis", "cer", "wer",
           "ref_chars", "ref_words", "char_edits", "word_edits", "audio_s",
           "lags_s", "emits_s", "revisions", "compute_s", "error"]
DEFAULT_DRYS = (0.0, 0.05, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class Item:
    """One evaluation file and its reference transcript."""

    audio: str
    text: str


def read_items(source) -> list[Item]:
    """Items from a folder (``x.wav`` beside ``x.txt``) or a JSON-lines manifest
    (:func:`workbench.manifest.read`: relative paths are taken from the manifest's folder)."""
    source = Path(source)
    if source.is_dir():
        items = [Item(str(wav), manifest.utf8_text(wav.with_suffix(".txt")).strip())
                 for wav in sorted(source.glob("*.wav")) if wav.with_suffix(".txt").is_file()]
        if not items:
            raise WorkbenchError(f"{source} holds no .wav file with a same-name .txt reference")
        return items
    if not source.is_file():
        raise WorkbenchError(f"evaluation set not found: {source} (give a folder or a JSON-lines manifest)")
    items = [Item(entry.audio, entry.text) for entry in manifest.read(source)]
    if not items:
        raise WorkbenchError(f"{source} lists no files")
    return items


@dataclass(frozen=True)
class GridPoint:
    """One point of the grid as the workbench would run it: the dry mix, the decoder and the
    stream (``None``: offline, :data:`LIVE`, :data:`CACHE_AWARE` or buffered sizes)."""

    dry: float
    use_lm: bool
    stream: StreamConfig | str | None

    @classmethod
    def of(cls, row) -> "GridPoint":
        """The point of a row of :func:`table` or :func:`summarize`."""
        decoding = row["decoding"]
        stream = (None if decoding == "offline" else StreamConfig(row["chunk_s"], row["left_s"], row["right_s"])
                  if decoding == "stream" else decoding)
        return cls(float(row["dry"]), row["decoder"] == "lm", stream)

    @property
    def columns(self) -> dict:
        """Its grid columns (:data:`GRID_KEYS`)."""
        buffered = isinstance(self.stream, StreamConfig)
        return {"decoding": "offline" if self.stream is None else "stream" if buffered else self.stream,
                "decoder": "lm" if self.use_lm else "greedy",
                "chunk_s": self.stream.chunk_s if buffered else math.nan,
                "left_s": self.stream.left_s if buffered else math.nan,
                "right_s": self.stream.right_s if buffered else math.nan, "dry": float(self.dry)}

    @property
    def setting(self) -> str:
        """The decoding in words, e.g. "buffered 1 s + 2 s / 0.5 s, beam + LM" (chunk + left / right context)."""
        stream = self.stream
        mode = ("offline" if stream is None else "live mode" if stream == LIVE
                else "cache-aware model alone" if stream == CACHE_AWARE
                else f"buffered {stream.chunk_s:g} s + {stream.left_s:g} s / {stream.right_s:g} s")
        return f"{mode}, {'beam + LM' if self.use_lm else 'greedy'}"

    @property
    def name(self) -> str:
        """The point in words: its :attr:`setting` and its dry mix."""
        return f"{self.setting}, dry {self.dry:g}"


def stream_source(transcriber, stream):
    """The transcriber and buffered sizes whose default streamer is ``stream``: the live mode
    (``transcriber`` with its companion), the companion alone (a cache-aware model streams alone
    by default), or buffered sizes; ``None`` (offline) gives the transcriber's default stream."""
    if stream == CACHE_AWARE:
        if transcriber.companion is not None:
            return transcriber.companion, None
        if not transcriber.cache_aware:
            raise WorkbenchError(f"{transcriber.name} has no cache-aware companion to stream alone")
        return transcriber, None
    return transcriber, stream if isinstance(stream, StreamConfig) else None


def decoder(transcriber, stream, use_lm: bool) -> str:
    """The decoder a stream really uses: ``"lm"`` only when its text's model has an LM (the cache-aware
    companion alone has none); a live mode's partials are greedy, its finals as said here."""
    model, _ = stream_source(transcriber, stream)
    return "lm" if use_lm and model.lm is not None else "greedy"


def _grid_point(item: Item, point: GridPoint) -> dict:
    """The columns naming one row: the file, its reference and where in the grid it lies."""
    return {"file": item.audio, **point.columns, "reference": item.text}


def _seconds_list(values) -> str:
    """Seconds as one cell: space-separated, millisecond precision."""
    return " ".join(f"{value:.3f}" for value in values)


TAIL_S = 2.0        # quiet streamed after each file, so a stream finds the end of speech itself
TAIL_LEVEL = 1e-3   # its noise floor (standard deviation): a microphone's, not digital silence


def with_tail(signal: np.ndarray) -> np.ndarray:
    """``signal`` followed by :data:`TAIL_S` of faint white noise (the same every time): the stream
    that :func:`evaluate` decodes, so that lags are not cut short by the end of the file."""
    from .audio import SAMPLE_RATE

    tail = TAIL_LEVEL * np.random.default_rng(0).standard_normal(round(TAIL_S * SAMPLE_RATE))
    return np.concatenate([signal, tail.astype(np.float32)])


def play_on_one_thread(streamer, signal: np.ndarray) -> tuple[list, float]:
    """:func:`workbench.latency.play` of ``signal`` at real-time pace on one torch thread and its
    CPU clock (the calling thread's CPU time: other threads of the process, other processes and
    idle spinning do not count): ``([(time, event)], compute seconds)``."""
    import torch

    from .latency import play

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return play(streamer, signal, FEED_S, clocks={"cpu": time.thread_time})["cpu"]
    finally:
        torch.set_num_threads(threads)


def _streamed(transcriber, signal, stream, use_lm: bool) -> tuple[str, dict]:
    """The finals' text of ``signal`` and its tail (:func:`with_tail`) streamed (``stream``: a
    buffered :class:`StreamConfig`, :data:`LIVE` or :data:`CACHE_AWARE`) by
    :func:`play_on_one_thread`, and its latency columns."""
    from .audio import SAMPLE_RATE
    from .latency import measure

    signal = with_tail(signal)
    model, config = stream_source(transcriber, stream)
    timed, compute = play_on_one_thread(model.streamer(config, use_lm=use_lm), signal)
    latency = measure(timed, len(signal) / SAMPLE_RATE)
    return (" ".join(event.text for _, event in timed if event.final),
            {"lags_s": _seconds_list(latency.lag_s), "emits_s": _seconds_list(latency.emit_s),
             "revisions": latency.revisions, "compute_s": compute})


def evaluate_file(item: Item, drys, streams, denoiser: str | None, asr: str, device: str = "cpu",
                  threads: int | None = None, lm=True, quantize: bool = False, live=True,
                  decoders=("lm",)) -> list[dict]:
    """Rows for one file: every dry value times every decoding (``None`` = offline, a
    :class:`StreamConfig`, :data:`LIVE` or :data:`CACHE_AWARE`) times every decoder of
    :data:`DECODERS` that differs for it (:func:`decoder`). ``threads`` sets torch's thread count of
    the calling (worker) process; ``lm``, ``quantize`` and ``live`` go to the loaders."""
    import torch

    from .audio import SAMPLE_RATE, load_audio
    from .live import dry_mixes
    from .metrics import char_edits, normalise, rate, ref_chars, ref_words, word_edits

    if threads:
        torch.set_num_threads(threads)
    enhancer, transcriber = load_models(denoiser, asr, device, lm, quantize, live)
    settings = list(dict.fromkeys((stream, decoder(transcriber, stream, name == "lm"))
                                  for stream in streams for name in decoders))
    points = [GridPoint(dry, name == "lm", stream) for dry, (stream, name) in product(drys, settings)]
    try:
        audio = load_audio(item.audio)
    except AudioError as error:
        return [{**_grid_point(item, point), "error": str(error)} for point in points]
    reference = normalise(item.text)
    chars, words = ref_chars(reference), ref_words(reference)
    rows = []
    for dry, signal in dry_mixes(audio, enhancer, drys):  # denoised once, re-mixed per dry
        for stream, name in settings:
            point = GridPoint(dry, name == "lm", stream)
            timing = {}
            if point.stream is None:
                hypothesis = transcriber.transcribe(signal, point.use_lm)
            else:
                hypothesis, timing = _streamed(transcriber, signal, point.stream, point.use_lm)
            c_edits, w_edits = char_edits(reference, hypothesis), word_edits(reference, hypothesis)
            rows.append({**_grid_point(item, point), "hypothesis": hypothesis,
                         "cer": rate(c_edits, chars), "wer": rate(w_edits, words),
                         "ref_chars": chars, "ref_words": words, "char_edits": c_edits, "word_edits": w_edits,
                         "audio_s": len(audio) / SAMPLE_RATE, **timing})
    return rows


def _result(future) -> list[dict]:
    """A finished file's rows; a worker's failure (a Dask worker with another environment, say) as one message."""
    try:
        return future.result()
    except WorkbenchError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the user as one message
        if out_of_memory(error):
            raise WorkbenchError(f"a worker ran out of memory ({str(error).splitlines()[0][:160]})") from None
        lines = str(error).strip().splitlines() or [""]
        raise WorkbenchError(f"a worker failed: {type(error).__name__}: {lines[0][:200]}") from None


def csv_safe(results: pd.DataFrame) -> pd.DataFrame:
    """The table with text cells that a spreadsheet would read as a formula (=, +, -, @ first) quoted by a '."""
    def quote(value):
        return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    return results.assign(**{column: results[column].map(quote) for column in ("file", "reference", "hypothesis")})


def table(rows: list[dict]) -> pd.DataFrame:
    """Rows as a tidy DataFrame in a fixed order (file, then grid), whatever order they arrived in."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["file", *GRID_KEYS], kind="stable", ignore_index=True)


def _seconds(cells) -> list[float]:
    return [float(value) for cell in cells if isinstance(cell, str) for value in cell.split()]


def _latency(rows: pd.DataFrame) -> pd.Series:
    """The latency measures of one grid point, pooled over its files (NaN offline), and its RTF."""
    if rows.compute_s.isna().all():
        return pd.Series(dict.fromkeys([*METRICS, "rtf"], math.nan))
    pooled = Latency(_seconds(rows.lags_s), _seconds(rows.emits_s), int(rows.revisions.sum()), rows.audio_s.sum())
    return pd.Series({**pooled.summary(), "rtf": rows.compute_s.sum() / max(rows.audio_s.sum(), 1e-9)})


def cer_interval(char_edits, ref_chars, level: float = 0.95, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the corpus CER over files: ``draws`` resamples of the files with
    replacement, each CER = sum(edits) / sum(chars); the central ``level`` of them."""
    edits, chars = np.asarray(char_edits, float), np.asarray(ref_chars, float)
    if not len(edits):
        return math.nan, math.nan
    picks = np.random.default_rng(seed).integers(0, len(edits), (draws, len(edits)))
    rates = edits[picks].sum(axis=1) / np.maximum(chars[picks].sum(axis=1), 1)
    low, high = np.percentile(rates, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def pareto_front(summary: pd.DataFrame, x: str = "lag_p95_s", y: str = "cer") -> pd.Series:
    """Whether each row is on the Pareto front of ``x`` and ``y`` (lower is better for both): no
    other row is at least as good in both and better in one. Rows with a NaN are never on it."""
    values = summary[[x, y]].to_numpy(float)
    known = ~np.isnan(values).any(axis=1)
    front = []
    for index, (a, b) in enumerate(values):
        others = values[known & (np.arange(len(values)) != index)]
        dominated = ((others[:, 0] <= a) & (others[:, 1] <= b) & ((others[:, 0] < a) | (others[:, 1] < b))).any()
        front.append(bool(known[index]) and not dominated)
    return pd.Series(front, index=summary.index, dtype=bool)


def pareto_points(summary: pd.DataFrame) -> pd.DataFrame:
    """The streamed rows of a summary on the Pareto front of CER and lag p95 (:func:`pareto_front`),
    by lag: the order in which the plot and the panel number them."""
    streamed = summary[summary.lag_p95_s.notna()]
    return streamed[pareto_front(streamed)].sort_values(["lag_p95_s", "cer"], kind="stable")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Corpus CER and WER per grid point: pooled edits over pooled reference length, over the
    files that could be read (``files``, ``ref_chars`` characters); ``failed`` counts the others;
    ``cer_low``, ``cer_high``: the CER's 95 % bootstrap interval over files (:func:`cer_interval`).
    Streams also get the latency measures of :mod:`workbench.latency` over every utterance and
    word of their files, revisions per minute of their audio, and their RTF on the CPU clock.
    ``point`` names each point in words (:attr:`GridPoint.name`)."""
    failed = results.error.notna()
    grouped = results[~failed].groupby(GRID_KEYS, dropna=False, sort=True)
    totals = grouped[["char_edits", "ref_chars", "word_edits", "ref_words", "audio_s"]].sum()
    summary = pd.DataFrame({"cer": totals.char_edits / totals.ref_chars.clip(lower=1),
                            "wer": totals.word_edits / totals.ref_words.clip(lower=1),
                            "files": grouped.size(), "ref_chars": totals.ref_chars, "audio_s": totals.audio_s})
    intervals = [cer_interval(rows.char_edits, rows.ref_chars) for _, rows in grouped]
    summary["cer_low"], summary["cer_high"] = [low for low, _ in intervals], [high for _, high in intervals]
    latency = [_latency(rows) for _, rows in grouped]  # the groups in the summary's order
    for column in [*METRICS, "rtf"]:
        summary[column] = [values[column] for values in latency]
    failures = results[failed].groupby(GRID_KEYS, dropna=False, sort=True).size()
    summary["failed"] = failures.reindex(summary.index, fill_value=0)
    summary = summary.reset_index()
    summary.insert(0, "point", [GridPoint.of(row).name for _, row in summary.iterrows()])
    return summary


def unreadable(results: pd.DataFrame) -> pd.Series:
    """Why each file that could not be read was left out, by file."""
    return results[results.error.notna()].groupby("file").error.first()


def best(summary: pd.DataFrame) -> pd.Series:
    """The grid point with the lowest CER (ties: lower WER, then the smaller dry)."""
    return summary.sort_values(["cer", "wer", "dry"], kind="stable").iloc[0]


class _Local:
    """Spawned worker processes (spawn: torch and NeMo are not fork-safe), or with
    ``workers=0`` one thread of this process, sharing the models it has loaded."""

    dashboard = None

    def __init__(self, workers: int):
        self.pool = (ThreadPoolExecutor(1) if workers == 0
                     else ProcessPoolExecutor(workers, mp_context=get_context("spawn")))

    def submit(self, *args):
        return self.pool.submit(*args)

    def close(self, cancel: bool):
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _Dask:
    """A client of a running Dask scheduler (address or ``distributed.Client``)."""

    def __init__(self, scheduler):
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client, self.own = scheduler, False
        else:
            try:
                self.client, self.own = Client(scheduler, timeout="10s"), True
            except (OSError, TimeoutError) as error:
                raise WorkbenchError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        self.dashboard = self.client.dashboard_link

    def submit(self, function, *args):
        return self.client.submit(function, *args, pure=False)

    def close(self, cancel: bool):
        if self.own:
            self.client.close()


def _check_models(denoiser, asr, drys) -> str | None:
    """Fail early, in this process, on a missing model; the denoiser is only needed if a dry < 1."""
    for path, what in ((asr, "ASR model"), (denoiser if any(d < 1 for d in drys) else None, "denoiser")):
        if path is not None and not Path(path).is_file():
            raise CheckpointError(f"{what} not found: {path}")
    return str(denoiser) if any(d < 1 for d in drys) else None


def evaluate(source, drys=DEFAULT_DRYS, streams=(None,), *, decoders=("lm",), denoiser=DEFAULT_DENOISER,
             asr=DEFAULT_ASR, lm=True, quantize: bool = False, live=True, device: str = "cpu", scheduler=None,
             workers: int | None = None, threads: int | None = None,
             on_rows: Callable[[list[dict]], None] | None = None, on_start: Callable[[str | None], None] | None = None,
             cancel: threading.Event | None = None, progress: bool = True) -> pd.DataFrame:
    """Per-file error rates for ``drys`` x ``streams`` x ``decoders`` (of :data:`DECODERS`) over a
    folder, a manifest or a list of :class:`Item`.

    Runs in ``workers`` local processes (default: one per CPU, at most one per file; 0: a thread
    of this process) or, given ``scheduler`` (an address or a ``distributed.Client``), on that
    Dask cluster; ``threads`` is torch's thread count per worker (default: CPUs / local workers;
    left as is in this process and on Dask). ``on_start`` receives the Dask dashboard link (None
    locally), ``on_rows`` each file's rows as they arrive. Setting ``cancel`` stops the run and
    returns the rows finished so far. ``lm``, ``quantize`` and ``live`` are passed to the loaders.
    """
    from tqdm.auto import tqdm

    items = source if isinstance(source, list) else read_items(source)
    drys = [float(d) for d in drys]
    if not drys or not all(0.0 <= d <= 1.0 for d in drys):
        raise WorkbenchError("dry values must lie between 0 and 1")
    decoders = list(decoders)
    if not decoders or not set(decoders) <= set(DECODERS):
        raise WorkbenchError(f"decoders must be some of {', '.join(DECODERS)}, got {', '.join(decoders) or 'none'}")
    denoiser = _check_models(denoiser, asr, drys)
    if workers is None:
        workers = min(len(items), os.cpu_count() or 1)
    if threads is None and scheduler is None and workers:
        threads = max(1, (os.cpu_count() or 1) // workers)
    runner = _Dask(scheduler) if scheduler is not None else _Local(workers)
    if on_start:
        on_start(runner.dashboard)
    rows, pending = [], []
    try:
        pending = [runner.submit(evaluate_file, item, drys, list(streams), denoiser, str(asr), device, threads, lm,
                                   quantize, live, decoders)
                   for item in items]
        with tqdm(total=len(items), unit="file", disable=not progress, desc="evaluate") as bar:
            while pending and not (cancel is not None and cancel.is_set()):
                future = next((future for future in pending if future.done()), None)
                if future is None:
                    time.sleep(0.05)
                    continue
                pending.remove(future)
                file_rows = _result(future)
                rows += file_rows
                bar.update(1)
                if on_rows:
                    on_rows(file_rows)
        for future in pending:
            future.cancel()
    finally:
        runner.close(cancel=bool(pending))
    return table(rows)


def has_live_mode(asr, live=True) -> bool:
    """Whether ``asr`` loaded with ``live`` (as :func:`~workbench.asr.load_transcriber` takes it) streams
    in the live mode: a companion file given, or one beside the model."""
    from .asr.transcriber import companion_beside

    return bool(live) and (live is not True or companion_beside(asr).is_file())


def streams_from(chunk_s=None, left_s=None, right_s=None, live: bool = False,
                 cache_aware: bool | None = None) -> list[StreamConfig | str | None]:
    """Offline decoding unless any streaming size is given; then every combination of them (sizes a
    stream cannot have, such as a negative context, as one message). ``live``: the live mode
    (:data:`LIVE`) too, after offline decoding or before the buffered streams, and its cache-aware
    companion alone (:data:`CACHE_AWARE`) unless ``cache_aware`` is False (None: as ``live``)."""
    modes = [*([LIVE] if live else []), *([CACHE_AWARE] if (live if cache_aware is None else cache_aware) else [])]
    if chunk_s is None and left_s is None and right_s is None:
        return [None, *modes]
    default = StreamConfig()
    sizes = product(chunk_s or [default.chunk_s], left_s or [default.left_s], right_s or [default.right_s])
    try:
        return [*modes, *(StreamConfig(c, l, r) for c, l, r in sizes)]
    except ValueError as error:
        raise WorkbenchError(str(error)) from None
