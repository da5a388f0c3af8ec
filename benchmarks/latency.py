"""Text lag, CER and RTF of three ways to stream the same held-out audio.

    python benchmarks/latency.py [--asr checkpoint/asr.nemo] [--asr-ca checkpoint/asr_streaming.nemo]
                                 [--utterances 60] [--manifest EVAL.json] [--long-minutes 5]

Methods:
  (a) cumulative: every ``--step-s`` the full-context model decodes everything heard so far
      again (the original system's streaming), so each step costs more than the one before;
  (b) buffered: :class:`workbench.asr.CTCStream`, 1 s chunks with 2 s left and 0.5 s right context;
  (c) cache-aware: the cache-aware model (``--asr-ca``) through ``Transcriber.streamer()``.

Lag of a word = the time its text first shows in the running transcript (the finals so far plus
the open partial, words matched in order against the reference) minus the end of the word's
audio. Word ends come from a CTC forced alignment (NeMo's Viterbi) of the reference text to the
full-context model's offline posteriors: the end of the frame of the word's last label. Streams
play at real-time pace on a simulated clock: feed k, holding audio up to (k + 1) * feed, starts
when that audio has arrived and feed k - 1 is done, and takes its measured time, so compute is
included; events carry the time their feed finished. Two clocks: wall time, as it ran on this
(shared) machine, and the process's CPU time, as it would run on a core of its own. A stream is ``--per-session``
held-out utterances ``--gap-s`` apart and ``--tail-s`` of quiet, over a faint noise floor; then
it is flushed. Held-out audio: espeak-ng's held-out voices (m7, f5, klatt4, Linda) reading the
bundled models' held-out sentences, or NeMo manifests (``--manifest``). CER counts the finals.
"""
import argparse
import difflib
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import itertools

from workbench import load_audio, load_transcriber, manifest
from workbench.asr import TranscriptEvent
from workbench.asr.stream import StreamConfig
from workbench.audio import SAMPLE_RATE
from workbench.cli_args import LM_HELP, lm_choice
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


def heldout_sentences() -> list[str]:
    """The 300 evaluation sentences held out from the bundled models' training (``train data``, seed 0)."""
    from workbench.train import text

    sentences = text.make_sentences(20000 + 300 + 100, seed=0)
    return text.split(sentences, 300 + 100, seed=0)[1][:300]


def synthesize(count: int, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """``count`` held-out sentences read by random held-out espeak-ng voices."""
    from workbench.train import speech

    r = random.Random(seed)
    return [(speech.synthesize(sentence, speech.random_voice(r, speech.HELDOUT_VOICES)), sentence)
            for sentence in heldout_sentences()[:count]]


def from_manifest(path: Path, count: int) -> list[tuple[np.ndarray, str]]:
    return [(load_audio(entry.audio), entry.text) for entry in manifest.read(path)[:count]]


def word_ends(transcriber, audio: np.ndarray, text: str) -> list[float] | None:
    """End time (s) of each reference word: CTC forced alignment on ``transcriber``'s offline posteriors."""
    from nemo.collections.asr.parts.utils.aligner_utils import viterbi_decoding

    from workbench.train.lm import label_ids

    labels, words = list(transcriber.model.decoder.vocabulary), normalise(text).split()
    ids = label_ids(" ".join(words), labels)
    log_probs = torch.from_numpy(transcriber.log_probs(audio))
    if len(log_probs) < len(ids) + sum(a == b for a, b in itertools.pairwise(ids)):
        return None  # too short for the text (a repeated label needs a blank between)
    states = [transcriber.blank] + [s for i in ids for s in (i, transcriber.blank)]  # blank-interleaved
    path = viterbi_decoding(log_probs[None], torch.tensor([states]), torch.tensor([len(log_probs)]),
                            torch.tensor([len(states)]), torch.device("cpu"))[0]
    last_frame = {}  # label position -> last frame aligned to it
    for frame, state in enumerate(path):
        if state % 2:
            last_frame[state // 2] = frame
    ends, position = [], 0
    for word in words:  # a space label between words
        position += len(label_ids(word, labels))
        ends.append((last_frame[position - 1] + 1) * transcriber.frame_s)
        position += 1
    return ends


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def play(streamer, audio: np.ndarray, feed_s: float) -> dict[str, tuple[list[tuple[float, TranscriptEvent]], float]]:
    """Real-time pace on simulated clocks that count each feed's wall time, or its CPU time (what it
    would take on a core of its own): per clock, [(time the event appeared, event)] and total compute."""
    size = round(feed_s * SAMPLE_RATE)
    busy_until, compute, timed = dict.fromkeys(CLOCKS, 0.0), dict.fromkeys(CLOCKS, 0.0), {c: [] for c in CLOCKS}
    for start in range(0, len(audio) + size, size):
        arrived = min(start + size, len(audio)) / SAMPLE_RATE
        began = {clock: now() for clock, now in CLOCKS.items()}
        events = streamer.flush() if start >= len(audio) else streamer.feed(audio[start:start + size])
        for clock, now in CLOCKS.items():
            spent = now() - began[clock]
            busy_until[clock], compute[clock] = max(arrived, busy_until[clock]) + spent, compute[clock] + spent
            timed[clock] += [(busy_until[clock], event) for event in events]
    return {clock: (timed[clock], compute[clock]) for clock in CLOCKS}


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
    text: str          # the references, space-joined
    ends: list[float]  # end time (s) of each reference word in ``audio``


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
        for audio, text, word_end in aligned[first:first + per_session]:
            pieces += [audio, quiet(gap_s)]
            texts.append(text)
            ends += [at + end for end in word_end]
            at += len(audio) / SAMPLE_RATE + gap_s
        pieces.append(quiet(tail_s))
        result.append(Session(np.concatenate(pieces), " ".join(texts), ends))
    return result


def evaluate(name: str, make_streamer, streams: list[Session], feed_s: float) -> dict:
    lags, compute = {c: [] for c in CLOCKS}, dict.fromkeys(CLOCKS, 0.0)
    missed, seconds, hypotheses = 0, 0.0, []
    for session in streams:
        runs = play(make_streamer(), session.audio, feed_s)
        for clock, (timed, spent) in runs.items():
            shown, final = first_shown(timed, session.text.split())
            lags[clock] += [at - end for at, end in zip(shown, session.ends) if at is not None]
            compute[clock] += spent
        missed += sum(at is None for at in shown)
        seconds += len(session.audio) / SAMPLE_RATE
        hypotheses.append(final)
    row = {"method": name, "words": len(lags["wall"]), "missed": missed,
           "cer": corpus_cer([session.text for session in streams], hypotheses)}
    for clock in CLOCKS:
        row[f"p50 {clock}"], row[f"p95 {clock}"] = np.percentile(lags[clock], [50, 95]) if lags[clock] else [np.nan] * 2
        row[f"rtf {clock}"] = compute[clock] / seconds
    print(f"{name:<34} " + " ".join(f"{row[f'p50 {c}']:6.2f} {row[f'p95 {c}']:6.2f} {row[f'rtf {c}']:6.3f} |"
                                     for c in CLOCKS)
          + f" {row['words']:5d} / {missed:<4d} {100 * row['cer']:6.1f} %", flush=True)
    return row


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", default=str(DEFAULT_ASR), help="full-context model for (a), (b) and the alignment")
    parser.add_argument("--asr-ca", default=str(CHECKPOINT_DIR / "asr_streaming.nemo"),
                        help="cache-aware model for (c) (skipped when missing)")
    parser.add_argument("--lm", default="auto", type=lm_choice,
                        help=f"{LM_HELP}; one file is used by every method, auto gives each model its own")
    parser.add_argument("--manifest", action="append", type=Path, help="NeMo manifest(s) instead of synthesized audio")
    parser.add_argument("--utterances", type=int, default=60, help="per manifest, or synthesized")
    parser.add_argument("--per-session", type=int, default=5, help="utterances per stream")
    parser.add_argument("--gap-s", type=float, default=0.6, help="quiet between utterances")
    parser.add_argument("--tail-s", type=float, default=1.5, help="quiet at the end of each stream")
    parser.add_argument("--floor", type=float, default=1e-3, help="noise floor (standard deviation)")
    parser.add_argument("--feed-s", type=float, default=0.04, help="audio per feed (a capture callback)")
    parser.add_argument("--step-s", type=float, default=0.28, help="re-decoding period of (a)")
    parser.add_argument("--long-minutes", type=float, default=5.0, help="length of the quadratic-cost stream (0: skip)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    full = load_transcriber(args.asr, lm=args.lm)
    cache_aware = load_transcriber(args.asr_ca, lm=args.lm) if Path(args.asr_ca).is_file() else None
    use_lm = args.lm is not False
    audio_text = ([pair for path in args.manifest for pair in from_manifest(path, args.utterances)]
                  if args.manifest else synthesize(args.utterances))
    streams = sessions(full, audio_text, args.per_session, args.gap_s, args.tail_s, args.floor)
    seconds = sum(len(session.audio) for session in streams) / SAMPLE_RATE
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
    references = [session.text for session in streams]
    offline = {"full-context": full} | ({"cache-aware": cache_aware} if cache_aware else {})
    for name, model in offline.items():
        each = corpus_cer([text for _, text in audio_text],
                          [model.transcribe(audio, use_lm) for audio, _ in audio_text])
        whole = corpus_cer(references, [model.transcribe(session.audio, use_lm) for session in streams])
        print(f"offline CER, {name} model: {100 * each:.1f} % on each utterance alone, "
              f"{100 * whole:.1f} % on each stream at once")

    buffered = StreamConfig()
    methods = {
        f"(a) cumulative, every {args.step_s} s": lambda: Cumulative(full, args.step_s, use_lm),
        f"(b) buffered {buffered.chunk_s:g} s + {buffered.left_s:g} s / {buffered.right_s:g} s":
            lambda: full.streamer(buffered, use_lm=use_lm, cache_aware=False),
    }
    if cache_aware:
        chunk_s = cache_aware.streamer().chunk_s
        methods[f"(c) cache-aware, {1000 * chunk_s:.0f} ms chunks"] = lambda: cache_aware.streamer(use_lm=use_lm)
    print(f"\n{'':<34} {'wall clock (this machine)':^22}| {'CPU clock (a free core)':^22}|")
    print(f"{'lag after the word ends (s)':<34} " + f"{'p50':>6} {'p95':>6} {'RTF':>6} |" * 2
          + "  words / missed   CER")
    for name, make in methods.items():
        evaluate(name, make, streams, args.feed_s)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    if args.long_minutes > 0:
        linear = {name: make for name, make in methods.items() if not name.startswith("(a)")}
        quadratic_cost(full, linear, long_stream(streams, args.long_minutes), args.step_s)


if __name__ == "__main__":
    main()
