"""Audio in and out: every source becomes 16 kHz mono float32 in [-1, 1].

Files are decoded with soundfile (wav, flac, ogg, mp3) or, failing that,
librosa's fallback decoders; channels are averaged; the rate is converted
with julius' windowed-sinc ``resample_frac``.
"""
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import julius
import numpy as np
import soundfile
import torch

from .errors import AudioError

SAMPLE_RATE = 16_000


def check_audio(audio) -> np.ndarray:
    """Return ``audio`` as a 1-D float32 array, or raise :class:`AudioError` if unusable."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim != 1:
        raise AudioError(f"expected mono audio (1-D), got shape {array.shape}")
    if array.size == 0:
        raise AudioError("the audio is empty (0 samples)")
    if not np.isfinite(array).all():
        raise AudioError("the audio contains NaN or infinite samples")
    return array


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Convert ``audio`` from ``rate`` to ``target`` Hz (julius, band-limited sinc)."""
    if int(rate) != rate or rate <= 0:
        raise AudioError(f"invalid sample rate {rate}")
    if rate == target:
        return np.asarray(audio, np.float32)
    x = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
    return julius.resample_frac(x, int(rate), int(target)).numpy()


def _decode(source, name: str) -> tuple[np.ndarray, int]:
    """(samples, rate) with samples shaped (time, channels); ``name`` is for the error message."""
    try:
        data, rate = soundfile.read(source, dtype="float32", always_2d=True)
        return data, rate
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        pass
    if isinstance(source, io.BytesIO):
        with tempfile.NamedTemporaryFile(suffix=".audio", delete=False) as handle:
            handle.write(source.getvalue())
        try:
            return _decode_with_librosa(handle.name, name)
        finally:
            os.unlink(handle.name)
    return _decode_with_librosa(source, name)


def _decode_with_librosa(path, name: str) -> tuple[np.ndarray, int]:
    import librosa  # slow import, and only needed for formats soundfile lacks

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, rate = librosa.load(path, sr=None, mono=False)
    except Exception as error:  # audioread raises many unrelated types
        raise AudioError(f"cannot decode {name}: not a supported audio file "
                         f"({type(error).__name__})") from None
    return np.atleast_2d(data).T, rate


def load_audio(source, name: str | None = None) -> np.ndarray:
    """Read a path, ``bytes`` or file object; return 16 kHz mono float32.

    ``name`` (e.g. an uploaded file's name) is what error messages call the source.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name, source = name or "audio bytes", io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        name = name or str(source)
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"audio file not found: {path}")
        if path.stat().st_size == 0:
            raise AudioError(f"audio file is empty: {path}")
    else:
        name = name or getattr(source, "name", "audio stream")
    data, rate = _decode(source, name)
    if data.size == 0:
        raise AudioError(f"{name} holds no audio samples")
    try:
        return check_audio(resample(data.mean(axis=1), rate))
    except AudioError as error:
        raise AudioError(f"{name}: {error}") from None


def pcm16_samples(pcm: bytes, channels: int = 1) -> np.ndarray:
    """Little-endian int16 PCM (as microphones and browsers send it) -> mono float32 in [-1, 1]."""
    if len(pcm) % (2 * channels):
        raise AudioError(f"PCM16 data of {len(pcm)} bytes does not hold whole {channels}-channel frames")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1)


def pcm16_to_float(pcm: bytes, rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """A whole PCM16 recording at ``rate`` -> 16 kHz mono float32 (for a live stream of chunks,
    use :class:`workbench.live_resample.LiveResampler`)."""
    return resample(pcm16_samples(pcm, channels), rate)


def to_wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit WAV bytes, e.g. for an audio player; samples are clipped to [-1, 1]."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(check_audio(audio), -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def chunks(audio: np.ndarray, chunk_s: float = 0.1, rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Split ``audio`` into consecutive chunks of ``chunk_s`` seconds (the last may be shorter)."""
    size = max(1, round(chunk_s * rate))
    for start in range(0, len(audio), size):
        yield audio[start:start + size]
