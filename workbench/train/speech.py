"""Korean speech from espeak-ng (``-v ko`` with voice variants, speeds, pitches), 16 kHz mono."""
import io
import random
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ..audio import SAMPLE_RATE

HELDOUT_VOICES = ["m7", "f5", "klatt4", "Linda"]
# every variant espeak-ng ships, but the held-out ones
TRAIN_VOICES = ["m1", "m2", "m3", "m4", "m5", "m6", "m8", "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3",
                "klatt5", "klatt6", "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis",
                "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike",
                "Mr serious", "Nguyen", "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot",
                "adam", "anika", "anikaRobot", "announcer", "antonio", "aunty", "belinda", "benjamin", "boris",
                "caleb", "croak", "david", "ed", "edward", "edward2", "fast", "grandma", "grandpa", "gustave", "iven",
                "iven2", "iven3", "iven4", "john", "kaukovalta", "marcelo", "max", "michel", "miguel", "norbert",
                "pablo", "paul", "pedro", "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3",
                "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph",
                "steph2", "steph3", "travis", "victor", "whisper", "whisperf", "zac"]


@dataclass(frozen=True)
class Voice:
    variant: str
    speed: int   # words per minute (espeak -s)
    pitch: int   # 0..99 (espeak -p)

    @property
    def name(self) -> str:
        return f"ko+{self.variant}"


def random_voice(r: random.Random, variants=TRAIN_VOICES) -> Voice:
    """Training voices: 100-230 words per minute, pitch 10-90; held-out voices keep the first recipe's ranges."""
    if variants is HELDOUT_VOICES:
        return Voice(r.choice(variants), r.randint(120, 200), r.randint(25, 75))
    return Voice(r.choice(variants), r.randint(100, 230), r.randint(10, 90))


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
