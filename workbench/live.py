"""The one composer of denoise -> dry mix -> recognise, whoever drives it: the notebook's session,
the CLI (files and the microphone), the server (streams and whole files), and evaluate's grid.

PCM chunks at any rate become 16 kHz through one seamless stream resampler
per rate; the causal denoiser runs at dry 0 and its output ``d`` is mixed
with the raw samples ``x`` it covers,

    y = dry * x + (1 - dry) * d,

at the dry value current when ``d`` arrives; ``y`` goes to the recogniser,
whose events come back from :meth:`LiveStream.feed`. A live source is
normalised by the running RMS; a whole signal (:meth:`LiveStream.for_file`,
then :meth:`LiveStream.run`, which yields the fraction done) by its std, as
offline denoising does, or its denoised version is given, computed once
(:func:`denoise_blocks`, :func:`dry_mixes`) and only re-mixed. Nothing here
knows of widgets, threads or sockets: callers queue chunks in
:class:`PendingChunks` and feed them from one worker.
"""
import itertools
import threading
import time
from collections.abc import Iterable, Iterator

import numpy as np

from .asr import Transcriber, TranscriptEvent
from .asr.live_mode import REDECODES, Redecodes
from .asr.stream import StreamConfig
from .audio import SAMPLE_RATE, check_audio, check_chunk, chunks, pcm16_samples
from .denoise import DEFAULT_DRY, Denoiser, check_dry, mix
from .denoise.denoiser import FILE_BLOCK_S, HOP_MS
from .resample import stream_resampler

LEVEL_S = 0.1        # the level meter is the RMS of the last this many seconds
FILE_PIECE_S = 0.1   # a whole signal is fed in pieces this long, as a live source sends it
FILE_REDECODES = Redecodes(1.0, 10.0)  # a whole signal's partials show progress, not words early: one a second


class Buffer:
    """A float32 signal that grows by appending (amortised O(1) per append)."""

    def __init__(self, data: np.ndarray | None = None):
        self._data = np.zeros(0, np.float32) if data is None else np.array(data, np.float32)
        self._size = len(self._data)

    def __len__(self) -> int:
        return self._size

    def append(self, chunk: np.ndarray) -> None:
        end = self._size + len(chunk)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data), SAMPLE_RATE), np.float32)
            grown[:self._size] = self._data[:self._size]
            self._data = grown
        self._data[self._size:end] = chunk
        self._size = end

    @property
    def array(self) -> np.ndarray:
        return self._data[:self._size]


class Timer:
    """Processing time against audio time: the real-time factor."""

    def __init__(self):
        self.busy_s = self.audio_s = 0.0

    def add(self, started: float, samples: int) -> None:
        self.busy_s += time.perf_counter() - started
        self.audio_s += samples / SAMPLE_RATE

    @property
    def rtf(self) -> float | None:
        return self.busy_s / self.audio_s if self.audio_s else None


class Denoised:
    """A signal denoised beforehand, behind the ``feed``/``flush`` interface of the denoiser's
    stream: ``feed(chunk)`` answers the next ``len(chunk)`` samples of it, at once."""

    latency = 0

    def __init__(self, signal: np.ndarray):
        self._signal, self._given = np.asarray(signal, np.float32), 0

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        start, self._given = self._given, self._given + len(chunk)
        return self._signal[start:self._given]

    def flush(self) -> np.ndarray:
        return np.zeros(0, np.float32)


class LiveStream:
    """Audio chunks in, transcript events out; ``keep=True`` also keeps the raw and denoised signals.

    ``denoiser=None`` recognises the raw audio; ``transcriber=None`` only
    records (and denoises). ``scale`` fixes the denoiser's normaliser (a whole file's
    ``Denoiser.offline_scale`` reproduces offline denoising; None: running RMS).
    ``denoised``: the audio to come, already denoised (dry 0): it is mixed instead of running a denoiser.
    ``config``: None for the transcriber's default stream (the live mode when it has a low-latency
    companion, see ``Transcriber.streamer``; ``redecodes``: how often it re-decodes its partials),
    or buffered streaming with these sizes.
    """

    def __init__(self, transcriber: Transcriber | None = None, denoiser: Denoiser | None = None,
                 dry: float = DEFAULT_DRY, use_lm: bool = True, keep: bool = False,
                 hop_ms: float = HOP_MS, scale: float | None = None, config: StreamConfig | None = None,
                 denoised: np.ndarray | None = None, redecodes: Redecodes = REDECODES):
        self.dry = check_dry(dry)
        if denoised is not None:
            self._enhancer = Denoised(denoised)
        else:
            self._enhancer = denoiser.stream(0.0, hop_ms, scale) if denoiser is not None else None
        self._recogniser = (transcriber.streamer(config, use_lm=use_lm, redecodes=redecodes)
                            if transcriber is not None else None)
        self.raw = Buffer() if keep else None
        self.denoised = Buffer() if keep and self._enhancer is not None else None
        self._unmixed = np.zeros(0, np.float32)  # raw samples the denoiser has not yet answered
        self._resampler = None  # stream_resampler(rate) of the current input rate
        self.received = 0                        # 16 kHz samples so far
        self.level = 0.0
        self.denoise_time, self.asr_time = Timer(), Timer()
        self.finished = False

    @classmethod
    def for_file(cls, audio: np.ndarray, transcriber: Transcriber | None = None, denoiser: Denoiser | None = None,
                 dry: float = DEFAULT_DRY, use_lm: bool = True, keep: bool = False, hop_ms: float = HOP_MS,
                 config: StreamConfig | None = None, denoised: np.ndarray | None = None) -> "LiveStream":
        """A stream for the whole 16 kHz signal ``audio`` (feed it with :meth:`run`): the denoiser
        normalises by the signal's std, as offline denoising does; at dry 1 nothing is denoised. Its
        finals are a live stream's; the live mode's partials come once a second of audio
        (:data:`FILE_REDECODES`): nobody waits for a word of a file, only for the whole."""
        if dry == 1.0:
            denoiser = denoised = None
        scale = Denoiser.offline_scale(audio) if denoiser is not None and denoised is None else None
        return cls(transcriber, denoiser, dry, use_lm, keep, hop_ms, scale, config, denoised, FILE_REDECODES)

    def run(self, audio: np.ndarray, piece_s: float = FILE_PIECE_S) -> Iterator[tuple[float, list[TranscriptEvent]]]:
        """Feed the whole 16 kHz ``audio`` in pieces of ``piece_s`` seconds, then finish; after each
        piece, and once finished (1.0), yield the fraction of ``audio`` fed and the new events."""
        audio = check_chunk(audio)
        for piece in chunks(audio, piece_s):
            events = self.feed(piece)
            yield min(1.0, self.received / len(audio)), events
        yield 1.0, self.finish()

    @property
    def duration_s(self) -> float:
        return self.received / SAMPLE_RATE

    @property
    def latency_s(self) -> float:
        """Worst-case lag of text behind audio: the denoiser's latency plus the recogniser's."""
        denoiser = self._enhancer.latency / SAMPLE_RATE if self._enhancer is not None else 0.0
        return (self._recogniser.latency_s if self._recogniser is not None else 0.0) + denoiser

    def feed(self, chunk: np.ndarray | bytes, rate: int = SAMPLE_RATE) -> list[TranscriptEvent]:
        """Process a chunk: float32 samples or little-endian PCM16 bytes, mono at ``rate``."""
        if self.finished:
            raise RuntimeError("the stream has finished")
        samples = pcm16_samples(chunk) if isinstance(chunk, (bytes, bytearray, memoryview)) else chunk
        events = []
        if self._resampler is None or self._resampler.rate != rate:
            if self._resampler is not None:
                events += self._process(self._resampler.flush())
            self._resampler = stream_resampler(rate)
        return events + self._process(self._resampler.feed(samples))

    def finish(self) -> list[TranscriptEvent]:
        """End of the audio: flush the resampler, the denoiser and the recogniser."""
        events = self._process(self._resampler.flush()) if self._resampler is not None else []
        if self._enhancer is not None:
            events += self._recognise(self._mix(self._enhancer.flush()))
        if self._recogniser is not None:
            events += self._recogniser.flush()
        self.finished, self.level = True, 0.0
        return events

    def _process(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        if not len(chunk):
            return []
        self.received += len(chunk)
        if self.raw is not None:
            self.raw.append(chunk)
        recent = chunk[-round(LEVEL_S * SAMPLE_RATE):]
        self.level = float(np.sqrt(np.mean(np.square(recent))))
        if self._enhancer is None:
            return self._recognise(chunk)
        self._unmixed = np.concatenate([self._unmixed, chunk])
        started = time.perf_counter()
        denoised = self._enhancer.feed(chunk)
        self.denoise_time.add(started, len(chunk))
        return self._recognise(self._mix(denoised))

    def _mix(self, denoised: np.ndarray) -> np.ndarray:
        """``dry * x + (1 - dry) * d`` over the raw samples ``x`` that ``d`` answers."""
        if self.denoised is not None:
            self.denoised.append(denoised)
        raw, self._unmixed = self._unmixed[:len(denoised)], self._unmixed[len(denoised):]
        return mix(raw, denoised, self.dry)

    def _recognise(self, mixed: np.ndarray) -> list[TranscriptEvent]:
        if self._recogniser is None or not len(mixed):
            return []
        started = time.perf_counter()
        events = self._recogniser.feed(mixed)
        self.asr_time.add(started, len(mixed))
        return events


def denoise_blocks(denoiser: Denoiser, audio: np.ndarray) -> Iterator[np.ndarray]:
    """``audio`` denoised (dry 0), exactly as :meth:`Denoiser.denoise`, in the blocks of the denoiser's
    block enhancement as they become final; a bidirectional model's in one block."""
    audio = check_audio(audio)
    if denoiser.layers is None:
        yield denoiser.denoise(audio)
        return
    yield from denoiser.enhance_blocks(chunks(audio, FILE_BLOCK_S), 0.0, Denoiser.offline_scale(audio))


def dry_mixes(audio: np.ndarray, denoiser: Denoiser | None, drys: Iterable[float]) -> Iterator[tuple[float, np.ndarray]]:
    """``(dry, dry * x + (1 - dry) * d)`` for each of ``drys``, ``d`` being ``audio`` denoised once, when
    first needed (never for dry 1, nor without a ``denoiser``: the raw signal then)."""
    audio, denoised = check_audio(audio), None
    for dry in drys:
        if denoiser is None or check_dry(dry) == 1.0:
            yield dry, mix(audio, audio, 1.0)
            continue
        if denoised is None:
            denoised = denoiser.denoise(audio)
        yield dry, mix(audio, denoised, dry)


class PendingChunks:
    """Recorded chunks waiting for one consumer, which takes them all at once.

    A consumer that fell behind gets the chunks that piled up joined into one
    larger chunk per recording and rate, which costs less per second of audio,
    so a stream catches up.
    """

    def __init__(self):
        self._items, self._lock = [], threading.Lock()

    def put(self, key, data: np.ndarray | bytes, rate: int = SAMPLE_RATE) -> bool:
        """Queue a chunk of the recording ``key``; True when the queue was empty (a drain is due)."""
        with self._lock:
            self._items.append((key, data, rate))
            return len(self._items) == 1

    def take(self) -> list[tuple[object, np.ndarray | bytes, int]]:
        """Everything queued as ``(key, joined data, rate)``, in order."""
        with self._lock:
            items, self._items = self._items, []
        taken = []
        for (key, rate), group in itertools.groupby(items, key=lambda item: (item[0], item[2])):
            parts = [data for _, data, _ in group]
            joined = b"".join(parts) if isinstance(parts[0], (bytes, bytearray)) else np.concatenate(parts)
            taken.append((key, joined, rate))
        return taken

    def __len__(self) -> int:
        return len(self._items)
