"""Make the bundled examples in ``audio_example/``: everyday Korean sentences written for them, spoken by
espeak-ng voices the bundled models never heard, each clip in one listening condition.

    python tools/make_examples.py              # audio_example/NAME.wav + NAME.txt for every clip in CLIPS
    python tools/make_examples.py --out DIR    # the same, elsewhere
    python tools/make_examples.py --check      # only check that no sentence is training or evaluation text

Every piece is the training generator's own (``workbench.train``): espeak-ng speech (``speech``), noise
kinds and SNR mixing (``noise``), the telephone codec and the image-source rooms (``channel``). Clip i
draws its noise and room from ``numpy.random.default_rng((SEED, i))`` and the babble talkers from
``SEED``, so the same machine writes the same files byte for byte.

Before writing, the sentences are checked against every sentence the training data can hold (the
generator's list, konlpy's corpora, the Kiwi and Faker phrases for both recipes used) and the written
evaluation sentences: none may occur there.
"""
import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench.train import channel, data, speech, text
from workbench.train import noise as noise_mod

SEED = 29
PEAK = 0.5                    # the clean speech's peak level before its condition
BABBLE_TALKERS = 24           # utterances in the babble pool (generator sentences, training voices)
NATURAL_RECIPES = ((data.Recipe().n_kiwi, data.Recipe().n_faker), (2000, 3000))   # default; the bundled data's run


@dataclass(frozen=True)
class Clip:
    """One example: its file name, what is said, by which voice, and what happens to it (``condition``
    names a function below; ``snr_db`` for the noisy ones, ``rt60`` in seconds for the room)."""
    name: str
    sentence: str
    voice: speech.Voice
    condition: str
    snr_db: float | None = None
    rt60: float | None = None


# the held-out voices (speech.HELDOUT_VOICES) at speeds and pitches inside their evaluation ranges
CLIPS = (
    Clip("clean", "안녕하세요 저는 이서윤이라고 합니다 오늘부터 삼 층 마케팅 팀에서 일하게 됐어요",
         speech.Voice("f5", 150, 50), "clean"),
    Clip("babble", "주말에 같이 저녁 먹을래요 아니면 다음 주 수요일이 더 편하세요",
         speech.Voice("m7", 160, 40), "babble", snr_db=5.0),
    Clip("street", "버스가 십오 분이나 늦게 와서 약속 시간에 못 맞출 것 같아",
         speech.Voice("klatt4", 150, 55), "street", snr_db=0.0),
    Clip("hum", "세탁기가 또 멈췄는데 서비스 센터에 전화해 볼까",
         speech.Voice("Linda", 140, 60), "hum", snr_db=0.0),
    Clip("telephone", "여보세요 최준호 씨 휴대폰 맞나요 주문하신 책상이 모레 오전 열한 시쯤 도착합니다",
         speech.Voice("m7", 170, 35), "telephone", snr_db=15.0),
    Clip("room", "이 강의실은 소리가 많이 울려서 뒤에서 세 번째 줄부터는 잘 안 들려요",
         speech.Voice("f5", 150, 65), "room", rt60=0.8),
)


def clean(x, clip, rng, pool):
    return x, speech.SAMPLE_RATE


def babble(x, clip, rng, pool):
    """Other talkers (3-7 streams from ``pool``) at ``snr_db``."""
    return noise_mod.add_noise(x, noise_mod.make("babble", len(x), rng, pool), clip.snr_db, rng), speech.SAMPLE_RATE


def street(x, clip, rng, pool):
    """Brown noise with slow traffic swells at ``snr_db``."""
    return noise_mod.add_noise(x, noise_mod.make("street", len(x), rng), clip.snr_db, rng), speech.SAMPLE_RATE


def hum(x, clip, rng, pool):
    """Mains hum (50 or 60 Hz and harmonics) at ``snr_db``."""
    return noise_mod.add_noise(x, noise_mod.make("hum", len(x), rng), clip.snr_db, rng), speech.SAMPLE_RATE


def telephone(x, clip, rng, pool):
    """Street noise at ``snr_db``, then the 300-3400 Hz band at 8 kHz and GSM 06.10, kept at 8 kHz."""
    noisy = noise_mod.add_noise(x, noise_mod.make("street", len(x), rng), clip.snr_db, rng)
    return channel.codec(noise_mod.telephone(noisy), "gsm"), 8000


def room(x, clip, rng, pool):
    """A random shoebox room with reverberation time ``rt60`` (image-source RIR), talker and microphone apart."""
    return channel.reverberate(x, channel.room_impulse(rng, clip.rt60)), speech.SAMPLE_RATE


CONDITIONS = {"clean": clean, "babble": babble, "street": street, "hum": hum, "telephone": telephone, "room": room}


def known_sentences() -> set[str]:
    """Every sentence the training and evaluation data can hold: the generator's list (training and held-out),
    konlpy's corpus sentences (both parts), the written evaluation sentences and the Kiwi and Faker phrases."""
    corpus_train, corpus_held = text.corpus_split()
    known = set(text.make_sentences(30000, seed=0)) | set(corpus_train) | set(corpus_held)
    known |= set(data.written_heldout())
    for n_kiwi, n_faker in NATURAL_RECIPES:
        known |= set(text.natural_sentences(n_kiwi, n_faker, seed=0))
    return known


def check(clips=CLIPS) -> None:
    """Raise if a sentence is not plain Hangul words or occurs in the training or evaluation text."""
    for clip in clips:
        if text.normalize(clip.sentence) != clip.sentence:
            raise ValueError(f"{clip.name}: not Hangul words separated by single spaces: {clip.sentence}")
    known = known_sentences()
    seen = [clip.name for clip in clips if clip.sentence in known]
    if seen:
        raise ValueError(f"training or evaluation sentences: {', '.join(seen)}")


def babble_pool() -> list[np.ndarray]:
    """``BABBLE_TALKERS`` generator sentences in training voices: the talkers behind the babble clip."""
    voices = random.Random(SEED)
    return [speech.synthesize(sentence, speech.random_voice(voices))
            for sentence in text.make_sentences(BABBLE_TALKERS, seed=SEED)]


def make(clip: Clip, index: int, pool=None) -> tuple[np.ndarray, int]:
    """(audio, sample rate) of ``clip``, the ``index``-th of ``CLIPS``."""
    x = speech.synthesize(clip.sentence, clip.voice)
    x = x / (np.abs(x).max() + 1e-9) * PEAK
    return CONDITIONS[clip.condition](x, clip, np.random.default_rng((SEED, index)), pool)


def write_all(out: Path, clips=CLIPS, log=print) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pool = babble_pool() if any(clip.condition == "babble" for clip in clips) else None
    for index, clip in enumerate(clips):
        audio, rate = make(clip, index, pool)
        speech.write(out / f"{clip.name}.wav", audio, rate)
        (out / f"{clip.name}.txt").write_text(clip.sentence + "\n", encoding="utf-8")
        log(f"{clip.name}.wav: {len(audio) / rate:.1f} s at {rate} Hz, {clip.voice.name}, {clip.condition}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "audio_example"), help="folder for NAME.wav and NAME.txt")
    parser.add_argument("--check", action="store_true", help="only check the sentences, write nothing")
    args = parser.parse_args(argv)
    check()
    print(f"{len(CLIPS)} sentences, none in the training or evaluation text")
    if not args.check:
        write_all(Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
