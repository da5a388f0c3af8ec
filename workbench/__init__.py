"""Streaming Korean speech recognition with a speech-enhancement front end.

Importing the package is cheap: NeMo is imported only when a transcriber is loaded.
"""
from .audio import SAMPLE_RATE, load_audio, pcm16_to_float, to_wav_bytes
from .asr import TranscriptEvent, Transcriber, load_transcriber
from .denoise import DEFAULT_DRY, Denoiser, load_denoiser, mix
from .errors import AudioError, CheckpointError, DeviceError, MicrophoneUnavailable, WorkbenchError

__all__ = [
    "SAMPLE_RATE", "DEFAULT_DRY", "load_audio", "pcm16_to_float", "to_wav_bytes",
    "Denoiser", "load_denoiser", "mix", "Transcriber", "TranscriptEvent", "load_transcriber",
    "WorkbenchError", "AudioError", "CheckpointError", "DeviceError", "MicrophoneUnavailable",
]
