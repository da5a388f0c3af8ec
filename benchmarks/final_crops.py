"""Final CER of the live mode by where its full-context decode crops each endpointed utterance.

    nice python benchmarks/final_crops.py [--utterances 80] [--half 40] [--draws 4]

The finals' text depends only on the crop of each utterance (the VAD's endpoints are fixed by the
audio), so rules are compared without playing the streams: the held-out sentences of
``benchmarks/latency.py`` in streams of 5, their endpoints from :class:`Endpointer`, each crop
ending at its endpoint and beginning by a rule, decoded with beam search and LM. Each draw of the
noise floor moves the VAD's frames and the onset, so the CER is pooled over ``--draws`` draws.
Rules: the VAD's first voiced frame; ``d`` ms before the speech onset (:func:`speech_onset`);
averaged posteriors (:func:`final_log_probs`) of the crop from ``d`` ms before the onset and the
crop ``k`` output frames shorter. Offline: each utterance's clip alone, and each stream whole.
Settings are chosen on the first ``--half`` sentences and reported on the rest.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import sessions, synthesize

from workbench import load_transcriber
from workbench.asr.live_mode import Endpointer, final_log_probs, speech_onset
from workbench.audio import SAMPLE_RATE
from workbench.metrics import corpus_cer
from workbench.paths import DEFAULT_ASR


def endpoints(audio) -> list[tuple[int, int]]:
    endpointer, spans = Endpointer(), []
    for start in range(0, len(audio), 1600):
        spans += endpointer.feed(audio[start:start + 1600])
    return spans + endpointer.close(len(audio))


def rules(full) -> dict:
    """name -> (crop start from (audio, first voiced sample, previous endpoint), frames shorter to average or 0)."""
    def before_onset(ms):
        return lambda audio, voiced, previous: max(previous, previous + speech_onset(audio[previous:], voiced - previous)
                                                   - round(ms * SAMPLE_RATE / 1000))
    found = {"the VAD's first voiced frame (old)": (lambda audio, voiced, previous: voiced, 0)}
    found |= {f"{ms} ms before the onset": (before_onset(ms), 0) for ms in (0, 10, 20, 30, 40)}
    frame_ms = 1000 * full.frame_samples // SAMPLE_RATE
    found |= {f"averaged: {ms} ms before the onset and {k * frame_ms} ms later": (before_onset(ms), k)
              for ms, k in ((40, 1), (30, 1), (20, 1), (10, 1), (60, 2))}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", default=str(DEFAULT_ASR))
    parser.add_argument("--utterances", type=int, default=80)
    parser.add_argument("--half", type=int, default=40, help="sentences that choose (the rest report)")
    parser.add_argument("--draws", type=int, default=4, help="draws of the noise floor")
    args = parser.parse_args()
    torch.set_num_threads(1)
    full = load_transcriber(args.asr, live=False)
    audio_text = synthesize(args.utterances)
    halves = ("chosen on", "reported on")
    table = {name: {half: ([], []) for half in halves} for name in ["offline: each clip alone", *rules(full)]}
    whole = {half: ([], []) for half in halves}
    for draw in range(args.draws):
        for index, stream in enumerate(sessions(full, audio_text, 5, 0.6, 1.5, 1e-3, seed=draw)):
            half = halves[index * 5 >= args.half]
            table["offline: each clip alone"][half][0].extend(stream.texts)
            table["offline: each clip alone"][half][1].extend(full.transcribe(u) for u in stream.utterances)
            if draw == 0:
                whole[half][0].append(stream.text)
                whole[half][1].append(full.transcribe(stream.audio))
            spans = endpoints(stream.audio)
            for name, (start_of, shift) in rules(full).items():
                texts, previous = [], 0
                for voiced, end in spans:
                    crop = stream.audio[start_of(stream.audio, voiced, previous):end]
                    log_probs = final_log_probs(full, crop, shift)[0] if shift else full.log_probs(crop)
                    texts.append(full.decode(log_probs))
                    previous = end
                table[name][half][0].append(stream.text)
                table[name][half][1].append(" ".join(text for text in texts if text))
        print(f"draw {draw + 1} of {args.draws} done", file=sys.stderr, flush=True)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"| crop | CER %, sentences 1-{args.half} | CER %, sentences {args.half + 1}-{args.utterances} |\n|---|---|---|")
    print("| offline: each stream whole (first draw) | "
          + " | ".join(f"{100 * corpus_cer(*whole[half]):.2f}" for half in halves) + " |")
    for name, result in table.items():
        print(f"| {name} | " + " | ".join(f"{100 * corpus_cer(*result[half]):.2f}" for half in halves) + " |")


if __name__ == "__main__":
    main()
