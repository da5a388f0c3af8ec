"""Audio in and out: every source becomes 16 kHz mono float32 in [-1, 1].

Files are decoded in blocks with soundfile (wav, flac, ogg, mp3) or, failing
that, audioread (ffmpeg); channels are averaged. The rate is converted by
:mod:`workbench.resample` (which also holds the rates accepted; their names
are importable from here too).

Limits (a hostile file costs no more than its message): rates outside
``MIN_RATE .. MAX_RATE`` are refused, decoding stops with an error beyond
``max_audio_s()`` seconds (``WORKBENCH_MAX_AUDIO_S``, default 4 hours), at
most ``BLOCK_VALUES`` samples are decoded at once, and file samples outside
[-1, 1] are refused.
"""
import contextlib
import io
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

from .errors import AudioError
from .resample import MAX_RATE, MIN_RATE, SAMPLE_RATE, check_rate, resample, stream_resampler  # noqa: F401 - re-exported

DEFAULT_MAX_AUDIO_S = 4 * 3600
ACCEPTED_FORMATS = "WAV, FLAC, OGG (Vorbis, Opus), MP3, and what ffmpeg reads, e.g. M4A or WebM"
BLOCK_VALUES = 1 << 20          # samples (all channels) decoded at once: 4 MB of float32


class AudioTooLong(AudioError):
    """Audio longer than a limit (a service answers it with 413, not 400)."""


def max_audio_s() -> float:
    """The longest audio any source may decode to: ``WORKBENCH_MAX_AUDIO_S`` seconds, default 4 hours."""
    text = os.environ.get("WORKBENCH_MAX_AUDIO_S", "").strip()
    try:
        limit = float(text) if text else DEFAULT_MAX_AUDIO_S
    except ValueError:
        limit = math.nan
    if not math.isfinite(limit) or limit <= 0:
        raise AudioError(f"WORKBENCH_MAX_AUDIO_S must be a positive number of seconds, got {text!r}")
    return limit


def check_chunk(chunk) -> np.ndarray:
    """A piece of a stream as a 1-D float32 array (maybe empty), or :class:`AudioError` when it is
    not mono or holds NaN or infinite samples. Streams check each chunk before it touches their
    state, so a refused chunk leaves them usable."""
    array = np.asarray(chunk, dtype=np.float32)
    if array.ndim != 1:
        raise AudioError(f"expected mono audio (1-D), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AudioError("the audio contains NaN or infinite samples")
    return array


def check_audio(audio) -> np.ndarray:
    """Return ``audio`` as a 1-D float32 array, or raise :class:`AudioError` if unusable."""
    array = check_chunk(audio)
    if array.size == 0:
        raise AudioError("the audio is empty (0 samples)")
    return array


_STDERR_SWAP = threading.Lock()  # fd 2 is the process's: one swap at a time, or two would restore each other's


@contextlib.contextmanager
def quiet_c_stderr():
    """Silence C-level stderr for a moment (libmpg123 and PortAudio's device probing print there).

    Threads that decode at once take turns: each swap saves and restores the real fd 2.
    """
    with _STDERR_SWAP:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _soundfile_blocks(source) -> tuple[int, float, Iterator[np.ndarray]] | None:
    """(rate, declared seconds, float32 (frames, channels) blocks), or None if soundfile cannot open it."""
    try:
        with quiet_c_stderr():
            handle = soundfile.SoundFile(source)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None

    def blocks():
        with handle:
            frames = max(1, BLOCK_VALUES // handle.channels)
            while True:
                with quiet_c_stderr():
                    block = handle.read(frames, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield block

    seconds = handle.frames / handle.samplerate if handle.samplerate > 0 else math.inf
    return handle.samplerate, seconds, blocks()


def _audioread_blocks(path) -> tuple[int, float, Iterator[np.ndarray]]:
    """The same through audioread (ffmpeg and friends), 16-bit PCM blocks; raises on failure."""
    import audioread  # slow import, and only needed for formats soundfile lacks

    handle = audioread.audio_open(str(path))
    channels = max(1, int(handle.channels))

    def blocks():
        with handle:
            for data in handle:
                usable = len(data) - len(data) % (2 * channels)
                yield np.frombuffer(data[:usable], "<i2").reshape(-1, channels).astype(np.float32) / 32768.0

    return handle.samplerate, float(handle.duration or 0.0), blocks()


@contextlib.contextmanager
def _opened(source, name: str):
    """(rate, declared seconds, blocks) of any source; bytes go through a temporary file for audioread."""
    if isinstance(source, io.BytesIO):
        opened = _soundfile_blocks(source)
        if opened is not None:
            yield opened
            return
        with tempfile.NamedTemporaryFile(suffix=".audio") as handle:
            handle.write(source.getvalue())
            handle.flush()
            with _opened(handle.name, name) as opened:
                yield opened
        return
    opened = _soundfile_blocks(source)
    if opened is None:
        try:
            with quiet_c_stderr():
                opened = _audioread_blocks(source)
        except Exception:  # noqa: BLE001 - audioread raises many unrelated types
            raise AudioError(f"cannot decode {name}: not a supported audio file (accepted: {ACCEPTED_FORMATS})") \
                from None
    yield opened


def _source(source, name: str | None):
    """(decodable source, name for messages); checks that a path names a non-empty file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), name or "audio bytes"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"audio file not found: {path}")
        if path.stat().st_size == 0:
            raise AudioError(f"audio file is empty: {path}")
        return path, name or str(source)
    return source, name or getattr(source, "name", "audio stream")


def audio_blocks(source, name: str | None = None, max_s: float | None = None) -> Iterator[np.ndarray]:
    """Decode a path, ``bytes`` or file object block by block: 16 kHz mono float32 pieces whose
    concatenation is :func:`load_audio`'s result. Memory stays at a block, whatever the length.

    ``name`` (e.g. an uploaded file's name) is what error messages call the source. Audio longer
    than ``max_s`` (a caller's own limit) or ``max_audio_s()``, whichever is shorter, raises
    :class:`AudioTooLong`: before decoding when the file declares its duration, else at the limit.
    """
    source, name = _source(source, name)
    limit, setting = max_audio_s(), " (WORKBENCH_MAX_AUDIO_S)"
    if max_s is not None and max_s < limit:
        limit, setting = max_s, ""
    with _opened(source, name) as (rate, declared_s, blocks):
        try:
            rate = check_rate(rate)
            if declared_s > limit:
                raise AudioTooLong(f"declares {declared_s:.0f} s of audio, more than the limit of {limit:g} s"
                                   + setting)
            resampler, total = stream_resampler(rate), 0
            for block in blocks:
                if not np.isfinite(block).all():
                    raise AudioError("the audio contains NaN or infinite samples")
                peak = float(np.abs(block).max())
                if peak > 1.0:
                    raise AudioError(f"samples reach {peak:.3g}, outside [-1, 1]: not normalised audio")
                out = resampler.feed(block.mean(axis=1))
                total += len(out)
                if total > limit * SAMPLE_RATE:
                    raise AudioTooLong(f"more than the limit of {limit:g} s of audio{setting}")
                if len(out):
                    yield np.clip(out, -1.0, 1.0)
            rest = resampler.flush()
            if total + len(rest) == 0:
                raise AudioError("holds no audio samples")
            if len(rest):
                yield np.clip(rest, -1.0, 1.0)
        except AudioError as error:
            raise type(error)(f"{name}: {error}") from None
        except (soundfile.LibsndfileError, RuntimeError, EOFError, OSError) as error:
            raise AudioError(f"cannot decode {name}: the file is damaged ({type(error).__name__})") from None


def load_audio(source, name: str | None = None, max_s: float | None = None) -> np.ndarray:
    """Read a path, ``bytes`` or file object; return 16 kHz mono float32 in [-1, 1].

    ``name`` (e.g. an uploaded file's name) is what error messages call the source; ``max_s``
    is a limit shorter than ``max_audio_s()`` (see :func:`audio_blocks`).
    """
    return np.concatenate(list(audio_blocks(source, name, max_s)))


def pcm16_samples(pcm: bytes, channels: int = 1) -> np.ndarray:
    """Little-endian int16 PCM (as microphones and browsers send it) -> mono float32 in [-1, 1]."""
    if len(pcm) % (2 * channels):
        raise AudioError(f"PCM16 data of {len(pcm)} bytes does not hold whole {channels}-channel frames")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1)


def pcm16_to_float(pcm: bytes, rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """A whole PCM16 recording at ``rate`` -> 16 kHz mono float32 (for a live stream of chunks,
    use :func:`stream_resampler`)."""
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
