"""What happens to speech between the talker and the recogniser: vocal tract, room, microphone, telephone line.

- :func:`vocal_tract`: resampling by ``alpha`` and playing back at the original rate scales
  every frequency (formants and pitch) by ``1 / alpha`` and the duration by ``alpha`` — a
  vocal-tract-length perturbation of a synthetic voice.
- :func:`room_impulse`: an image-source RIR of a random shoebox room (pyroomacoustics), wall
  absorption from Sabine's formula for the asked RT60.
- :func:`microphone`: a random EQ (low and high shelf, one peak; RBJ biquads) and level.
- :func:`telephone`: noise first, then the 300-3400 Hz band at 8 kHz and a codec through sox
  (G.711 µ-law and A-law, GSM 06.10, AMR-NB at a random bit rate), back at 16 kHz.
"""
import subprocess

import numpy as np

from ..audio import SAMPLE_RATE
from . import noise as noise_mod

CODECS = ("ul", "al", "gsm", "amr-nb")
TRAINING_RT60 = (0.2, 0.9)   # seconds: the training rooms' reverberation times, drawn uniformly


def vocal_tract(x: np.ndarray, alpha: float) -> np.ndarray:
    import soxr
    return soxr.resample(x, SAMPLE_RATE, SAMPLE_RATE * alpha).astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """RIR of a random room (3-10 × 3-8 × 2.4-3.5 m), talker and microphone 0.5 m or more from the walls,
    normalised to a unit direct-path peak."""
    import pyroomacoustics as pra
    dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.4, 3.5)])
    absorption, order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, 120))
    room.add_source(rng.uniform(0.5, dims - 0.5))
    room.add_microphone(rng.uniform(0.5, dims - 0.5))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float32)
    return h / (np.abs(h).max() + 1e-9)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``rir``, same length as ``x`` plus the tail's first 0.3 s, same RMS."""
    import scipy.signal
    y = scipy.signal.fftconvolve(x, rir)[: len(x) + int(0.3 * SAMPLE_RATE)]
    return (y * np.sqrt(np.mean(x ** 2) / (np.mean(y ** 2) + 1e-12))).astype(np.float32)


def _biquad(kind: str, f0: float, gain_db: float, q: float = 0.7):
    """RBJ audio-EQ-cookbook shelf/peak coefficients (b, a) at SAMPLE_RATE."""
    a_ = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / SAMPLE_RATE
    alpha = np.sin(w) / (2 * q)
    cos = np.cos(w)
    if kind == "peak":
        b = [1 + alpha * a_, -2 * cos, 1 - alpha * a_]
        a = [1 + alpha / a_, -2 * cos, 1 - alpha / a_]
    else:
        sign = 1 if kind == "low" else -1
        s = 2 * np.sqrt(a_) * alpha
        b = [a_ * ((a_ + 1) - sign * (a_ - 1) * cos + s), sign * 2 * a_ * ((a_ - 1) - sign * (a_ + 1) * cos),
             a_ * ((a_ + 1) - sign * (a_ - 1) * cos - s)]
        a = [(a_ + 1) + sign * (a_ - 1) * cos + s, -sign * 2 * ((a_ - 1) + sign * (a_ + 1) * cos),
             (a_ + 1) + sign * (a_ - 1) * cos - s]
    return np.array(b) / a[0], np.array(a) / a[0]


def microphone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random low shelf (100-400 Hz), high shelf (2-6 kHz), both ±10 dB, a ±8 dB peak (300-4000 Hz), then a
    peak level of 0.05-0.95."""
    import scipy.signal
    y = x.astype(np.float64)
    for kind, f0, gain in (("low", rng.uniform(100, 400), rng.uniform(-10, 10)),
                           ("high", rng.uniform(2000, 6000), rng.uniform(-10, 10)),
                           ("peak", rng.uniform(300, 4000), rng.uniform(-8, 8))):
        b, a = _biquad(kind, f0, gain, q=rng.uniform(0.5, 2.0) if kind == "peak" else 0.7)
        y = scipy.signal.lfilter(b, a, y)
    return (y / (np.abs(y).max() + 1e-9) * rng.uniform(0.05, 0.95)).astype(np.float32)


def codec(y8k: np.ndarray, name: str, amr_mode: int = 7) -> np.ndarray:
    """``y8k`` (8 kHz) encoded with sox's ``name`` codec and decoded again (same length, zero-padded)."""
    raw = ["-t", "f32", "-r", "8000", "-c", "1"]
    level = 0.9 / max(1e-9, float(np.abs(y8k).max()))
    encode = ["sox", "-D", *raw, "-", "-t", name, *(["-C", str(amr_mode)] if name == "amr-nb" else []), "-"]
    coded = subprocess.run(encode, input=(y8k * level).astype(np.float32).tobytes(), capture_output=True,
                           check=True).stdout
    decoded = subprocess.run(["sox", "-t", name, *(["-r", "8000"] if name in ("ul", "al") else []), "-",
                              *raw, "-"], input=coded, capture_output=True, check=True).stdout
    z = np.frombuffer(decoded, dtype=np.float32)[: len(y8k)] / level
    return np.pad(z, (0, len(y8k) - len(z))).astype(np.float32)


def telephone(x: np.ndarray, noise: np.ndarray | None, snr_db: float, codec_name: str | None,
              rng: np.random.Generator) -> np.ndarray:
    """``x`` + ``noise`` at ``snr_db`` (none if ``noise`` is None), 8 kHz telephone band, ``codec_name``
    (or none), resampled back to 16 kHz."""
    if noise is not None:
        x = noise_mod.add_noise(x, noise, snr_db, rng)
    y = noise_mod.telephone(x)
    if codec_name:
        y = codec(y, codec_name, amr_mode=int(rng.integers(0, 8)))
    return noise_mod.upsample_telephone(y)
