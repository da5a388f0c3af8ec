"""Live sources: iterate to get fixed-size chunks of 16 kHz mono float32; ``stop()`` ends them.

:class:`MicrophoneSource` reads PortAudio (pyaudio); :class:`FileSource`
delivers a file through the same interface, optionally at real-time pace.
"""
import time
from collections.abc import Iterator

import numpy as np

from .audio import SAMPLE_RATE, chunks, load_audio, pcm16_samples, quiet_c_stderr, stream_resampler
from .errors import MicrophoneUnavailable


class FileSource:
    """A file, chunked as a microphone would deliver it (``realtime=True`` also paces it)."""

    def __init__(self, path, chunk_s: float = 0.1, realtime: bool = False):
        self.audio = load_audio(path)
        self.name, self.chunk_s, self.realtime = str(path), chunk_s, realtime
        self._running = False

    def stop(self) -> None:
        self._running = False

    def __iter__(self) -> Iterator[np.ndarray]:
        self._running = True
        started = time.monotonic()
        for index, chunk in enumerate(chunks(self.audio, self.chunk_s)):
            if not self._running:
                return
            if self.realtime:
                time.sleep(max(0.0, index * self.chunk_s - (time.monotonic() - started)))
            yield chunk

_HOW_TO_FIX = ("connect a microphone (and install PortAudio: apt-get install portaudio19-dev), "
               "or use a file or the browser recorder instead")


def _pyaudio():
    try:
        import pyaudio
    except ImportError:
        raise MicrophoneUnavailable(f"pyaudio is not installed: {_HOW_TO_FIX}") from None
    return pyaudio


def _port_audio():
    """A started PortAudio (``pyaudio.PyAudio``), without its device-probing noise."""
    pyaudio = _pyaudio()
    with quiet_c_stderr():  # PortAudio's ALSA/JACK probing prints there
        return pyaudio.PyAudio()


def list_microphones() -> list[tuple[int, str]]:
    """(index, name) of every PortAudio device with input channels; empty if none."""
    audio = _port_audio()
    try:
        devices = [audio.get_device_info_by_index(i) for i in range(audio.get_device_count())]
    finally:
        audio.terminate()
    return [(int(d["index"]), str(d["name"])) for d in devices if d.get("maxInputChannels", 0) > 0]


def find_microphone(device: int | str | None = None) -> tuple[int, str]:
    """Resolve ``device`` (index, part of a name, or None for the first) to (index, name)."""
    microphones = list_microphones()
    if not microphones:
        raise MicrophoneUnavailable(f"no microphone found: {_HOW_TO_FIX}")
    if device is None:
        return microphones[0]
    for index, name in microphones:
        if device == index or (isinstance(device, str) and device.lower() in name.lower()):
            return index, name
    names = ", ".join(f"{i}: {n}" for i, n in microphones)
    raise MicrophoneUnavailable(f"no microphone matches {device!r}; available: {names}")


class MicrophoneSource:
    """Iterate to record: yields chunks of ``chunk_s`` seconds until :meth:`stop` is called."""

    def __init__(self, device: int | str | None = None, chunk_s: float = 0.1):
        self.index, self.name = find_microphone(device)
        self.chunk_s = chunk_s
        self._running = False

    def stop(self) -> None:
        self._running = False

    def __iter__(self) -> Iterator[np.ndarray]:
        pyaudio = _pyaudio()
        audio = _port_audio()
        try:
            rate = SAMPLE_RATE
            if not self._supports(audio, rate):
                rate = int(audio.get_device_info_by_index(self.index)["defaultSampleRate"])
            frames = max(1, round(self.chunk_s * rate))
            try:
                stream = audio.open(format=pyaudio.paInt16, channels=1, rate=rate, input=True,
                                    input_device_index=self.index, frames_per_buffer=frames)
            except OSError as error:
                raise MicrophoneUnavailable(f"cannot open microphone '{self.name}': {error}") from None
            self._running = True
            resampler = stream_resampler(rate)  # one for the whole stream: no seams between chunks
            try:
                while self._running:
                    yield resampler.feed(pcm16_samples(stream.read(frames, exception_on_overflow=False)))
                yield resampler.flush()
            finally:
                stream.stop_stream()
                stream.close()
        finally:
            audio.terminate()

    def _supports(self, audio, rate: int) -> bool:
        pyaudio = _pyaudio()
        try:
            return bool(audio.is_format_supported(rate, input_device=self.index, input_channels=1,
                                                  input_format=pyaudio.paInt16))
        except ValueError:
            return False
