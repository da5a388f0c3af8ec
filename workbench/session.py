"""The workbench's state without any widgets or threads: audio, cached denoised signal, mix, transcript.

Tests, scripts and the notebook's widgets drive the same object; the composing
(denoise, mix, recognise) is :mod:`workbench.live`'s. Long operations are
generators that yield the fraction done after each piece, so the caller decides
when to redraw and when to give up.
"""
import time
from collections.abc import Iterator

import numpy as np

from .asr import Transcriber, TranscriptEvent
from .audio import SAMPLE_RATE, check_audio
from .denoise import DEFAULT_DRY, Denoiser, check_dry, mix
from .live import Buffer, LiveStream, Timer, denoise_blocks


class Session:
    """Raw audio, its denoised version (computed once), the dry mix and the transcript events."""

    def __init__(self, dry: float = DEFAULT_DRY):
        self.denoiser: Denoiser | None = None
        self.transcriber: Transcriber | None = None
        self.dry = dry
        self.use_lm = True  # decode with the transcriber's LM when it has one
        self.stream = None  # a tuning grid point's stream (workbench.tuning.GridPoint); None: the default
        self.set_audio(np.zeros(0, np.float32))

    def recogniser(self) -> tuple:
        """The transcriber and buffered sizes that stream as :attr:`stream` says (:func:`~workbench.tuning.stream_source`)."""
        from .tuning import stream_source

        return (None, None) if self.transcriber is None else stream_source(self.transcriber, self.stream)

    # -- audio and mix -------------------------------------------------
    def set_audio(self, audio: np.ndarray, name: str = "") -> None:
        """Start over with ``audio`` (an empty array starts a live recording)."""
        self.raw = Buffer(audio)
        self.denoised = Buffer() if self.denoiser else None
        self.name = name
        self._mixed = (None, None)
        self.live: LiveStream | None = None
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
        self.dry = check_dry(dry)
        if self.live is not None:
            self.live.dry = self.dry  # the recording's next samples are mixed at it
        return self.mixed

    # -- whole signals -------------------------------------------------
    def denoise(self) -> Iterator[float]:
        """Denoise the whole signal once (exactly :meth:`Denoiser.denoise`, block by block); yields progress."""
        if self.denoiser is None:
            return
        audio = check_audio(self.audio)
        self.denoised, self.denoise_time = Buffer(), Timer()
        started = time.perf_counter()
        for block in denoise_blocks(self.denoiser, audio):
            self.denoised.append(block)
            self.denoise_time.add(started, len(block))
            started = time.perf_counter()
            yield len(self.denoised) / len(audio)

    def transcribe(self) -> Iterator[float]:
        """Stream the current mix (the cached denoised signal at ``dry``) through the recogniser,
        collecting events; yields progress."""
        self.clear_transcript()
        if self.transcriber is None:
            return
        self.transcript_dry = self.dry
        audio = self.audio if self.denoised is None else self.audio[:len(self.denoised)]
        model, config = self.recogniser()
        stream = LiveStream.for_file(audio, model, dry=self.dry, use_lm=self.use_lm, config=config,
                                     denoised=None if self.denoised is None else self.denoised.array)
        self.asr_time = stream.asr_time
        for done, events in stream.run(audio):
            self.take(events)
            yield done

    # -- live ----------------------------------------------------------
    def start_live(self, name: str = "recording") -> None:
        """Begin a recording: chunks come through :meth:`feed` and are processed as they arrive."""
        self.set_audio(np.zeros(0, np.float32), name)
        model, config = self.recogniser()
        self.live = LiveStream(model, self.denoiser, self.dry, self.use_lm, keep=True, config=config)
        self.raw, self.denoised = self.live.raw, self.live.denoised
        self.denoise_time, self.asr_time = self.live.denoise_time, self.live.asr_time
        self.transcript_dry = self.dry
        self.recording = True

    def feed(self, chunk: np.ndarray | bytes, rate: int = SAMPLE_RATE) -> None:
        """Append a recorded chunk (float32 or PCM16 bytes at ``rate``): denoise it, mix it, transcribe it."""
        self.take(self.live.feed(chunk, rate))

    @property
    def level(self) -> float:
        """RMS of the recording's last 100 ms (0 when not recording)."""
        return self.live.level if self.live is not None else 0.0

    def finish_live(self) -> None:
        """End of the recording: flush the resampler, the denoiser and the recogniser."""
        self.take(self.live.finish())
        self.live = None
        self.recording = False

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
    def words(self) -> tuple:
        """The words of the final transcript so far, in order (absolute times)."""
        return tuple(word for event in self.finals for word in event.words)

    @property
    def text(self) -> str:
        """The final transcript so far as one string."""
        return " ".join(event.text for event in self.finals if event.text)
