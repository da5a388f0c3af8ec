"""Denoiser -> dry mix -> transcriber, chunk by chunk."""
from typing import Iterable, Iterator

import numpy as np

from .asr import Transcriber, TranscriptEvent
from .denoise import DEFAULT_DRY, Denoiser


class Pipeline:
    """Streams audio through an optional denoiser (mixed at ``dry``) into a transcriber."""

    def __init__(self, transcriber: Transcriber, denoiser: Denoiser | None = None,
                 dry: float = DEFAULT_DRY, hop_ms: float = 64.0, **stream_options):
        self.transcriber, self.denoiser, self.dry = transcriber, denoiser, dry
        self.hop_ms, self.stream_options = hop_ms, stream_options

    @property
    def denoising(self) -> bool:
        return self.denoiser is not None and self.dry < 1.0

    def latency_s(self) -> float:
        """Worst-case lag of text behind audio: denoiser latency plus chunk and right context."""
        asr = self.transcriber.streamer(**self.stream_options).latency_s
        return asr + (self.denoiser.latency_s(self.hop_ms) if self.denoising else 0.0)

    def stream(self, chunks: Iterable[np.ndarray], scale: float | None = None) -> Iterator[TranscriptEvent]:
        """Events for ``chunks``; ``scale`` fixes the denoiser's normaliser (None: running RMS)."""
        enhancer = self.denoiser.stream(self.dry, self.hop_ms, scale) if self.denoising else None
        recogniser = self.transcriber.streamer(**self.stream_options)
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
