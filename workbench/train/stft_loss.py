"""Denoiser training loss: L1 on the waveform plus facebook's multi-resolution STFT loss.

At each resolution (FFT size, hop, window), with magnitudes |E| of the estimate and |R| of the
reference: spectral convergence ‖|R| − |E|‖_F / ‖|R|‖_F plus the L1 distance of log magnitudes;
each term averaged over the resolutions and weighted 0.5, as in facebook's ``stft_loss.py``.
"""
import torch
import torch.nn.functional as F

STFT_RESOLUTIONS = ((512, 50, 240), (1024, 120, 600), (2048, 240, 1200))   # fft, hop, window


def _magnitude(x, fft, hop, win):
    spec = torch.stft(x, fft, hop, win, window=torch.hann_window(win, device=x.device), return_complex=True)
    return spec.abs().clamp(min=1e-7)


def stft_loss(estimate, reference):
    """facebook's MultiResolutionSTFTLoss (factor 0.5 each), on (B, T) tensors."""
    sc = mag = 0.0
    for fft, hop, win in STFT_RESOLUTIONS:
        e, r = _magnitude(estimate, fft, hop, win), _magnitude(reference, fft, hop, win)
        sc = sc + torch.linalg.norm(r - e, ord="fro", dim=(-2, -1)).mean() / torch.linalg.norm(r, ord="fro", dim=(-2, -1)).mean()
        mag = mag + F.l1_loss(torch.log(e), torch.log(r))
    n = len(STFT_RESOLUTIONS)
    return 0.5 * sc / n + 0.5 * mag / n


def loss_fn(estimate, reference):
    return F.l1_loss(estimate, reference) + stft_loss(estimate, reference)
