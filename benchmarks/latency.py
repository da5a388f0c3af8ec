"""Text lag, revisions, CER and RTF of ways to stream the same held-out audio: the old default, the
live mode (the new default) and a few of its settings.

    nice python benchmarks/latency.py [--asr checkpoint/asr.nemo] [--asr-ca checkpoint/asr_streaming.nemo]
                                      [--utterances 40] [--manifest EVAL.json] [--cumulative] [--long-minutes 0]

Methods:
  old default: buffered :class:`workbench.asr.CTCStream`, 1 s chunks with 2 s left and 0.5 s right
      context (``load_transcriber(..., live=False).streamer()``);
  cache-aware: the cache-aware model (``--asr-ca``) alone;
  live: :mod:`workbench.asr.live_mode` (the new default, ``load_transcriber(...).streamer()``):
      re-decoded partials, WebRTC VAD endpoints, full-context finals; and some of its settings (GRID);
  cumulative (``--cumulative``): every ``--step-s`` the full-context model decodes everything heard
      so far again (the original system's streaming), so each step costs more than the one before.

Streams play at real-time pace on simulated clocks (:func:`workbench.latency.play`): 0.1 s feeds,
compute measured on the wall clock (this shared machine) and the CPU clock (a core of its own).
Per utterance, the lag (:func:`workbench.latency.measure`): from the end of its speech (the end of
its final's last label) until the shown text (finals + partial) first equals its final. Words
shown: per reference word, the time its text first shows in the running transcript (words
matched in order against the reference) minus the end of the word's audio; word ends come from a
CTC forced alignment (NeMo's Viterbi) of the reference to the full-context model's offline
posteriors. Emit: the same per word of the finals, from their own word times
(:func:`workbench.latency.measure`). Revisions (per minute of audio): shown words changed or removed. A stream is
``--per-session`` held-out utterances ``--gap-s`` apart and ``--tail-s`` of quiet, over a faint
noise floor; then it is flushed. Held-out audio: espeak-ng's held-out voices (m7, f5, klatt4,
Linda) reading the written held-out sentences (``workbench/train/heldout_sentences.txt``), or
NeMo manifests (``--manifest``). CER counts the finals; offline CER decodes each utterance alone
with the full-context model.
"""
import argparse
import difflib
import itertools
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench import load_audio, load_transcriber, manifest
from workbench.asr import TranscriptEvent
from workbench.asr.live_mode import Redecodes, live_streamer
from workbench.asr.stream import StreamConfig
from workbench.asr.words import forced_path, token_spans
from workbench.audio import SAMPLE_RATE
from workbench.cli_args import LM_HELP, lm_choice
from workbench.latency import CLOCKS, FEED_S, Latency, measure, play
from workbench.metrics import corpus_cer, normalise
from workbench.paths import CHECKPOINT_DIR, DEFAULT_ASR


class Cumulative:
    """The original system's streaming: every ``step_s`` the whole audio heard so far is decoded
    again, and its text is the partial; the end of the stream makes it final. Step n costs
    O(n) (and attention O(n^2)), so a stream of N steps costs O(N^2)."""

    def __init__(self, transcriber, step_s: float, use_lm: bool = True):
        self.transcriber, self.use_lm = transcriber, use_lm
        self.step = round(step_s * SAMPLE_RATE)
        self._audio, self._next = np.zeros(0, np.float32), self.step

    def feed(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        self._audio = np.concatenate([self._audio, chunk])
        events = []
        while len(self._audio) >= self._next:
            events.append(self._event(self._audio[:self._next], final=False))
            self._next += self.step
        return events

    def flush(self) -> list[TranscriptEvent]:
        return [self._event(self._audio, final=True)]

    def _event(self, audio: np.ndarray, final: bool) -> TranscriptEvent:
        return TranscriptEvent(self.transcriber.transcribe(audio, self.use_lm), final, 0.0, len(audio) / SAMPLE_RATE)


def synthesize(count: int, seed: int = 0, first: int = 0) -> list[tuple[np.ndarray, str]]:
    """``count`` written held-out sentences from the ``first`` on, read by random held-out espeak-ng
    voices (each sentence's voice the same whatever ``first`` is)."""
    from workbench.train import speech
    from workbench.train.data import written_heldout

    r = random.Random(seed)
    voices = [speech.random_voice(r, speech.HELDOUT_VOICES) for _ in written_heldout()]
    return [(speech.synthesize(sentence, voice), sentence)
            for sentence, voice in list(zip(written_heldout(), voices))[first:first + count]]


def from_manifest(path: Path, count: int) -> list[tuple[np.ndarray, str]]:
    return [(load_audio(entry.audio), entry.text) for entry in manifest.read(path)[:count]]


def word_ends(transcriber, audio: np.ndarray, text: str) -> list[float] | None:
    """End time (s) of each reference word: CTC forced alignment on ``transcriber``'s offline posteriors."""
    from workbench.train.lm import label_ids

    labels, words = list(transcriber.model.decoder.vocabulary), normalise(text).split()
    ids = label_ids(" ".join(words), labels)
    log_probs = transcriber.log_probs(audio)
    if len(log_probs) < len(ids) + sum(a == b for a, b in itertools.pairwise(ids)):
        return None  # too short for the text (a repeated label needs a blank between)
    spans = token_spans(forced_path(log_probs, ids, transcriber.blank), transcriber.blank)  # one per label
    ends, position = [], 0
    for word in words:  # a space label between words
        position += len(label_ids(word, labels))
        ends.append(spans[position - 1][2] * transcriber.frame_s)
        position += 1
    return ends


def first_shown(timed, words: list[str]) -> tuple[list[float | None], str]:
    """When each reference word first appears in the running transcript, and the final text."""
    finals, partial, shown = [], "", [None] * len(words)
    for at, event in timed:
        if event.final:
            finals, partial = finals + [event.text], ""
        else:
            partial = event.text
        hypothesis = normalise(" ".join(finals + [partial])).split()
        for block in difflib.SequenceMatcher(None, words, hypothesis, autojunk=False).get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                shown[i] = at if shown[i] is None else shown[i]
    return shown, " ".join(finals)


@dataclass(frozen=True)
class Session:
    """Held-out utterances one after another, as a microphone would hear them."""

    audio: np.ndarray
    utterances: list[np.ndarray]  # each utterance as it is in ``audio`` (noise floor included)
    texts: list[str]              # their references
    ends: list[float]             # end time (s) of each reference word in ``audio``

    @property
    def text(self) -> str:
        return " ".join(self.texts)


def sessions(full, audio_text, per_session: int, gap_s: float, tail_s: float, floor: float,
             seed: int = 0) -> list[Session]:
    """Groups of ``per_session`` utterances, ``gap_s`` apart, then ``tail_s`` of quiet, over a white
    noise floor of standard deviation ``floor`` (digital silence is not what a microphone hears, and
    the full-context model's per-utterance feature normalisation reads long stretches of it badly)."""
    rng = np.random.default_rng(seed)

    def quiet(seconds: float) -> np.ndarray:
        return (floor * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)

    aligned = []
    for audio, text in audio_text:
        audio = audio + quiet(len(audio) / SAMPLE_RATE)
        if (ends := word_ends(full, audio, text)) is not None:
            aligned.append((audio, normalise(text), ends))
    result = []
    for first in range(0, len(aligned), per_session):
        pieces, texts, ends, at = [quiet(gap_s)], [], [], gap_s
        group = aligned[first:first + per_session]
        for audio, text, word_end in group:
            pieces += [audio, quiet(gap_s)]
            texts.append(text)
            ends += [at + end for end in word_end]
            at += len(audio) / SAMPLE_RATE + gap_s
        pieces.append(quiet(tail_s))
        result.append(Session(np.concatenate(pieces), [audio for audio, _, _ in group], texts, ends))
    return result


def evaluate(name: str, make_streamer, streams: list[Session], feed_s: float, offline_cer: float) -> dict:
    """One method over every stream: a row of the table (lags on the CPU clock, and the wall clock's p95)."""
    latency, words, compute = dict.fromkeys(CLOCKS, Latency()), {c: [] for c in CLOCKS}, dict.fromkeys(CLOCKS, 0.0)
    missed, seconds, hypotheses = 0, 0.0, []
    for session in streams:
        seconds += len(session.audio) / SAMPLE_RATE
        for clock, (timed, spent) in play(make_streamer(), session.audio, feed_s).items():
            latency[clock] += measure(timed, len(session.audio) / SAMPLE_RATE)
            shown, final = first_shown(timed, session.text.split())
            words[clock] += [at - end for at, end in zip(shown, session.ends) if at is not None]
            compute[clock] += spent
        missed += sum(at is None for at in shown)
        hypotheses.append(final)
    cpu, wall = latency["cpu"].summary(), latency["wall"].summary()
    row = {"method": name, "lag p50": cpu["lag_p50_s"], "lag p95": cpu["lag_p95_s"], "lag p95 wall": wall["lag_p95_s"],
           "words p50": np.percentile(words["cpu"], 50), "words p95": np.percentile(words["cpu"], 95),
           "emit p50": cpu["emit_p50_s"], "emit p95": cpu["emit_p95_s"],
           "revisions/min": cpu["revisions_per_min"],
           "CER": 100 * corpus_cer([session.text for session in streams], hypotheses), "offline CER": offline_cer,
           "RTF cpu": compute["cpu"] / seconds, "RTF wall": compute["wall"] / seconds, "missed": missed}
    print("| " + " | ".join(f"{value:.2f}" if isinstance(value, float) else str(value) for value in row.values())
          + " |", flush=True)
    return row


def draw_timelines(folder: Path, session: Session, methods: dict, feed_s: float, utterances: int = 2) -> None:
    """The timeline view (:mod:`workbench.timeline`) of the old default and the live mode on the
    first ``utterances`` of ``session``."""
    from matplotlib import rc_context

    from workbench.figures import png, style
    from workbench.timeline import timeline_figure, word_histories

    gap = round(0.6 * SAMPLE_RATE)
    audio = session.audio[:gap + sum(len(u) + gap for u in session.utterances[:utterances])]
    for name, make in methods.items():
        if name.startswith(("old default", "live (new default)")):
            timed, _ = play(make(), audio, feed_s, clocks={"cpu": time.process_time})["cpu"]
            path = folder / f"timeline_{'old' if name.startswith('old') else 'live'}.png"
            with rc_context(style()):
                path.write_bytes(png(timeline_figure(audio, word_histories(timed), name)))
            print(f"wrote {path}")


def long_stream(streams: list[Session], minutes: float) -> np.ndarray:
    """The streams one after another, repeated to ``minutes``."""
    return np.resize(np.concatenate([session.audio for session in streams]), round(minutes * 60 * SAMPLE_RATE))


def quadratic_cost(full, streamers: dict, audio: np.ndarray, step_s: float) -> None:
    """Cost of one cumulative re-decode (forward pass and greedy search; the beam search's cost
    grows with the segment too) at growing stream positions, against linear streamers' RTF."""
    seconds = len(audio) / SAMPLE_RATE
    print(f"\n{seconds / 60:.1f}-minute stream, cumulative re-decoding every {step_s} s (greedy):")
    costs = []
    for mark in sorted({m for m in (10, 30, 60, 120) if m < seconds} | {seconds}):
        began, cpu = time.perf_counter(), time.process_time()
        full.transcribe(audio[:round(mark * SAMPLE_RATE)], use_lm=False)
        costs.append((mark, time.perf_counter() - began))
        print(f"  at {mark:5.0f} s: one re-decode takes {costs[-1][1]:6.2f} s "
              f"({time.process_time() - cpu:6.2f} s CPU; RTF {costs[-1][1] / step_s:6.2f} at that point)", flush=True)
    steps = np.arange(step_s, seconds + 1e-9, step_s)
    total = np.interp(steps, *zip(*costs)).sum()
    behind = next((m for m, c in costs if c > step_s), None)
    print(f"  whole stream: about {total / 60:.0f} min of compute (RTF {total / seconds:.1f}, interpolated); "
          + (f"behind real time by the {behind:.0f} s mark" if behind else "it keeps up"))
    for name, make in streamers.items():
        streamer, began = make(), time.perf_counter()
        for start in range(0, len(audio), 640):
            streamer.feed(audio[start:start + 640])
        streamer.flush()
        print(f"  {name}: RTF {(time.perf_counter() - began) / seconds:.3f} over the whole stream", flush=True)


GRID = {  # live-mode settings tried beside the default (live_streamer and Endpointer options)
    "live, cache-aware partials (the old live default's)": {"partials": "companion", "partial_lm": False},
    "live, cache-aware partials with the LM": {"partials": "companion"},
    "live, re-decodes greedy": {"partial_lm": False},
    "live, re-decodes every 0.2 s, at most 10 decodes' worth (the last default)": {"redecodes": Redecodes(0.2, 10)},
    "live, re-decodes every 0.2 s, at most 20 decodes' worth": {"redecodes": Redecodes(0.2, 20)},
    "live, re-decodes every 0.2 s": {"redecodes": Redecodes(0.2)},
    "live, re-decodes every 0.1 s, at most 20 decodes' worth": {"redecodes": Redecodes(0.1, 20)},
    "live, re-decodes every 0.1 s, no cap": {"redecodes": Redecodes(0.1, float("inf"))},
    "live, hangover 0.15 s": {"hangover_s": 0.15},
    "live, hangover 0.3 s": {"hangover_s": 0.3},
    "live, VAD mode 3": {"mode": 3},
    "live, pre-roll 0": {"pre_roll_s": 0.0},
    "live, pre-roll 0.05 s": {"pre_roll_s": 0.05},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", default=str(DEFAULT_ASR), help="full-context model (and the alignment)")
    parser.add_argument("--asr-ca", default=str(CHECKPOINT_DIR / "asr_streaming.nemo"),
                        help="cache-aware model: alone, and the live mode's partials (skipped when missing)")
    parser.add_argument("--lm", default="auto", type=lm_choice,
                        help=f"{LM_HELP}; one file is used by every method, auto gives each model its own")
    parser.add_argument("--manifest", action="append", type=Path, help="NeMo manifest(s) instead of synthesized audio")
    parser.add_argument("--utterances", type=int, default=40, help="per manifest, or synthesized")
    parser.add_argument("--first", type=int, default=0, help="the first synthesized sentence (to hold out a half)")
    parser.add_argument("--per-session", type=int, default=5, help="utterances per stream")
    parser.add_argument("--gap-s", type=float, default=0.6, help="quiet between utterances")
    parser.add_argument("--tail-s", type=float, default=1.5, help="quiet at the end of each stream")
    parser.add_argument("--floor", type=float, default=1e-3, help="noise floor (standard deviation)")
    parser.add_argument("--feed-s", type=float, default=FEED_S, help="audio per feed (a capture callback)")
    parser.add_argument("--grid", action="store_true", help="also the live mode's other settings (GRID)")
    parser.add_argument("--only", action="append", help="run only the methods whose name holds this text")
    parser.add_argument("--cumulative", action="store_true", help="also the original system's cumulative re-decoding")
    parser.add_argument("--step-s", type=float, default=0.28, help="re-decoding period of the cumulative method")
    parser.add_argument("--long-minutes", type=float, default=0.0, help="length of the quadratic-cost stream (0: skip)")
    parser.add_argument("--timeline", type=Path, help="draw the first stream's first utterances, old default and "
                                                         "live mode, as FOLDER/timeline_old.png and timeline_live.png")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    full = load_transcriber(args.asr, lm=args.lm, live=False)
    cache_aware = load_transcriber(args.asr_ca, lm=args.lm, live=False) if Path(args.asr_ca).is_file() else None
    use_lm = args.lm is not False
    audio_text = ([pair for path in args.manifest for pair in from_manifest(path, args.utterances)]
                  if args.manifest else synthesize(args.utterances, first=args.first))
    streams = sessions(full, audio_text, args.per_session, args.gap_s, args.tail_s, args.floor)
    seconds = sum(len(session.audio) for session in streams) / SAMPLE_RATE
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"audio: {sum(len(session.ends) for session in streams)} words in {len(streams)} streams of up to "
          f"{args.per_session} held-out utterances ({seconds:.0f} s; "
          f"{', '.join(map(str, args.manifest)) if args.manifest else 'espeak-ng held-out voices'}), "
          f"{args.gap_s} s apart, {args.tail_s} s of quiet at the end, noise floor {args.floor}; "
          f"fed {1000 * args.feed_s:.0f} ms at a time")

    def described(model):
        return f"{model.name} ({'beam search + label LM' if use_lm and model.lm else 'greedy'})"
    print(f"full-context model {described(full)}; "
          f"cache-aware model {described(cache_aware) if cache_aware else '(none)'}")
    offline = 100 * corpus_cer([text for session in streams for text in session.texts],
                               [full.transcribe(audio, use_lm) for session in streams for audio in session.utterances])
    print(f"offline CER, full-context model, each utterance alone (as in the streams): {offline:.2f} %")

    methods = {"old default: buffered 1 s + 2 s / 0.5 s": lambda: full.streamer(StreamConfig(), use_lm=use_lm)}
    if cache_aware:
        methods["cache-aware alone"] = lambda: cache_aware.streamer(use_lm=use_lm)
        methods["live (new default)"] = lambda: live_streamer(full, cache_aware, use_lm)
    methods["live, partials from 0.2 s chunks"] = lambda: live_streamer(full, None, use_lm, partials="companion",
                                                                        partial_lm=False)
    if args.grid and cache_aware:
        methods |= {name: (lambda options=options: live_streamer(full, cache_aware, use_lm, **options))
                    for name, options in GRID.items()}
    if args.cumulative:
        methods[f"cumulative, every {args.step_s} s"] = lambda: Cumulative(full, args.step_s, use_lm)
    if args.only:
        methods = {name: make for name, make in methods.items() if any(part in name for part in args.only)}
    print("\nlags in seconds on the CPU clock (a core of its own) unless marked wall; CER in %")
    columns = ["method", "lag p50", "lag p95", "lag p95 wall", "words p50", "words p95", "emit p50", "emit p95",
               "revisions/min",
               "CER", "offline CER", "RTF cpu", "RTF wall", "missed"]
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for name, make in methods.items():
        evaluate(name, make, streams, args.feed_s, offline)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.timeline:
        draw_timelines(args.timeline, streams[0], methods, args.feed_s)

    if args.long_minutes > 0:
        linear = {name: make for name, make in methods.items() if not name.startswith("cumulative")}
        quadratic_cost(full, linear, long_stream(streams, args.long_minutes), args.step_s)


if __name__ == "__main__":
    main()
