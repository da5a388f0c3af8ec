"""Korean speech from espeak-ng (``-v ko`` with voice variants, speeds, pitches), 16 kHz mono."""
import io
import random
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000

TRAIN_VOICES = ["m1", "m2", "m3", "m4", "m5", "m6", "f1", "f2", "f3", "f4",
                "klatt", "klatt2", "klatt3", "Andy", "Annie", "Alicia", "Michael", "Steph", "Max", "Adam"]
HELDOUT_VOICES = ["m7", "f5", "klatt4", "Linda"]


@dataclass(frozen=True)
class Voice:
    variant: str
    speed: int   # words per minute (espeak -s)
    pitch: int   # 0..99 (espeak -p)

    @property
    def name(self) -> str:
        return f"ko+{self.variant}"


def random_voice(r: random.Random, variants=TRAIN_VOICES) -> Voice:
    return Voice(r.choice(variants), r.randint(120, 200), r.randint(25, 75))


def synthesize(text: str, voice: Voice, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 mono waveform at ``sample_rate``, leading/trailing silence trimmed (kept 50-150 ms)."""
    wav = subprocess.run(["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch),
                          "--stdout", text], check=True, capture_output=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    if sr != sample_rate:
        import soxr
        x = soxr.resample(x, sr, sample_rate).astype(np.float32)
    return trim(x, sample_rate)


def trim(x: np.ndarray, sample_rate: int, threshold: float = 1e-3, keep: float = 0.1) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > threshold)
    if len(idx) == 0:
        return x
    pad = int(keep * sample_rate)
    return x[max(0, idx[0] - pad): idx[-1] + pad]


def write(path, x: np.ndarray, sample_rate: int = SAMPLE_RATE):
    sf.write(str(path), np.clip(x, -1, 1), sample_rate, subtype="PCM_16")
