"""Denoiser -> dry mix -> transcriber, chunk by chunk."""
from collections.abc import Iterable, Iterator

import numpy as np

from .asr import Transcriber, TranscriptEvent
from .asr.stream import StreamConfig
from .denoise import DEFAULT_DRY, Denoiser
from .denoise.denoiser import HOP_MS


class Pipeline:
    """Streams audio through an optional denoiser (mixed at ``dry``, hop ``hop_ms``) into a
    transcriber streaming as ``config`` says."""

    def __init__(self, transcriber: Transcriber, denoiser: Denoiser | None = None,
                 dry: float = DEFAULT_DRY, config: StreamConfig = StreamConfig(), hop_ms: float = HOP_MS):
        self.transcriber, self.denoiser, self.dry = transcriber, denoiser, dry
        self.config, self.hop_ms = config, hop_ms

    @property
    def denoising(self) -> bool:
        return self.denoiser is not None and self.dry < 1.0

    @property
    def latency_s(self) -> float:
        """Worst-case lag of text behind audio: denoiser latency plus the recogniser's."""
        asr = self.transcriber.streamer(self.config).latency_s
        return asr + (self.denoiser.stream_latency_s(self.hop_ms) if self.denoising else 0.0)

    def stream(self, chunks: Iterable[np.ndarray], scale: float | None = None) -> Iterator[TranscriptEvent]:
        """Events for ``chunks``; ``scale`` fixes the denoiser's normaliser (None: running RMS)."""
        enhancer = self.denoiser.stream(self.dry, self.hop_ms, scale) if self.denoising else None
        recogniser = self.transcriber.streamer(self.config)
        for chunk in chunks:
            yield from recogniser.feed(enhancer.feed(chunk) if enhancer else chunk)
        if enhancer:
            yield from recogniser.feed(enhancer.flush())
        yield from recogniser.flush()

    def transcribe_file(self, audio: np.ndarray, chunk_s: float = 0.1) -> Iterator[TranscriptEvent]:
        """Stream a whole signal; the denoiser uses its offline normaliser, as :meth:`Denoiser.enhance`."""
        from .audio import chunks

        scale = Denoiser.offline_scale(audio) if self.denoising else None
        return self.stream(chunks(audio, chunk_s), scale)
