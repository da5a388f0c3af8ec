"""The live mode: two-pass decoding, fast partials and full-context finals.

Three parts run on the same audio:

- partials, by default from the full-context model itself: the open utterance so far is decoded
  again (beam search and LM, as the final) as often as :class:`Redecodes` says (every 0.1 s of
  audio, and at most 40 offline decodes' worth: the whole live mode's RTF is 0.23 on the held-out
  set, 1 thread; a busy service re-decodes less often, as its chunks queue), and its whole
  syllables are the partial. Or (``partials=
  "companion"``) from a low-latency streamer: the cache-aware companion model
  (``NAME_streaming.nemo`` beside ``NAME.nemo``, greedy), or short buffered chunks of the full
  model; its text since the current utterance began is the partial, and it never closes a
  segment itself. Its partials are cheaper and revised less, but wrong too often to show the
  final's words early (docs/latency.md).
- endpoints from a voice-activity detector (WebRTC's, over 30 ms frames louder than -50 dBFS): an utterance starts at
  a voiced frame and ends after ``hangover_s`` of unvoiced frames, or at ``max_s`` of length;
- at each endpoint the utterance (from ``pre_roll_s`` before its speech onset to the endpoint)
  is decoded again by the full-context model, with its beam search and LM when it has one, on
  the posteriors of that crop averaged with those of the crop one output frame shorter
  (:func:`final_log_probs`): that text is the final, its words timed on the same posteriors
  (:mod:`.words`).

The speech onset (:func:`speech_onset`) is found to 5 ms, not the VAD's 30 ms frames: the
full-context model was trained on clips that begin where their speech does, and a crop whose
start is 20-30 ms off reads one to two CER points worse (docs/latency.md).

Cost per utterance: the partials (each frame once for a companion, the re-decodes above) plus two
full-context encoder passes for the final. The text is complete ``hangover_s`` plus the final's
compute after the speech ends, or sooner when a re-decoded partial already equals the final.
"""
from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE, check_chunk
from . import silence
from .hangul import whole_syllables
from .stream import StreamConfig, TextEvents, TranscriptEvent, final_event

VAD_FRAME = 480            # samples of one VAD frame (30 ms)
HANGOVER_S = 0.2           # unvoiced time that ends an utterance
MAX_UTTERANCE_S = 12.0     # an utterance is cut at this length
PRE_ROLL_S = 0.02          # audio kept before the speech onset (the model reads leading quiet badly)
ONSET_SEARCH_S = 0.3       # the onset is looked for this far around the first voiced frame
ONSET_FACTOR = 3.0         # the onset: the first window this many times louder than the noise before it
NOISE_PERCENTILE = 10      # the noise: this percentile of the windows' RMS before the first voiced frame
ONSET_WINDOW, ONSET_HOP = 160, 80  # samples of the onset's RMS windows (10 ms, 5 ms apart)
VAD_MODE = 2               # WebRTC aggressiveness, 0 (lenient) .. 3 (strict)
MIN_LEVEL = 0.003          # RMS below which a frame is quiet (-50 dBFS; the VAD flags faint noise while it adapts)
CHUNKS = StreamConfig(0.2, 2.0, 0.2)  # streamed partials from the full model when there is no companion
NEVER_S = 1e6              # the partial streamer's own endpoint: never
SHIFT_FRAMES = 1           # the final averages its crop's posteriors with those of the crop this many frames shorter


@dataclass(frozen=True)
class Redecodes:
    """How often the open utterance is decoded again for a partial: every ``every_s`` of audio, or
    every ``length / rate`` once it is longer than ``rate * every_s``, so that re-decoding costs at
    most ``rate`` offline decodes of the audio. Sooner costs more and shows words sooner
    (docs/latency.md)."""

    every_s: float = 0.1
    rate: float = 40.0

    def due(self, waited_s: float, length_s: float) -> bool:
        """Whether a re-decode is due ``waited_s`` after the last one, the utterance ``length_s`` long."""
        return waited_s >= max(self.every_s, length_s / self.rate)


REDECODES = Redecodes()


class Endpointer:
    """Utterance boundaries (absolute samples) from WebRTC's voice-activity detector: a frame is
    voiced when it is louder than ``min_level`` (RMS) and the detector says so."""

    def __init__(self, hangover_s: float = HANGOVER_S, max_s: float = MAX_UTTERANCE_S, mode: int = VAD_MODE,
                 min_level: float = MIN_LEVEL):
        import webrtcvad

        self.vad, self.min_level = webrtcvad.Vad(mode), min_level
        self.hangover = max(1, round(hangover_s * SAMPLE_RATE / VAD_FRAME))
        self.max_frames = max(1, round(max_s * SAMPLE_RATE / VAD_FRAME))
        self._pending = np.zeros(0, np.float32)
        self.frames = 0          # VAD frames judged
        self.start = None        # frame where the open utterance began (None: quiet)
        self._unvoiced = 0

    def feed(self, chunk: np.ndarray) -> list[tuple[int, int]]:
        """Judge the whole frames ``chunk`` completes; the utterances they closed, as (first
        voiced sample, endpoint sample)."""
        self._pending = np.concatenate([self._pending, chunk])
        whole = len(self._pending) // VAD_FRAME * VAD_FRAME
        frames, self._pending = self._pending[:whole], self._pending[whole:]
        pcm = (np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes()
        loud = np.sqrt(np.mean(np.square(frames.reshape(-1, VAD_FRAME)), axis=1)) >= self.min_level
        closed = []
        for index in range(whole // VAD_FRAME):
            voiced = bool(loud[index]) and self.vad.is_speech(pcm[2 * index * VAD_FRAME:2 * (index + 1) * VAD_FRAME],
                                                              SAMPLE_RATE)
            self.frames += 1
            if self.start is None:
                self.start, self._unvoiced = (self.frames - 1, 0) if voiced else (None, 0)
                continue
            self._unvoiced = 0 if voiced else self._unvoiced + 1
            if self._unvoiced >= self.hangover or self.frames - self.start >= self.max_frames:
                closed.append((self.start * VAD_FRAME, self.frames * VAD_FRAME))
                self.start = None if self._unvoiced else self.frames
        return closed

    def close(self, received: int) -> list[tuple[int, int]]:
        """End of audio: the open utterance, if any."""
        start, self.start = self.start, None
        return [] if start is None else [(start * VAD_FRAME, received)]


def rms_windows(audio: np.ndarray) -> np.ndarray:
    """RMS of ``ONSET_WINDOW``-sample windows of ``audio``, ``ONSET_HOP`` apart."""
    count = max(0, (len(audio) - ONSET_WINDOW) // ONSET_HOP + 1)
    windows = np.lib.stride_tricks.sliding_window_view(audio, ONSET_WINDOW)[::ONSET_HOP][:count]
    return np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1))


def speech_onset(audio: np.ndarray, voiced: int, factor: float = ONSET_FACTOR) -> int:
    """Where speech begins near the first voiced frame (index ``voiced`` of ``audio``): the centre of
    the first window within ``ONSET_SEARCH_S`` of it whose RMS exceeds ``factor`` times the noise
    (the ``NOISE_PERCENTILE``-th percentile of the windows' RMS before ``voiced``: the VAD may
    start late), else ``voiced``."""
    search = round(ONSET_SEARCH_S * SAMPLE_RATE)
    low = max(0, voiced - search)
    levels = rms_windows(audio[low:voiced + search])
    quiet = levels[:max(0, (voiced - low - ONSET_WINDOW) // ONSET_HOP + 1)]
    if not len(quiet):
        return voiced
    loud = np.flatnonzero(levels > max(factor * np.percentile(quiet, NOISE_PERCENTILE), silence.SILENCE_RMS))
    return low + int(loud[0]) * ONSET_HOP + ONSET_WINDOW // 2 if len(loud) else voiced


def final_log_probs(transcriber, crop: np.ndarray, shift: int = SHIFT_FRAMES) -> tuple[np.ndarray, int]:
    """The final's posteriors of an utterance's ``crop``, and the sample of ``crop`` where their
    first frame begins: the average, ``log((p + q) / 2)``, of the crop's posteriors ``p`` from
    frame ``shift`` on and those ``q`` of the crop less its first ``shift`` frames (frame ``t`` of
    the one and ``t + shift`` of the other read the same audio). Two readings of where the
    utterance begins, one encoder pass more (the crop alone when it is too short to shorten)."""
    whole = transcriber.log_probs(crop)
    skip = shift * transcriber.frame_samples
    if len(whole) <= 2 * shift:
        return whole, 0
    later = transcriber.log_probs(crop[skip:])
    count = min(len(whole) - shift, len(later))
    return np.logaddexp(whole[shift:shift + count], later[:count]) - np.log(2), skip


class LiveModeStream:
    """Feed audio chunks of any length; get :class:`~.stream.TranscriptEvent` lists back: partials
    from ``partials`` (a streamer; greedy, or with its model's LM if ``partial_lm``), or, when it
    is None, from ``transcriber`` itself re-decoding the open utterance so far (with the LM if
    ``partial_lm``) as often as ``redecodes`` says; finals from ``transcriber`` at the endpointer's boundaries.
    ``utterances`` lists the (start, end) samples of each re-decoded utterance."""

    def __init__(self, transcriber, partials=None, use_lm: bool = True, endpointer: Endpointer | None = None,
                 pre_roll_s: float = PRE_ROLL_S, partial_lm: bool = False, redecodes: Redecodes = REDECODES):
        self.transcriber, self.partials, self.use_lm, self.partial_lm = transcriber, partials, use_lm, partial_lm
        self.endpointer = endpointer or Endpointer()
        self.pre_roll = round(pre_roll_s * SAMPLE_RATE)
        self.redecodes = redecodes
        self.utterances: list[tuple[int, int]] = []
        self._audio = np.zeros(0, np.float32)
        self._offset = 0      # absolute index of _audio[0]
        self._received = 0
        self._partial = ""
        self._decoded_to = 0  # where the last re-decoded partial ended
        self._restart_partials()

    @property
    def latency_s(self) -> float:
        """Worst-case wait for a final after the speech ends (compute not included)."""
        return self.endpointer.hangover * VAD_FRAME / SAMPLE_RATE

    def feed(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        chunk = check_chunk(chunk)
        self._audio = np.concatenate([self._audio, chunk])
        self._received += len(chunk)
        events = self._streamed_partials(chunk)
        events += [event for span in self.endpointer.feed(chunk) for event in self._final(*span)]
        if self.partials is None and self.endpointer.start is not None:
            begun = self.endpointer.start * VAD_FRAME
            waited = self._received - max(self._decoded_to, begun)
            if self.redecodes.due(waited / SAMPLE_RATE, (self._received - begun) / SAMPLE_RATE):
                events += self._redecoded_partial()
        if self.endpointer.start is None:  # quiet: keep what the next onset search and pre-roll may read
            self._drop_before(self.endpointer.frames * VAD_FRAME - self.pre_roll - round(ONSET_SEARCH_S * SAMPLE_RATE))
        return events

    def flush(self) -> list[TranscriptEvent]:
        """End of audio: the open utterance's final."""
        if self.partials is not None:
            self.partials.flush()
        return [event for span in self.endpointer.close(self._received) for event in self._final(*span)]

    def _crop_start(self, voiced: int) -> int:
        """Where the decoded crop of an utterance whose first voiced frame is at ``voiced`` starts:
        ``pre_roll`` before its speech onset, not before the last endpoint (the audio before it is
        dropped, so a piece that goes on from a cut at the maximum length starts at the cut)."""
        onset = self._offset + speech_onset(self._audio, voiced - self._offset)
        return max(self._offset, onset - self.pre_roll)

    def _final(self, start: int, end: int) -> list[TranscriptEvent]:
        """The full-context decode (:func:`final_log_probs`) of the utterance ``[start, end)``
        (its crop from :meth:`_crop_start`) as a final event (an empty partial instead when it
        holds no text, so a shown partial is cleared)."""
        start = self._crop_start(start)
        self.utterances.append((start, end))
        log_probs, skip = final_log_probs(self.transcriber, self._audio[start - self._offset:end - self._offset])
        segment = self.transcriber.segment(log_probs, self.use_lm)
        self._drop_before(end)
        self._restart_partials()
        shown, self._partial = self._partial, ""
        if not segment.tokens:
            return [TranscriptEvent("", False, start / SAMPLE_RATE, end / SAMPLE_RATE)] if shown else []
        return [final_event(self.transcriber, segment, (start + skip) / SAMPLE_RATE)]

    def _streamed_partials(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        """The partial streamer's partials of ``chunk``, in the stream's times."""
        if self.partials is None:
            return []
        events = [TranscriptEvent(event.text, False, self._base_s + event.start_s, self._base_s + event.end_s)
                  for event in self.partials.feed(chunk) if not event.final]
        if events:
            self._partial = events[-1].text
        return events

    def _redecoded_partial(self) -> list[TranscriptEvent]:
        """The open utterance so far decoded by the full-context model (with the LM if
        ``partial_lm``), as a partial (whole syllables only) when what it shows changed."""
        start = self._crop_start(self.endpointer.start * VAD_FRAME)
        self._decoded_to = self._received
        log_probs = self.transcriber.log_probs(self._audio[start - self._offset:])
        text = whole_syllables(self.transcriber.decode(log_probs, self.partial_lm))
        if not text or text == self._partial:
            return []
        self._partial = text
        return [TranscriptEvent(text, False, start / SAMPLE_RATE, self._received / SAMPLE_RATE)]

    def _restart_partials(self) -> None:
        """A new utterance: the partial streamer's search starts afresh (its times from ``_base_s``,
        the audio it has decoded), with no endpoint of its own."""
        if self.partials is not None:
            self._base_s = self.partials.decoded_s
            self.partials.text_events = TextEvents(self.partials.transcriber, NEVER_S, use_lm=self.partial_lm)

    def _drop_before(self, sample: int) -> None:
        drop = max(0, sample - self._offset)
        self._audio, self._offset = self._audio[drop:], self._offset + drop


def live_streamer(transcriber, companion=None, use_lm: bool = True, partial_lm: bool = True,
                  pre_roll_s: float = PRE_ROLL_S, partials: str = "redecode", redecodes: Redecodes = REDECODES,
                  **options) -> LiveModeStream:
    """The live mode of ``transcriber``. ``partials``: ``"redecode"``: ``transcriber`` re-decoding
    the open utterance as often as ``redecodes`` says; ``"companion"``: ``companion``'s cache-aware stream
    (short buffered chunks of ``transcriber``, :data:`CHUNKS`, when there is none). Partials use the
    LM when ``partial_lm`` and ``use_lm``. ``options`` go to :class:`Endpointer`."""
    if partials not in ("redecode", "companion"):
        raise ValueError(f"partials: expected 'redecode' or 'companion', got {partials!r}")
    partial_lm = partial_lm and use_lm
    if partials == "redecode":
        streamer = None
    elif companion is not None:
        streamer = companion.streamer(endpoint_s=NEVER_S, use_lm=False, cache_aware=True)
    else:
        streamer = transcriber.streamer(CHUNKS, endpoint_s=NEVER_S, use_lm=False, cache_aware=False)
    return LiveModeStream(transcriber, streamer, use_lm, Endpointer(**options), pre_roll_s, partial_lm, redecodes)
