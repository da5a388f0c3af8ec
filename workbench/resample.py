"""Every sample-rate conversion of the workbench, and the rates it accepts.

Whole signals (:func:`resample`) and streams (:func:`stream_resampler`) go from any rate in
``MIN_RATE .. MAX_RATE`` to another, by default ``SAMPLE_RATE`` (16 kHz, the models' rate): with
julius' windowed-sinc ``resample_frac`` when the rates reduce to a small ratio (its kernel holds
``b * (2W + a)`` taps for rates ``a : b`` in lowest terms), and with soxr otherwise, whose cost
does not grow with the ratio. A stream chunk by chunk equals the whole signal resampled.

**Streams with julius** (:class:`LiveResampler`). ``resample_frac`` with rates reduced to ``a``
(in) and ``b`` (out) by their gcd computes, for every block k of ``a`` input samples, ``b`` outputs

    y[k*b + i] = sum_t x[k*a - W + t] * h_i[t],   t in [0, 2W + a)

with W = ceil(zeros * a / (rolloff * min(a, b))) (julius' ``zeros`` = 24 sinc zero crossings and
``rolloff`` = 0.945 of the lower Nyquist frequency) and the signal padded by replicating its first
and last samples. Resampling each chunk on its own would pad every chunk's edges; the stream keeps
the last input samples that future blocks need, so a block is computed once its 2W + a inputs
have arrived (a delay of W + a input samples), and ``flush`` pads the end as the offline call does.

**Inside Demucs** (:func:`upsample2`, :func:`downsample2`): band-limited 2x up/down-sampling with a
Hann-windowed sinc of ``zeros`` zero crossings on each side. Upsampling keeps every input sample
and interpolates the sample halfway between ``x[n]`` and ``x[n+1]``:

    y[2n] = x[n],   y[2n+1] = sum_k x[n+k] h[k],  h[k] = sinc(pi (k - 1/2)) w[k]

Downsampling is the transpose idea: the even samples are kept and the odd ones are interpolated
back onto the even grid, then the two are averaged:

    y[n] = (x[2n] + sum_k x[2(n+k)+1] h[-k]) / 2

The kernel is the one facebook's denoiser uses, so checkpoints trained with it see exactly the
signal they were trained on.
"""
import math

import julius
import numpy as np
import soxr
import torch
import torch.nn.functional as F

from .errors import AudioError

SAMPLE_RATE = 16_000            # every source is converted to this rate, the models'
MIN_RATE, MAX_RATE = 1_000, 384_000
JULIUS_MAX_TAPS = 1 << 22       # larger julius kernels (odd rate ratios) go to soxr instead
ZEROS = 56                      # sinc zero crossings of Demucs' 2x kernel


def check_rate(rate) -> int:
    """``rate`` as an int, or :class:`AudioError` unless it is a whole number in ``MIN_RATE .. MAX_RATE``."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(rate) or int(rate) != rate or not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate {rate!r} Hz (the workbench reads {MIN_RATE} to {MAX_RATE} Hz)")
    return int(rate)


def _julius_taps(rate: int, target: int) -> int:
    """Size of julius' kernel for ``rate -> target``: ``b (2W + a)``, W = ceil(24 a / (0.945 min(a, b)))."""
    divisor = math.gcd(rate, target)
    a, b = rate // divisor, target // divisor
    return b * (2 * math.ceil(24 * a / (0.945 * min(a, b))) + a)


def uses_julius(rate: int, target: int = SAMPLE_RATE) -> bool:
    """Whether ``rate -> target`` is converted with julius (small ratio) rather than soxr."""
    return _julius_taps(check_rate(rate), check_rate(target)) <= JULIUS_MAX_TAPS


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Convert ``audio`` from ``rate`` to ``target`` Hz (band-limited; julius or soxr, see the module)."""
    rate, target = check_rate(rate), check_rate(target)
    audio = np.ascontiguousarray(audio, np.float32)
    if rate == target:
        return audio
    if uses_julius(rate, target):
        return julius.resample_frac(torch.from_numpy(audio), rate, target).numpy()
    return soxr.resample(audio, rate, target, quality="HQ").astype(np.float32)


class _SoxrStream:
    """soxr's stream resampler behind the ``feed``/``flush`` interface of :class:`LiveResampler`."""

    def __init__(self, rate: int, target: int):
        self.rate = rate
        self._stream = soxr.ResampleStream(rate, target, 1, dtype="float32", quality="HQ")

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(np.asarray(chunk, np.float32).reshape(-1))

    def flush(self) -> np.ndarray:
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)


def stream_resampler(rate: int, target: int = SAMPLE_RATE):
    """A ``feed(chunk) -> samples`` / ``flush() -> rest`` resampler for ``rate -> target``;
    chunk by chunk it equals :func:`resample` of the whole signal."""
    rate = check_rate(rate)
    return LiveResampler(rate, target) if uses_julius(rate, target) else _SoxrStream(rate, target)


class LiveResampler:
    """``feed(chunk) -> resampled samples so far``, ``flush() -> the rest``; float32 mono."""

    def __init__(self, rate: int, target: int = SAMPLE_RATE):
        if int(rate) != rate or rate <= 0:
            raise AudioError(f"invalid sample rate {rate}")
        self.rate = int(rate)
        divisor = math.gcd(int(rate), int(target))
        self.a, self.b = int(rate) // divisor, int(target) // divisor
        self.same = self.a == self.b
        if not self.same:
            self.resampler = julius.ResampleFrac(self.a, self.b)
            zeros, rolloff = self.resampler.zeros, self.resampler.rolloff
            self.width = math.ceil(zeros * self.a / (min(self.a, self.b) * rolloff))  # W above: the kernel spans 2W + a
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


def half_sample_kernel(zeros: int = ZEROS) -> torch.Tensor:
    """Windowed-sinc taps evaluated at half-integer offsets ``-zeros+1/2 … zeros-1/2``."""
    window = torch.hann_window(4 * zeros + 1, periodic=False)[1::2]
    t = torch.linspace(-zeros + 0.5, zeros - 0.5, 2 * zeros) * math.pi
    return (torch.sin(t) / t * window).view(1, 1, -1)


def upsample2(x: torch.Tensor, zeros: int = ZEROS) -> torch.Tensor:
    """Double the sample rate of ``x`` (..., time) -> (..., 2 * time)."""
    *batch, time = x.shape
    kernel = half_sample_kernel(zeros).to(x)
    halfway = F.conv1d(x.reshape(-1, 1, time), kernel, padding=zeros)[..., 1:]
    return torch.stack([x, halfway.view(*batch, time)], dim=-1).view(*batch, 2 * time)


def downsample2(x: torch.Tensor, zeros: int = ZEROS) -> torch.Tensor:
    """Halve the sample rate of ``x`` (..., time) -> (..., ceil(time / 2))."""
    if x.shape[-1] % 2:
        x = F.pad(x, (0, 1))
    even, odd = x[..., ::2], x[..., 1::2]
    *batch, time = odd.shape
    kernel = half_sample_kernel(zeros).to(x)
    odd_on_even = F.conv1d(odd.reshape(-1, 1, time), kernel, padding=zeros)[..., :-1]
    return (even + odd_on_even.view(*batch, time)) * 0.5
