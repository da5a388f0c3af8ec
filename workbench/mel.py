"""Log-mel spectrograms for display.

S[m, t] = 10 log10(max(sum_k |X[k, t]|^2 M[m, k], 1e-10)), with X the STFT
(25 ms Hann window, 10 ms hop) and M an 80-band mel filterbank up to 8 kHz.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .audio import SAMPLE_RATE, check_audio

N_FFT, HOP, N_MELS = 400, 160, 80


@dataclass(frozen=True)
class MelSpectrogram:
    """dB values (mels, frames) with their axes: frame times (s) and band centre frequencies (Hz)."""

    db: np.ndarray
    times: np.ndarray
    freqs: np.ndarray


@lru_cache(maxsize=1)
def _filterbank() -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS))


def mel_spectrogram(audio: np.ndarray) -> MelSpectrogram:
    """The log-mel spectrogram of 16 kHz mono ``audio``."""
    x = torch.from_numpy(check_audio(audio))
    if len(x) < N_FFT:
        x = torch.nn.functional.pad(x, (0, N_FFT - len(x)))
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2
    db = 10 * torch.log10(torch.clamp(_filterbank() @ spec, min=1e-10))
    import librosa

    freqs = librosa.mel_frequencies(n_mels=N_MELS, fmax=SAMPLE_RATE / 2)
    return MelSpectrogram(db.numpy(), np.arange(db.shape[1]) * HOP / SAMPLE_RATE, freqs)
