"""Band-limited 2x up/down-sampling used inside Demucs.

Both directions use a Hann-windowed sinc with ``zeros`` zero crossings on each
side. Upsampling keeps every input sample and interpolates the sample halfway
between ``x[n]`` and ``x[n+1]``:

    y[2n] = x[n],   y[2n+1] = sum_k x[n+k] h[k],  h[k] = sinc(pi (k - 1/2)) w[k]

Downsampling is the transpose idea: the even samples are kept and the odd ones
are interpolated back onto the even grid, then the two are averaged:

    y[n] = (x[2n] + sum_k x[2(n+k)+1] h[-k]) / 2

The kernel is the one facebook's denoiser uses, so checkpoints trained with it
see exactly the signal they were trained on.
"""
import math

import torch
import torch.nn.functional as F

ZEROS = 56


def _half_sample_kernel(zeros: int = ZEROS) -> torch.Tensor:
    """Windowed-sinc taps evaluated at half-integer offsets ``-zeros+1/2 … zeros-1/2``."""
    window = torch.hann_window(4 * zeros + 1, periodic=False)[1::2]
    t = torch.linspace(-zeros + 0.5, zeros - 0.5, 2 * zeros) * math.pi
    return (torch.sin(t) / t * window).view(1, 1, -1)


def upsample2(x: torch.Tensor, zeros: int = ZEROS) -> torch.Tensor:
    """Double the sample rate of ``x`` (..., time) -> (..., 2 * time)."""
    *batch, time = x.shape
    kernel = _half_sample_kernel(zeros).to(x)
    halfway = F.conv1d(x.reshape(-1, 1, time), kernel, padding=zeros)[..., 1:]
    return torch.stack([x, halfway.view(*batch, time)], dim=-1).view(*batch, 2 * time)


def downsample2(x: torch.Tensor, zeros: int = ZEROS) -> torch.Tensor:
    """Halve the sample rate of ``x`` (..., time) -> (..., ceil(time / 2))."""
    if x.shape[-1] % 2:
        x = F.pad(x, (0, 1))
    even, odd = x[..., ::2], x[..., 1::2]
    *batch, time = odd.shape
    kernel = _half_sample_kernel(zeros).to(x)
    odd_on_even = F.conv1d(odd.reshape(-1, 1, time), kernel, padding=zeros)[..., :-1]
    return (even + odd_on_even.view(*batch, time)) * 0.5
