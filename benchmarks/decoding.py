"""CTC decoding: greedy vs prefix beam search with the label LM, on the same log-probabilities.

    python benchmarks/decoding.py [MANIFEST_OR_FOLDER] [--asr checkpoint/asr.nemo] [--limit 300]

Runs the model once per file, then decodes its scores both ways and prints
corpus CER and decoding time per second of audio (the model's own forward
pass is timed apart). Default input: the bundled ``audio_example/`` folder;
the model card's numbers use the 300 held-out utterances
(``runs/data/eval.json``). Needs ``NAME.lm.npz`` beside the model.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench import load_audio, load_transcriber
from workbench.audio import SAMPLE_RATE
from workbench.metrics import corpus_cer
from workbench.paths import DEFAULT_ASR, EXAMPLES_DIR
from workbench.tuning import read_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default=str(EXAMPLES_DIR))
    parser.add_argument("--asr", default=str(DEFAULT_ASR))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transcriber = load_transcriber(args.asr)
    if transcriber.lm is None:
        sys.exit(f"no label LM beside {args.asr} (train one with `python -m workbench.train lm`)")
    items = read_items(args.source)[:args.limit]
    references, scores, seconds, forward = [], [], 0.0, 0.0
    for item in items:
        audio = load_audio(item.audio)
        start = time.perf_counter()
        scores.append(transcriber.log_probs(audio))
        forward += time.perf_counter() - start
        references.append(item.text)
        seconds += len(audio) / SAMPLE_RATE
    print(f"{len(items)} files, {seconds / 60:.1f} min of audio, {args.threads} threads; "
          f"model forward {1000 * forward / seconds:.1f} ms per audio second")
    print("decoding | CER | ms per audio second")
    for name, use_lm in (("greedy", False), (f"beam {transcriber.beam} + {transcriber.lm.order}-gram LM", True)):
        start = time.perf_counter()
        hypotheses = [transcriber.decode(s, use_lm) for s in scores]
        elapsed = time.perf_counter() - start
        print(f"{name} | {100 * corpus_cer(references, hypotheses):.1f} % | {1000 * elapsed / seconds:.2f}")


if __name__ == "__main__":
    main()
