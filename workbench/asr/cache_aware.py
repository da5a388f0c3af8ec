"""Cache-aware streaming for a Conformer trained with limited context (NeMo's cache-aware step).

A Conformer trained with ``att_context_style: chunked_limited`` and
``att_context_size [L, R]`` groups its output frames into chunks of
``C = R + 1``; a frame attends to its own chunk and the ``L`` frames before
it, never further ahead. With causal convolutions (the depthwise ones and the
subsampling) nothing else looks ahead either. So the full-utterance output
can be computed chunk by chunk: each step runs the encoder on the ``C`` new
frames only, and each layer keeps its last ``L`` attention inputs and its last
``kernel - 1`` convolution inputs from the steps before (NeMo's cache). Every
frame is computed once, and a chunk's text is ready as soon as its last
feature frame is:

    lag <= C output frames + half an STFT window   (C = 7: 280 + 12.5 ms)

The log-mel features are computed incrementally with the model's own
preprocessor (see :class:`LogMelStream`), so streamed posteriors equal the
offline ones. This needs features without per-utterance normalisation.
"""
import math
import threading

import numpy as np
import torch

from ..audio import SAMPLE_RATE, check_chunk
from .stream import ENDPOINT_S, TextEvents, TranscriptEvent

PER_UTTERANCE = ("per_feature", "all_features")
# NeMo's step sets the encoder's drop_extra_pre_encoded for the call and restores it after:
# streams sharing a model (sessions of a service) must not step at the same time.
_ENCODER_STEP = threading.Lock()


def trained_for_cache_aware(model) -> bool:
    """True when ``model`` was trained for cache-aware streaming: chunked attention with a
    limited right context, causal convolutions and subsampling, features that need no
    whole-utterance statistics, at 16 kHz."""
    encoder, featurizer = model.encoder, model.preprocessor.featurizer
    return (hasattr(encoder, "cache_aware_stream_step")
            and getattr(encoder, "att_context_style", "") == "chunked_limited"
            and int(encoder.att_context_size[1]) >= 0
            and list(getattr(encoder, "conv_context_size", [0, 1]))[1] == 0
            and bool(getattr(encoder.pre_encode, "is_causal", False))
            and featurizer.normalize not in PER_UTTERANCE
            and not featurizer.exact_pad
            and int(featurizer.sample_rate) == SAMPLE_RATE)


class LogMelStream:
    """Log-mel frames of a growing signal, equal to the preprocessor's on the whole signal.

    Frame ``t`` (hop ``h``) windows samples ``[t h - left, t h + right)`` of the
    pre-emphasised signal (zeros outside it), and pre-emphasis reads one sample
    before. Frame ``t`` is therefore final once sample ``t h + right`` has
    arrived (and sample ``(t + 1) h``, which the preprocessor's frame count asks
    for). New frames are computed from a slice starting ``margin`` frames
    earlier, whose first frames (cut-off window, pre-emphasis of the slice's
    first sample) are thrown away. At the end the signal is zero-padded, as
    offline, which then has ``samples // h`` frames.
    """

    def __init__(self, preprocessor, device: str = "cpu"):
        featurizer = preprocessor.featurizer
        self.preprocessor, self.device = preprocessor, device
        self.hop = int(featurizer.hop_length)
        n_fft, window = int(featurizer.n_fft), int(featurizer.win_length)
        self.left = n_fft // 2 - (n_fft - window) // 2
        self.right = window - self.left
        self.margin = math.ceil((self.left + 1) / self.hop)
        self._audio = np.zeros(0, np.float32)
        self._offset = 0    # absolute index of _audio[0]
        self.received = 0   # samples fed
        self.frames = 0     # frames computed

    @property
    def lookahead_s(self) -> float:
        """How far a frame reads past its centre."""
        return self.right / SAMPLE_RATE

    def feed(self, audio: np.ndarray, at_least: int = 1) -> torch.Tensor:
        """(features, new frames) that ``audio`` completed; none until ``at_least`` are ready
        (computing them a step's worth at a time saves preprocessor calls)."""
        audio = check_chunk(audio)
        self._audio = np.concatenate([self._audio, audio])
        self.received += len(audio)
        ready = min((self.received - self.right) // self.hop + 1, self.received // self.hop)
        return self._frames_up_to(ready) if ready - self.frames >= at_least else self.empty()

    def flush(self) -> torch.Tensor:
        """The frames still missing at the end of the signal (zero-padded, as offline)."""
        return self._frames_up_to(self.received // self.hop)

    def empty(self) -> torch.Tensor:
        """No frames: a (features, 0) tensor."""
        return torch.zeros(int(self.preprocessor.featurizer.nfilt), 0, device=self.device)

    @torch.no_grad()
    def _frames_up_to(self, end: int) -> torch.Tensor:
        start = self.frames
        if end <= start:
            return self.empty()
        begin = max(0, start - self.margin) * self.hop
        stop = (end - 1) * self.hop + self.right
        piece = self._audio[begin - self._offset:]
        piece = np.concatenate([piece, np.zeros(max(0, stop - begin - len(piece)), np.float32)])
        # the length given masks the pre-emphasis past the signal's end, as offline
        features, _ = self.preprocessor(input_signal=torch.from_numpy(piece).unsqueeze(0).to(self.device),
                                        length=torch.tensor([self.received - begin], device=self.device))
        first = start - begin // self.hop
        self.frames = end
        keep = max(0, end - self.margin) * self.hop
        self._audio, self._offset = self._audio[keep - self._offset:], keep
        return features[0, :, first:first + end - start]


class CacheAwareStream:
    """Feed audio chunks of any length; get :class:`~.stream.TranscriptEvent` lists back.

    Each step runs NeMo's cache-aware encoder step on one chunk of features
    (``att_context_size[1] + 1`` output frames), and the chunk's CTC
    log-probabilities go to the same search and endpointing as the buffered
    streamer's (:class:`~.stream.TextEvents`).
    """

    def __init__(self, transcriber, endpoint_s: float = ENDPOINT_S, use_lm: bool = True):
        self.transcriber = transcriber
        model = transcriber.model.eval()
        self.encoder, self.decoder = model.encoder, model.decoder
        self.encoder.setup_streaming_params()
        config = self.encoder.streaming_cfg
        self._chunk_frames = _pair(config.chunk_size)          # feature frames per step: first, later
        self._cache_frames = _pair(config.pre_encode_cache_size)[1]
        self._drop = config.drop_extra_pre_encoded
        self.features = LogMelStream(model.preprocessor, transcriber.device)
        self.text_events = TextEvents(transcriber, endpoint_s, use_lm)
        self._cache = self.encoder.get_initial_cache_state(batch_size=1, device=transcriber.device)
        self._pending = self.features.empty()           # feature frames not yet encoded
        self._history = self._pending                   # the last encoded frames (subsampling cache)
        self._steps = 0
        self._decoded_frames = 0

    @property
    def chunk_s(self) -> float:
        """Audio per encoder step: ``att_context_size[1] + 1`` output frames."""
        return (int(self.encoder.att_context_size[1]) + 1) * self.transcriber.frame_s

    @property
    def latency_s(self) -> float:
        """Worst-case lag of text behind audio: one chunk plus the STFT window's right half."""
        return self.chunk_s + self.features.lookahead_s

    @property
    def decoded_frames(self) -> int:
        """Output frames decoded so far (a multiple of the chunk until the flush)."""
        return self._decoded_frames

    @property
    def decoded_s(self) -> float:
        """Audio decoded so far, in seconds."""
        return min(self._decoded_frames * self.transcriber.frame_s, self.features.received / SAMPLE_RATE)

    def feed(self, chunk: np.ndarray) -> list[TranscriptEvent]:
        missing = self._chunk_frames[min(self._steps, 1)] - self._pending.shape[1]
        self._pending = torch.cat([self._pending, self.features.feed(chunk, at_least=missing)], dim=1)
        events = []
        while self._pending.shape[1] >= self._chunk_frames[min(self._steps, 1)]:
            events += self._step(self._chunk_frames[min(self._steps, 1)], last=False)
        return events

    def flush(self) -> list[TranscriptEvent]:
        """Encode the features left (the last chunk may be short) and close the segment."""
        self._pending = torch.cat([self._pending, self.features.flush()], dim=1)
        events = []
        while self._pending.shape[1]:
            events += self._step(min(self._pending.shape[1], self._chunk_frames[min(self._steps, 1)]), last=True)
        return events + self.text_events.close()

    @torch.no_grad()
    def _step(self, frames: int, last: bool) -> list[TranscriptEvent]:
        """Encode the next ``frames`` feature frames after the subsampling cache (NeMo's
        ``CacheAwareStreamingAudioBuffer`` layout: none before the first step, else the last
        ``pre_encode_cache_size`` frames, whose extra outputs the encoder drops)."""
        new, self._pending = self._pending[:, :frames], self._pending[:, frames:]
        cached = self._recent(self._cache_frames) if self._steps else new[:, :0]
        signal = torch.cat([cached, new], dim=1).unsqueeze(0)
        self._history = torch.cat([self._history, new], dim=1)
        self._history = self._history[:, max(0, self._history.shape[1] - self._cache_frames):]
        with _ENCODER_STEP:
            encoded, length, *self._cache = self.encoder.cache_aware_stream_step(
                processed_signal=signal, processed_signal_length=torch.tensor([signal.shape[2]], device=signal.device),
                cache_last_channel=self._cache[0], cache_last_time=self._cache[1],
                cache_last_channel_len=self._cache[2], keep_all_outputs=last,
                drop_extra_pre_encoded=self._drop if self._steps else 0)
        scores = self.decoder(encoder_output=encoded)[0, :int(length[0])].float().cpu().numpy()
        self._steps += 1
        self._decoded_frames += len(scores)
        return self.text_events.push(scores)

    def _recent(self, count: int) -> torch.Tensor:
        """The last ``count`` encoded feature frames, zeros in front when fewer exist."""
        missing = count - self._history.shape[1]
        return torch.nn.functional.pad(self._history, (max(0, missing), 0))


def _pair(value) -> tuple[int, int]:
    """NeMo's streaming sizes are one number or [first step, later steps]."""
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))
