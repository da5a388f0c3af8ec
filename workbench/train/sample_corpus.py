"""A small synthetic corpus in KsponSpeech's published layout, to try ``prepare`` and a fine-tune end to end.

``python -m workbench.train.sample_corpus OUT [--train 40 --dev 8 --eval 8 --seed 0]`` writes
``OUT/KsponSpeech_01/KsponSpeech_0001/KsponSpeech_NNNNNN.{pcm,txt}`` (training), ``OUT/KsponSpeech_05/...``
(dev), ``OUT/KsponSpeech_eval/eval_clean/...`` and the lists ``OUT/KsponSpeech_scripts/{train,dev,
eval_clean}.trn``. Sentences come from :func:`.text.natural_sentences` (Kiwi-joined templates, Faker
call-centre and in-car phrases), decorated with KsponSpeech's marks
(noise tags, fillers, repetitions, unclear words; see :mod:`.transcripts`); espeak-ng (:mod:`.speech`, training
voices; held-out voices for dev and eval) speaks their spoken form. Audio is raw 16 kHz 16-bit little-endian
PCM, transcripts CP949, as in the real corpus.
"""
import argparse
import random
from pathlib import Path

import numpy as np

from . import speech, text, transcripts


def decorate(sentence: str, r: random.Random) -> str:
    """``sentence`` with KsponSpeech's marks added; :func:`.transcripts.ksponspeech` gives back what is said."""
    words = sentence.split()
    if r.random() < 0.3:
        words[0] = f"{words[0][0]}+ {words[0]}"           # a stutter: the repeated start of the first word
    if r.random() < 0.3:
        position = r.randrange(len(words))
        words[position] += "*"                              # unclear
    if r.random() < 0.4:
        words.insert(0, r.choice(["어/", "음/", "아/", "그/"]))   # filler
    if r.random() < 0.4:
        words.insert(r.randrange(len(words) + 1), r.choice(["b/", "n/", "l/", "o/"]))
    return " ".join(words)


def write(out, n_train=40, n_dev=8, n_eval=8, seed=0, log=print) -> Path:
    out = Path(out)
    r = random.Random(seed)
    total = n_train + n_dev + n_eval
    sentences = text.natural_sentences(total - total // 2, total // 2, seed)
    r.shuffle(sentences)
    layout = [("train", out / "KsponSpeech_01" / "KsponSpeech_0001", "KsponSpeech_{:06d}", n_train, 1),
              ("dev", out / "KsponSpeech_05" / "KsponSpeech_0621", "KsponSpeech_{:06d}", n_dev, 620001),
              ("eval_clean", out / "KsponSpeech_eval" / "eval_clean", "KsponSpeech_E{:05d}", n_eval, 1)]
    (out / "KsponSpeech_scripts").mkdir(parents=True, exist_ok=True)
    for split, folder, name, count, first in layout:
        folder.mkdir(parents=True, exist_ok=True)
        voices = speech.TRAIN_VOICES if split == "train" else speech.HELDOUT_VOICES
        lines = []
        for number in range(first, first + count):
            raw = decorate(sentences.pop(), r)
            audio = speech.synthesize(transcripts.ksponspeech(raw), speech.random_voice(r, voices))
            audio = audio / (np.abs(audio).max() + 1e-9) * r.uniform(0.3, 0.9)
            stem = folder / name.format(number)
            (audio * 32767).astype("<i2").tofile(stem.with_suffix(".pcm"))
            stem.with_suffix(".txt").write_bytes((raw + "\n").encode("cp949"))
            lines.append(f"{stem.with_suffix('.pcm').relative_to(out).as_posix()} :: {raw}\n")
        (out / "KsponSpeech_scripts" / f"{split}.trn").write_text("".join(lines), encoding="utf-8")
        log(f"{split}: {count} utterances in {folder}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m workbench.train.sample_corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--train", type=int, default=40)
    p.add_argument("--dev", type=int, default=8)
    p.add_argument("--eval", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    write(args.out, args.train, args.dev, args.eval, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
