"""Streaming Korean speech recognition with a speech-enhancement front end.

Importing the package is cheap: NeMo is imported only when a transcriber is loaded.
"""
from .asr import Transcriber, TranscriptEvent, load_transcriber
from .audio import SAMPLE_RATE, load_audio, pcm16_to_float, to_wav_bytes
from .denoise import DEFAULT_DRY, Denoiser, load_denoiser, mix
from .errors import AudioError, CheckpointError, DeviceError, MicrophoneUnavailable, WorkbenchError

__all__ = [
    "DEFAULT_DRY",
    "SAMPLE_RATE",
    "AudioError",
    "CheckpointError",
    "Denoiser",
    "DeviceError",
    "MicrophoneUnavailable",
    "Transcriber",
    "TranscriptEvent",
    "WorkbenchError",
    "load_audio",
    "load_denoiser",
    "load_transcriber",
    "mix",
    "pcm16_to_float",
    "to_wav_bytes",
]
