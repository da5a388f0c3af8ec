"""Resampling a live stream chunk by chunk, equal to resampling the whole recording.

julius' ``resample_frac`` with rates reduced to ``a`` (in) and ``b`` (out) by
their gcd computes, for every block k of ``a`` input samples, ``b`` outputs

    y[k*b + i] = sum_t x[k*a - W + t] * h_i[t],   t in [0, 2W + a)

with W = ceil(zeros * a / (rolloff * min(a, b))) (julius' ``zeros`` = 24 sinc zero
crossings and ``rolloff`` = 0.945 of the lower Nyquist frequency) and the signal padded by
replicating its first and last samples. Resampling each chunk on its own
would pad every chunk's edges; here the stream keeps the last input samples
that future blocks need, so a block is computed once its 2W + a inputs have
arrived (a delay of W + a input samples) and :meth:`flush` pads the end as
the offline call does.
"""
from math import ceil, gcd

import julius
import numpy as np
import torch
import torch.nn.functional as F

from .audio import SAMPLE_RATE
from .errors import AudioError


class LiveResampler:
    """``feed(chunk) -> resampled samples so far``, ``flush() -> the rest``; float32 mono."""

    def __init__(self, rate: int, target: int = SAMPLE_RATE):
        if int(rate) != rate or rate <= 0:
            raise AudioError(f"invalid sample rate {rate}")
        self.rate = int(rate)
        divisor = gcd(int(rate), int(target))
        self.a, self.b = int(rate) // divisor, int(target) // divisor
        self.same = self.a == self.b
        if not self.same:
            self.resampler = julius.ResampleFrac(self.a, self.b)
            zeros, rolloff = self.resampler.zeros, self.resampler.rolloff
            self.width = ceil(zeros * self.a / (min(self.a, self.b) * rolloff))  # W above: the kernel spans 2W + a
        self.received = self.emitted = 0
        self._window = None  # inputs from the next block's first tap on

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        if self.same or not len(chunk):
            return chunk
        if self._window is None:
            self._window = np.full(self.width, chunk[0], np.float32)  # replicate padding, as offline
        self.received += len(chunk)
        self._window = np.concatenate([self._window, chunk])
        out = self._blocks()
        self.emitted += len(out)
        return out

    def flush(self) -> np.ndarray:
        """Pad the end as the offline call does and return the last samples."""
        if self.same or self._window is None:
            return np.zeros(0, np.float32)
        self._window = np.concatenate([self._window, np.full(self.width + self.a, self._window[-1], np.float32)])
        total = self.received * self.b // self.a  # julius' default (floored) output length
        out = self._blocks()[:max(0, total - self.emitted)]
        self.emitted += len(out)
        self._window = None
        return out

    def _blocks(self) -> np.ndarray:
        """Every block whose inputs have all arrived; drops the inputs no later block needs."""
        span = 2 * self.width + self.a
        count = (len(self._window) - span) // self.a + 1
        if count <= 0:
            return np.zeros(0, np.float32)
        used = (count - 1) * self.a + span
        x = torch.from_numpy(self._window[:used])[None, None]
        out = F.conv1d(x, self.resampler.kernel, stride=self.a)[0].T.reshape(-1).numpy()
        self._window = self._window[count * self.a:]
        return out
