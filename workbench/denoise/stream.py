"""Exact streaming for a causal Demucs.

The network looks a fixed number of samples into the future: the sinc
upsampler (``ZEROS`` taps per 2x stage), the encoder's receptive field and the
sinc downsampler. Output sample ``n`` is therefore final once input sample
``n + lookahead`` has arrived. The streamer keeps

* the input since a little before the oldest sample still to be emitted,
* the LSTM state, advanced once per latent frame as soon as that frame is final,
* the LSTM outputs still needed by the decoder,

and every ``hop`` samples runs encoder and decoder on that window only. The
window starts on the latent grid, so its convolutions reproduce the offline
ones; samples too close to the window edges are never emitted. The result
equals ``Demucs.forward`` (same normalising ``scale``) up to float rounding,
with a latency of ``lookahead`` samples plus up to one ``hop`` of buffering.
"""
import math

import numpy as np
import torch

from .demucs import Demucs
from .resample import ZEROS


class DemucsGeometry:
    """Sample counts that follow from the network's shape (all in input samples)."""

    def __init__(self, model: Demucs):
        rate = model.resample
        stages = int(math.log2(rate))
        receptive = 1 + (model.kernel_size - 1) * sum(model.stride ** d for d in range(model.depth))
        down_reach = 0
        for _ in range(stages):
            down_reach = 2 * down_reach + 2 * ZEROS - 1
        self.up_reach = sum(ZEROS // 2 ** s for s in range(stages)) + 2 if stages else 0
        self.frame_hop = model.stride ** model.depth // rate
        self.frame_reach = math.ceil(receptive / rate) + self.up_reach
        self.lookahead = math.ceil((down_reach + receptive) / rate) + self.up_reach
        # Outputs this far past a window's start no longer see its zero-padded left edge.
        self.left_context = math.ceil(self.lookahead / self.frame_hop) * self.frame_hop

    def final_frames(self, received: int) -> int:
        """How many latent frames depend only on the first ``received`` samples."""
        return max(0, (received - self.frame_reach) // self.frame_hop + 1)


class DemucsStream:
    """Feed chunks of any length; get back the enhanced signal, ``latency`` samples late.

    ``scale`` fixes the normaliser (use the signal's std to match offline
    output exactly); without it a running RMS of the input so far is used.
    """

    def __init__(self, model: Demucs, dry: float, hop: int, scale: float | None = None,
                 device: str = "cpu"):
        if not model.causal:
            raise ValueError("streaming needs a causal Demucs (this checkpoint is bidirectional)")
        self.model, self.device, self.dry = model, device, dry
        self.geometry = DemucsGeometry(model)
        self.hop = max(1, math.ceil(hop / self.geometry.frame_hop)) * self.geometry.frame_hop
        self.fixed_scale = scale
        self.latency = self.geometry.lookahead + self.hop
        self._raw = np.zeros(0, np.float32)      # input, from sample _start
        self._normalised = np.zeros(0, np.float32)
        self._start = 0                          # absolute index of _raw[0], a frame multiple
        self._received = 0
        self._emitted = 0
        self._frames_done = 0                    # latent frames already through the LSTM
        self._lstm_out = []                      # LSTM outputs from frame _start // frame_hop
        self._lstm_state = None
        self._sum_squares = 0.0
        self._flushed = False

    def _scale(self) -> float:
        if not self.model.normalize:
            return 1.0
        if self.fixed_scale is not None:
            return self.fixed_scale
        return math.sqrt(self._sum_squares / max(self._received, 1))

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        """Append ``chunk``; return the newly final output samples (maybe none)."""
        if self._flushed:
            raise RuntimeError("stream already flushed")
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        self._sum_squares += float(np.square(chunk, dtype=np.float64).sum())
        self._received += len(chunk)
        scale = self._scale()
        divisor = self.model.floor + scale if self.model.normalize else 1.0
        self._raw = np.concatenate([self._raw, chunk])
        self._normalised = np.concatenate([self._normalised, chunk / divisor])
        if self._received - self.geometry.lookahead - self._emitted < self.hop:
            return np.zeros(0, np.float32)
        return self._step(self._received - self.geometry.lookahead, scale)

    def flush(self) -> np.ndarray:
        """End of input: return everything not yet emitted (input then counts as zero-padded)."""
        if self._flushed or self._received == 0:
            self._flushed = True
            return np.zeros(0, np.float32)
        self._flushed = True
        padding = self.model.valid_length(self._received) - self._received
        self._normalised = np.concatenate([self._normalised, np.zeros(padding, np.float32)])
        return self._step(self._received, self._scale(), padded_end=self._received + padding)

    @torch.no_grad()
    def _step(self, emit_end: int, scale: float, padded_end: int | None = None) -> np.ndarray:
        geo, model = self.geometry, self.model
        available = padded_end if padded_end is not None else self._received
        final = self._offline_frames(padded_end) if padded_end else geo.final_frames(self._received)
        earliest = min(self._emitted - geo.left_context, self._frames_done * geo.frame_hop - geo.up_reach)
        window_start = max(self._start, (max(0, earliest) // geo.frame_hop) * geo.frame_hop)

        window = self._normalised[window_start - self._start:available - self._start]
        window_len = len(window)
        padded = model.valid_length(window_len)
        x = torch.from_numpy(np.pad(window, (0, padded - window_len))).to(self.device)
        latent, skips = model.encode(model.upsample(x.view(1, 1, -1)))

        first_frame = window_start // geo.frame_hop
        new = latent[self._frames_done - first_frame:final - first_frame]
        if len(new):
            out, self._lstm_state = model.lstm(new, self._lstm_state)
            self._lstm_out.extend(out.unbind(0))
            self._frames_done = final
        known = self._lstm_out[first_frame - self._start // geo.frame_hop:]
        known = torch.stack(known[:latent.shape[0]]) if known else latent[:0]
        filler = torch.zeros_like(latent[known.shape[0]:])
        decoded = model.downsample(model.decode(torch.cat([known, filler]), skips))[0, 0]

        begin, end = self._emitted - window_start, emit_end - window_start
        denoised = decoded[begin:end].cpu().numpy() * scale
        raw = self._raw[self._emitted - self._start:emit_end - self._start]
        self._emitted = emit_end
        self._forget_consumed()
        return (self.dry * raw + (1 - self.dry) * denoised).astype(np.float32)

    def _offline_frames(self, padded_length: int) -> int:
        """Latent frames the offline model computes for an input of ``padded_length``."""
        model, length = self.model, padded_length * self.model.resample
        for _ in range(model.depth):
            length = max(math.ceil((length - model.kernel_size) / model.stride) + 1, 1)
        return length

    def _forget_consumed(self) -> None:
        geo = self.geometry
        keep_from = min(self._emitted - geo.left_context, self._frames_done * geo.frame_hop - geo.up_reach)
        keep_from = max(self._start, (max(0, keep_from) // geo.frame_hop) * geo.frame_hop)
        drop = keep_from - self._start
        if drop <= 0:
            return
        self._raw, self._normalised = self._raw[drop:], self._normalised[drop:]
        del self._lstm_out[:drop // geo.frame_hop]
        self._start = keep_from
