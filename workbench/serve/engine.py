"""The loaded models and the worker threads that run every inference step, off the event loop.

Streams are many, cores are few: all resampling, denoising, recognising and
decoding of every request and stream runs on a pool of one worker thread per
core, each with one torch intra-op thread, so threads x torch threads never
exceed the cores and a busy server degrades by queueing, not by
oversubscription (2 intra-op threads under concurrent load were measured
several times slower than 1). Each job is a short step (one stream's queued
audio, or one second of a file), so the steps of concurrent clients
interleave in arrival order; one stream's steps never run at once.
"""
import asyncio
import contextvars
import copy
import ctypes
import functools
import gc
import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..asr import Transcriber, TranscriptEvent
from ..asr.stream import StreamConfig
from ..audio import SAMPLE_RATE
from ..denoise import Denoiser
from ..live import LiveStream
from ..threads import cores, use_share

PIECES_PER_STEP = 10  # ten pieces of a whole file (FILE_PIECE_S each: 1 s of audio) make one step on the worker thread
# The note of the request or stream being served (see :mod:`.middleware`): its jobs' compute seconds add up there.
serving: contextvars.ContextVar[dict | None] = contextvars.ContextVar("serving", default=None)


class Engine:
    """Models, defaults and the inference threads shared by every connection."""

    def __init__(self, transcriber: Transcriber, denoiser: Denoiser | None, dry: float,
                 sample_rate: int = SAMPLE_RATE, threads: int | None = None):
        """``threads``: inference threads, by default one per core this process may use."""
        self.transcriber, self.denoiser = transcriber, denoiser
        self.dry, self.sample_rate = dry, sample_rate
        self.live_mode = True  # streams use the transcriber's default (the live mode, when it has a companion)
        self.threads = threads or cores()
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="workbench-inference",
                                            initializer=use_share, initargs=(self.threads,))

    async def run(self, job: Callable, *args):
        """``job(*args)`` on an inference thread; its compute seconds are added to the ``serving`` note."""
        result, seconds = await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(_timed, job, *args))
        note = serving.get()
        if note is not None:
            note["compute_s"] = note.get("compute_s", 0.0) + seconds
        return result

    def with_live(self, live_mode: bool) -> "Engine":
        """This engine (models, threads) whose streams use the live mode (``True``) or the model alone."""
        if live_mode == self.live_mode:
            return self
        other = copy.copy(self)
        other.live_mode = live_mode
        return other

    @property
    def config(self) -> StreamConfig | None:
        """The streams' sizes: None for the transcriber's default, else (no live mode) buffered
        streaming with the default sizes, as the model alone streams (``--live none``)."""
        return None if self.live_mode else StreamConfig()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def stream(self, dry: float, use_lm: bool, scale: float | None = None) -> LiveStream:
        """A live stream at ``dry`` (the denoiser is skipped at dry 1), sized by :attr:`config`."""
        denoiser = self.denoiser if dry < 1.0 else None
        return LiveStream(self.transcriber, denoiser, dry, use_lm, scale=scale, config=self.config)

    async def recognize(self, audio: np.ndarray, dry: float, use_lm: bool) -> list[TranscriptEvent]:
        """Finals of a whole 16 kHz signal, exactly as the CLI streams a file (offline normaliser)."""
        steps = await self.run(self._file_stream, audio, dry, use_lm)
        events = []
        while (step := await self.run(_feed_all, steps)) is not None:
            events += step
        return [event for event in events if event.final]

    def _file_stream(self, audio: np.ndarray, dry: float, use_lm: bool) -> Iterator[tuple[float, list[TranscriptEvent]]]:
        """The steps of the core's whole-file stream (its denoiser normalises by the signal's std, as
        offline denoising does; none at dry 1), fed in ``FILE_PIECE_S`` pieces."""
        return LiveStream.for_file(audio, self.transcriber, self.denoiser, dry, use_lm,
                                   config=self.config).run(audio)

    def describe(self) -> dict:
        """Names (file names only), sizes and defaults, as ``GET /v1/models`` shows them."""
        transcriber, denoiser = self.transcriber, self.denoiser
        return {
            "asr": {"name": Path(transcriber.name).name, "parameters": transcriber.parameters,
                    "lm": transcriber.lm is not None},
            "live": Path(transcriber.companion.name).name if transcriber.companion is not None else None,
            "denoiser": ({"name": Path(denoiser.name).name, "parameters": denoiser.parameters}
                         if denoiser is not None else None),
            "sample_rate": self.sample_rate,
            "model_sample_rate": SAMPLE_RATE,
            "dry": self.dry,
            "lm": transcriber.lm is not None,
        }


def _timed(job: Callable, *args) -> tuple[object, float]:
    started = time.perf_counter()
    return job(*args), time.perf_counter() - started


def _feed_all(steps: Iterator[tuple[float, list[TranscriptEvent]]]) -> list[TranscriptEvent] | None:
    """The events of the next ``PIECES_PER_STEP`` pieces of a whole-file stream (one step on an
    inference thread); None once it has finished."""
    taken = list(itertools.islice(steps, PIECES_PER_STEP))
    return [event for _, events in taken for event in events] if taken else None


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # mallopt parameters (malloc.h)
MMAP_THRESHOLD = 128 * 1024             # glibc's initial value, kept fixed
ARENA_MAX = 2


def configure_allocator() -> None:
    """Make freed buffers go back to the system (glibc; elsewhere nothing to do).

    glibc serves blocks from ``MMAP_THRESHOLD`` up with their own mappings, returned on
    free, but raises that threshold to the largest block freed (up to 32 MiB): after one
    16 MiB frame, later frames and audio arrays land on the heap and stay there. Fixing the
    threshold keeps them mapped; ``ARENA_MAX`` heaps bound what the event loop, the
    inference threads and the JSON parsing threads keep between them.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Free what closed connections left in reference cycles (their frame buffers among them), then
    hand freed heap pages back to the system: glibc keeps them, so RSS would stay at its peak."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
