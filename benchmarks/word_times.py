"""Word-time error on speech with known word boundaries.

    python benchmarks/word_times.py [--asr checkpoint/asr.nemo] [--voices m7 f5 klatt4 Linda]
                                    [--pause-s 0.35] [--chunk-s 0.1]

Each held-out espeak-ng voice reads a list of everyday words one by one, ``--pause-s`` apart
(:mod:`workbench.word_timing`: every word's true span is known to the sample). The words of the
offline pass (``Transcriber.transcribe_words``) and of the streamed finals (the default stream,
fed ``--chunk-s`` at a time) are compared with the true spans, greedy and with the LM: median,
90th percentile and share of starts and ends within 0.15 s, the share of words overlapped, and
the median over the words recognised on their own ("1:1": their match overlaps no other true
word; where the recogniser runs words together, the run's outer ends are far from the inner
words' boundaries).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import load_transcriber
from workbench.audio import chunks
from workbench.paths import DEFAULT_ASR
from workbench.train.speech import HELDOUT_VOICES, Voice
from workbench.word_timing import boundary_errors, matches, overlapped, spoken_words

WORDS = ["오늘", "날씨가", "정말", "좋네요", "학교에", "가요", "사과", "세", "개", "주세요", "지하철", "어디", "있어요",
         "커피", "한", "잔", "부탁해요", "내일", "만나요", "감사합니다"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", default=str(DEFAULT_ASR))
    parser.add_argument("--voices", nargs="+", default=HELDOUT_VOICES)
    parser.add_argument("--pause-s", type=float, default=0.35)
    parser.add_argument("--chunk-s", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    transcriber = load_transcriber(args.asr)
    spoken = [spoken_words(WORDS, Voice(variant, 160, 50), args.pause_s) for variant in args.voices]
    print(f"{len(args.voices)} voices x {len(WORDS)} words, {args.pause_s} s pauses, model {args.asr}")
    print(f"{'decoding':10} {'words of':9} {'median s':>9} {'p90 s':>7} {'<=0.15 s':>9} {'overlapped':>11} "
          f"{'1:1 words':>10} {'1:1 median s':>13}")
    for use_lm in ([False, True] if transcriber.lm is not None else [False]):
        for source in ("offline", "stream"):
            errors, hits, alone = [], [], []
            for audio, truth in spoken:
                if source == "offline":
                    found = transcriber.transcribe_words(audio, use_lm)
                else:
                    found = [w for e in transcriber.stream(chunks(audio, args.chunk_s), use_lm=use_lm) for w in e.words]
                errors += boundary_errors(found, truth)
                hits += overlapped(found, truth)
                alone += [sum(overlapped([match], truth)) == 1 for match in matches(found, truth) for _ in "se"]
            errors, alone = np.array(errors), np.array(alone)
            print(f"{'beam+LM' if use_lm else 'greedy':10} {source:9} {np.median(errors):9.3f} "
                  f"{np.percentile(errors, 90):7.3f} {np.mean(errors <= 0.15):9.0%} {np.mean(hits):11.0%} "
                  f"{np.mean(alone):10.0%} {np.median(errors[alone]):13.3f}")


if __name__ == "__main__":
    main()
