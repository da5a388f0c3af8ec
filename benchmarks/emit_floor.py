"""How soon a full-context model can show each word at best: the floor of re-decoded partials.

    nice python benchmarks/emit_floor.py [--asr checkpoint/asr.nemo] [--utterances 80] [--every-s 0.1 0.2]

Each held-out utterance of ``benchmarks/latency.py`` (its own clip, so the crop begins where the
model reads best) is decoded again every ``--every-s`` of its audio (beam search and LM, whole
syllables), with no compute time and no endpointer: the partial at ``t`` is the decode of the
clip up to ``t``, and the final, at the clip's end, the decode of the whole clip. Emit per word of
the final (:func:`workbench.latency.measure`): when it is first shown minus its end. A second
run normalises every prefix's features with the whole clip's statistics (known only offline), to
tell how much of the floor is the per-utterance feature normalisation and how much the model's
attention to what follows. The cache-aware model alone, streamed the same way by itself
(``--asr-ca``), is the low-latency reference.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import sessions, synthesize

from workbench import load_transcriber
from workbench.asr.hangul import whole_syllables
from workbench.asr.stream import TranscriptEvent, final_event
from workbench.audio import SAMPLE_RATE
from workbench.latency import measure, play
from workbench.paths import CHECKPOINT_DIR, DEFAULT_ASR


class WholeClipStatistics:
    """Within the block, the preprocessor normalises features with the statistics it saw last
    outside one (NeMo's ``normalize_batch``, patched for the block)."""

    def __init__(self):
        from nemo.collections.asr.parts.preprocessing import features
        self.features, self.original, self.stats, self.frozen = features, features.normalize_batch, None, False
        features.normalize_batch = self._normalize

    def _normalize(self, x, seq_len, normalize_type):
        if self.frozen:
            mean, std = self.stats
            return (x - mean.unsqueeze(2)) / std.unsqueeze(2), mean, std
        normalized, mean, std = self.original(x, seq_len, normalize_type)
        self.stats = (mean, std)
        return normalized, mean, std


def floor_emits(full, clips, every_s: float, statistics: WholeClipStatistics | None = None) -> np.ndarray:
    step, emits = round(every_s * SAMPLE_RATE), []
    for clip in clips:
        final = final_event(full, full.segment(full.log_probs(clip)))
        timed = []
        for end in range(step, len(clip), step):
            if statistics:
                statistics.frozen = True
            text = whole_syllables(full.decode(full.log_probs(clip[:end])))
            if statistics:
                statistics.frozen = False
            timed.append((end / SAMPLE_RATE, TranscriptEvent(text, False, 0.0, end / SAMPLE_RATE)))
        emits += measure(timed + [(len(clip) / SAMPLE_RATE, final)], len(clip) / SAMPLE_RATE).emit_s
    return np.array(emits)


def row(name: str, emits: np.ndarray) -> None:
    p50, p95 = np.percentile(emits, [50, 95])
    print(f"| {name} | {p50:.2f} | {p95:.2f} | {100 * np.mean(emits > 0.5):.1f} | {len(emits)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", default=str(DEFAULT_ASR))
    parser.add_argument("--asr-ca", default=str(CHECKPOINT_DIR / "asr_streaming.nemo"))
    parser.add_argument("--utterances", type=int, default=80)
    parser.add_argument("--every-s", type=float, nargs="+", default=[0.1, 0.2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    statistics = WholeClipStatistics()
    full = load_transcriber(args.asr, live=False)
    streams = sessions(full, synthesize(args.utterances), 5, 0.6, 1.5, 1e-3)
    clips = [clip for stream in streams for clip in stream.utterances]
    print(f"command: python {' '.join(sys.argv)}\n{len(clips)} held-out clips; no compute time\n")
    print("| partials | emit p50 s | emit p95 s | words later than 0.5 s, % | words |\n|---|---|---|---|---|")
    for every_s in args.every_s:
        row(f"full-context re-decodes every {every_s} s", floor_emits(full, clips, every_s))
        row("the same, features normalised with the whole clip's statistics",
            floor_emits(full, clips, every_s, statistics))
    if Path(args.asr_ca).is_file():
        cache_aware = load_transcriber(args.asr_ca, live=False)
        emits = []
        for clip in clips:
            timed, _ = play(cache_aware.streamer(), clip, clocks={"none": lambda: 0.0})["none"]
            emits += measure(timed, len(clip) / SAMPLE_RATE).emit_s
        row("cache-aware model alone, 0.1 s feeds", np.array(emits))


if __name__ == "__main__":
    main()
