"""The live mode: two-pass decoding, fast partials and full-context finals.

Three parts run on the same audio:

- partials from a low-latency streamer: the cache-aware companion model (``NAME_streaming.nemo``
  beside ``NAME.nemo``, greedy), or short buffered chunks of the full model. Its text since the
  current utterance began is the partial; it never closes a segment itself.
- endpoints from a voice-activity detector (WebRTC's, over 30 ms frames louder than -50 dBFS): an utterance starts at
  a voiced frame and ends after ``hangover_s`` of unvoiced frames, or at ``max_s`` of length;
- at each endpoint the utterance (from ``pre_roll_s`` before its first voiced frame to the
  endpoint) is decoded again by the full-context model, with its beam search and LM when it
  has one: that text is the final, its words timed on the same posteriors (:mod:`.words`).

Cost per utterance: the low-latency streamer (each frame once) plus one full-context encoder
pass. The text is complete ``hangover_s`` plus the re-decode's compute after the speech ends.
"""
import numpy as np

from ..audio import SAMPLE_RATE, check_chunk
from .stream import StreamConfig, TextEvents, TranscriptEvent, final_event

VAD_FRAME = 480            # samples of one VAD frame (30 ms)
HANGOVER_S = 0.2           # unvoiced time that ends an utterance
MAX_UTTERANCE_S = 12.0     # an utterance is cut at this length
PRE_ROLL_S = 0.0           # audio kept before the first voiced frame (the models read leading quiet badly)
VAD_MODE = 2               # WebRTC aggressiveness, 0 (lenient) .. 3 (strict)
MIN_LEVEL = 0.003          # RMS below which a frame is quiet (-50 dBFS; the VAD flags faint noise while it adapts)
CHUNKS = StreamConfig(0.2, 2.0, 0.2)  # partials from the full model when there is no companion
NEVER_S = 1e6              # the partial streamer's own endpoint: never


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


class LiveModeStream:
    """Feed audio chunks of any length; get :class:`~.stream.TranscriptEvent` lists back: partials
    from ``partials`` (a streamer; greedy, or with its model's LM if ``partial_lm``), finals from
    ``transcriber`` at the endpointer's boundaries. ``utterances`` lists the (start, end) samples
    of each re-decoded utterance."""

    def __init__(self, transcriber, partials, use_lm: bool = True, endpointer: Endpointer | None = None,
                 pre_roll_s: float = PRE_ROLL_S, partial_lm: bool = False):
        self.transcriber, self.partials, self.use_lm, self.partial_lm = transcriber, partials, use_lm, partial_lm
        self.endpointer = endpointer or Endpointer()
        self.pre_roll = round(pre_roll_s * SAMPLE_RATE)
        self.utterances: list[tuple[int, int]] = []
        self._audio = np.zeros(0, np.float32)
        self._offset = 0      # absolute index of _audio[0]
        self._received = 0
        self._partial = ""
        self._restart_partials()

    @property
    def latency_s(self) -> float:
        """Worst-case wait for a final after the speech ends (compute not included)."""
        return self.endpointer.hangover * VAD_FRAME / SAMPLE_RATE

    def feed(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        chunk = check_chunk(chunk)
        self._audio = np.concatenate([self._audio, chunk])
        self._received += len(chunk)
        events = [TranscriptEvent(event.text, False, self._base_s + event.start_s, self._base_s + event.end_s)
                  for event in self.partials.feed(chunk) if not event.final]
        if events:
            self._partial = events[-1].text
        events += [event for span in self.endpointer.feed(chunk) for event in self._final(*span)]
        if self.endpointer.start is None:  # quiet: keep the pre-roll before the frames not yet judged
            self._drop_before(self.endpointer.frames * VAD_FRAME - self.pre_roll)
        return events

    def flush(self) -> list[TranscriptEvent]:
        """End of audio: the open utterance's final."""
        self.partials.flush()
        return [event for span in self.endpointer.close(self._received) for event in self._final(*span)]

    def _final(self, start: int, end: int) -> list[TranscriptEvent]:
        """The full-context decode of ``[start - pre_roll, end)`` as a final event (an empty
        partial instead when it holds no text, so a shown partial is cleared)."""
        start = max(self._offset, start - self.pre_roll)
        self.utterances.append((start, end))
        log_probs = self.transcriber.log_probs(self._audio[start - self._offset:end - self._offset])
        segment = self.transcriber.segment(log_probs, self.use_lm)
        self._drop_before(end)
        self._restart_partials()
        shown, self._partial = self._partial, ""
        if not segment.tokens:
            return [TranscriptEvent("", False, start / SAMPLE_RATE, end / SAMPLE_RATE)] if shown else []
        return [final_event(self.transcriber, segment, start / SAMPLE_RATE)]

    def _restart_partials(self) -> None:
        """A new utterance: the partial streamer's search starts afresh (its times from ``_base_s``,
        the audio it has decoded), with no endpoint of its own."""
        self._base_s = self.partials.decoded_s
        self.partials.text_events = TextEvents(self.partials.transcriber, NEVER_S, use_lm=self.partial_lm)

    def _drop_before(self, sample: int) -> None:
        drop = max(0, sample - self._offset)
        self._audio, self._offset = self._audio[drop:], self._offset + drop


def live_streamer(transcriber, companion=None, use_lm: bool = True, partial_lm: bool = False,
                  pre_roll_s: float = PRE_ROLL_S, **options) -> LiveModeStream:
    """The live mode of ``transcriber``: partials from ``companion``'s cache-aware stream, or from
    short buffered chunks (:data:`CHUNKS`) of ``transcriber`` itself; ``options`` go to :class:`Endpointer`."""
    if companion is not None:
        partials = companion.streamer(endpoint_s=NEVER_S, use_lm=False, cache_aware=True)
    else:
        partials = transcriber.streamer(CHUNKS, endpoint_s=NEVER_S, use_lm=False, cache_aware=False)
    return LiveModeStream(transcriber, partials, use_lm, Endpointer(**options), pre_roll_s, partial_lm)
