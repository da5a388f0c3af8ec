"""Noise kinds, adding noise at an SNR, and the 8 kHz telephone band.

Kinds: white, pink, brown ("street": brown with slow traffic swells), hum
(mains 50/60 Hz with harmonics), babble (other utterances summed) and cafe
(quiet babble + pink + dish clatter). Every generator takes a numpy
``Generator`` so data are reproducible.
"""
import numpy as np

from ..audio import SAMPLE_RATE

KINDS = ["white", "pink", "brown", "hum", "babble", "cafe"]


def _colored(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    f[0] = f[1]
    spec *= f ** (-exponent / 2)
    x = np.fft.irfft(spec, n)
    return _unit(x)


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def white(n, rng):
    return _unit(rng.standard_normal(n))


def pink(n, rng):
    return _colored(n, rng, 1.0)


def brown(n, rng):
    """Brown noise with slow amplitude swells, like passing traffic."""
    x = _colored(n, rng, 2.0)
    t = np.arange(n) / SAMPLE_RATE
    swell = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))
    return _unit(x * swell)


def hum(n, rng):
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.98, 1.02)
    t = np.arange(n) / SAMPLE_RATE
    x = np.zeros(n)
    for k in range(1, 12):
        x += rng.uniform(0.1, 1.0) / k ** rng.uniform(0.3, 1.2) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3))
    x = _unit(x) + 0.05 * white(n, rng)
    return _unit(x)


def babble(n, rng, pool: list[np.ndarray], talkers=(3, 7)):
    """Sum of ``talkers`` streams, each a concatenation of random utterances from ``pool``."""
    x = np.zeros(n, dtype=np.float32)
    for _ in range(rng.integers(talkers[0], talkers[1] + 1)):
        stream, total = [], 0
        while total < n + SAMPLE_RATE:
            u = pool[rng.integers(len(pool))]
            u = u / (np.sqrt(np.mean(u ** 2)) + 1e-9) * rng.uniform(0.5, 1.5)
            stream.append(u)
            total += len(u)
        s = np.concatenate(stream)
        off = rng.integers(0, len(s) - n)
        x += s[off:off + n]
    return _unit(x)


def clatter(n, rng):
    """Dish and cutlery clinks: decaying high-pitched partials at random times."""
    x = np.zeros(n)
    for _ in range(rng.poisson(n / SAMPLE_RATE * 3) + 1):
        dur = int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
        t = np.arange(dur) / SAMPLE_RATE
        burst = sum(np.sin(2 * np.pi * rng.uniform(1500, 7000) * t + rng.uniform(0, 6.3)) for _ in range(3))
        burst = burst * np.exp(-t * rng.uniform(15, 60)) * rng.uniform(0.3, 1.0)
        start = rng.integers(0, max(1, n - dur))
        x[start:start + dur] += burst[: n - start]
    return _unit(x)


def cafe(n, rng, pool):
    return _unit(babble(n, rng, pool, talkers=(4, 8)) + 0.4 * pink(n, rng) + 0.6 * clatter(n, rng))


def make(kind: str, n: int, rng: np.random.Generator, pool=None) -> np.ndarray:
    if kind in ("babble", "cafe"):
        if not pool:
            raise ValueError(f"{kind} noise needs a pool of utterances")
        return {"babble": babble, "cafe": cafe}[kind](n, rng, pool)
    return {"white": white, "pink": pink, "brown": brown, "street": brown, "hum": hum}[kind](n, rng)


def noisy_pair(clean: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator | None = None):
    """(clean + g * noise, clean) with g = sqrt(P_clean / (P_noise 10^(snr_db / 10))), P the mean power,
    both scaled by the same factor if the sum would clip.

    The noise is cropped at a random offset (or tiled) to the length of ``clean``. This is an SNR mix,
    not the workbench's dry mix (:func:`workbench.denoise.mix`).
    """
    n = len(clean)
    if len(noise) < n:
        noise = np.tile(noise, n // len(noise) + 1)
    off = 0 if rng is None or len(noise) == n else int(rng.integers(0, len(noise) - n + 1))
    noise = noise[off:off + n]
    p_clean = np.mean(clean ** 2) + 1e-12
    p_noise = np.mean(noise ** 2) + 1e-12
    out = clean + noise * np.sqrt(p_clean / p_noise / 10 ** (snr_db / 10))
    gain = min(1.0, 0.99 / (np.abs(out).max() + 1e-12))
    return (out * gain).astype(np.float32), (clean * gain).astype(np.float32)


def add_noise(clean: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """clean + noise scaled to ``snr_db`` (see :func:`noisy_pair`)."""
    return noisy_pair(clean, noise, snr_db, rng)[0]


def telephone(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """8 kHz telephone band (300-3400 Hz) copy of ``x``, returned at 8 kHz."""
    import scipy.signal
    import soxr
    y = soxr.resample(x, sample_rate, 8000)
    sos = scipy.signal.butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")
    return scipy.signal.sosfilt(sos, y).astype(np.float32)


def upsample_telephone(y: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    import soxr
    return soxr.resample(y, 8000, sample_rate).astype(np.float32)

