"""The workbench's state without any widgets or threads: audio, cached denoised signal, mix, transcript.

Tests and the widgets drive the same object. Long operations are generators
that yield the fraction done after each piece, so the caller decides when to
redraw and when to give up.
"""
import time
from typing import Iterator

import numpy as np

from ..asr import Transcriber, TranscriptEvent
from ..audio import SAMPLE_RATE, check_audio, chunks
from ..denoise import DEFAULT_DRY, Denoiser, mix

DENOISE_PIECE_S = 2.0   # file denoising runs in pieces this long (exact, see DemucsStream)
ASR_CHUNK_S = 0.5       # mixed audio goes to the recogniser in chunks this long
LIVE_HOP_MS = 64.0


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


class Session:
    """Raw audio, its denoised version (computed once), the dry mix and the transcript events."""

    def __init__(self, dry: float = DEFAULT_DRY):
        self.denoiser: Denoiser | None = None
        self.transcriber: Transcriber | None = None
        self.dry = dry
        self.use_lm = True  # decode with the transcriber's LM when it has one
        self.set_audio(np.zeros(0, np.float32))

    # -- audio and mix -------------------------------------------------
    def set_audio(self, audio: np.ndarray, name: str = "") -> None:
        """Start over with ``audio`` (an empty array starts a live recording)."""
        self.raw = Buffer(audio)
        self.denoised = Buffer() if self.denoiser else None
        self.name = name
        self._mixed = (None, None)
        self._enhancer = self._recogniser = None
        self.recording = False
        self.denoise_time, self.asr_time = Timer(), Timer()
        self.clear_transcript()

    @property
    def audio(self) -> np.ndarray:
        return self.raw.array

    @property
    def duration_s(self) -> float:
        return len(self.raw) / SAMPLE_RATE

    @property
    def can_retranscribe(self) -> bool:
        """Whether there is a finished signal and a recogniser to transcribe it again."""
        return not self.recording and self.transcriber is not None and len(self.audio) > 0

    @property
    def mixed(self) -> np.ndarray:
        """``dry * x + (1 - dry) * y`` over the part denoised so far (the raw audio without a denoiser)."""
        if self.denoised is None:
            return self.audio
        key = (len(self.denoised), self.dry)
        if self._mixed[0] != key:
            y = self.denoised.array
            self._mixed = (key, mix(self.audio[:len(y)], y, self.dry))
        return self._mixed[1]

    def set_dry(self, dry: float) -> np.ndarray:
        """Change the mix; the cached denoised signal is reused. Returns the new mix."""
        mix(np.zeros(1, np.float32), np.zeros(1, np.float32), dry)  # validates dry
        self.dry = float(dry)
        return self.mixed

    # -- whole signals -------------------------------------------------
    def denoise(self) -> Iterator[float]:
        """Denoise the whole signal once (exactly :meth:`Denoiser.denoise`, in pieces); yields progress."""
        if self.denoiser is None:
            return
        audio = check_audio(self.audio)
        self.denoised, self.denoise_time = Buffer(), Timer()
        if not self.denoiser.model.causal:  # cannot stream: one piece
            started = time.perf_counter()
            self.denoised.append(self.denoiser.denoise(audio))
            self.denoise_time.add(started, len(audio))
            yield 1.0
            return
        stream = self.denoiser.stream(0.0, hop_ms=1000 * DENOISE_PIECE_S, scale=Denoiser.offline_scale(audio))
        for piece in chunks(audio, DENOISE_PIECE_S):
            started = time.perf_counter()
            self.denoised.append(stream.feed(piece))
            self.denoise_time.add(started, len(piece))
            yield len(self.denoised) / len(audio)
        self.denoised.append(stream.flush())
        yield 1.0

    def transcribe(self) -> Iterator[float]:
        """Stream the current mix through the recogniser, collecting events; yields progress."""
        self.clear_transcript()
        if self.transcriber is None:
            return
        self.transcript_dry = self.dry
        signal = self.mixed
        recogniser, self.asr_time = self.transcriber.streamer(use_lm=self.use_lm), Timer()
        for index, piece in enumerate(chunks(signal, ASR_CHUNK_S)):
            started = time.perf_counter()
            self.take(recogniser.feed(piece))
            self.asr_time.add(started, len(piece))
            yield min(1.0, (index + 1) * ASR_CHUNK_S * SAMPLE_RATE / len(signal))
        self.take(recogniser.flush())
        yield 1.0

    # -- live ----------------------------------------------------------
    def start_live(self, name: str = "recording") -> None:
        """Begin a recording: chunks come through :meth:`feed` and are processed as they arrive."""
        self.set_audio(np.zeros(0, np.float32), name)
        self._enhancer = self.denoiser.stream(0.0, LIVE_HOP_MS) if self.denoiser else None
        self._recogniser = self.transcriber.streamer(use_lm=self.use_lm) if self.transcriber else None
        self._recognised = 0
        self.transcript_dry = self.dry
        self.recording = True

    def feed(self, chunk: np.ndarray) -> None:
        """Append a recorded chunk (16 kHz float32): denoise it, mix it, transcribe it."""
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        if not len(chunk):
            return
        self.raw.append(chunk)
        if self._enhancer is not None:
            started = time.perf_counter()
            self.denoised.append(self._enhancer.feed(chunk))
            self.denoise_time.add(started, len(chunk))
        self._recognise_new()

    def finish_live(self) -> None:
        """End of the recording: flush the denoiser and the recogniser."""
        if self._enhancer is not None:
            self.denoised.append(self._enhancer.flush())
        self._enhancer = None
        self._recognise_new()
        if self._recogniser is not None:
            self.take(self._recogniser.flush())
        self._recogniser = None
        self.recording = False

    def _recognise_new(self) -> None:
        if self._recogniser is None:
            return
        new = self.mixed[self._recognised:]
        if len(new):
            started = time.perf_counter()
            self.take(self._recogniser.feed(new))
            self.asr_time.add(started, len(new))
            self._recognised += len(new)

    # -- transcript ----------------------------------------------------
    def clear_transcript(self) -> None:
        self.finals: list[TranscriptEvent] = []
        self.partial: TranscriptEvent | None = None
        self.transcript_dry: float | None = None  # the dry mix the transcript was made from

    def take(self, events: list[TranscriptEvent]) -> None:
        """Apply recogniser events: a final closes the open segment, a partial replaces it."""
        for event in events:
            if event.final:
                self.finals.append(event)
                self.partial = None
            else:
                self.partial = event

    @property
    def text(self) -> str:
        """The final transcript so far as one string."""
        return " ".join(event.text for event in self.finals if event.text)
