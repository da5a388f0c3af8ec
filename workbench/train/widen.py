"""Function-preserving widening of a trained Demucs: fine-tune a larger denoiser from a smaller one.

Every layer of the wider model keeps the trained channels first and gets new ones after them. For a
weight ``W'[out, in]`` of the wider model (convolutions, transposed convolutions, LSTM gates):

    W'[old, old] = W        W'[old, new] = 0        W'[new, :] = fresh initialisation

so the trained channels see only trained channels, and the output, which has trained channels only,
is the small model's output exactly. The new channels compute fresh features of everything below
them; their outgoing weights start at zero and receive gradients from the first step, since the new
channels' activations are not zero (new units with zero fan-out, as in Evci et al., 2022, GradMax).
Channel blocks are widened block by block: GLU's value and gate halves, the LSTM's four gates.
"""
import torch
from torch import nn

from ..denoise.demucs import Demucs


def widen(small: Demucs, hidden: int, seed: int = 0) -> Demucs:
    """A Demucs with ``small``'s settings at ``hidden`` channels that computes what ``small`` computes."""
    if hidden < small.hidden:
        raise ValueError(f"cannot widen hidden {small.hidden} to the smaller {hidden}")
    if not small.causal:   # a bidirectional LSTM's projection reads two blocks of inputs
        raise ValueError("only a causal Demucs can be widened")
    torch.manual_seed(seed)
    wide = Demucs(**{**small.init_kwargs, "hidden": hidden, "rescale": 0.1})   # facebook's initialisation
    with torch.no_grad():
        for trained, fresh, blocks in _layers(small, wide):
            for name, weight in fresh.named_parameters():
                old = getattr(trained, name)
                if isinstance(fresh, nn.ConvTranspose1d) and name == "weight":   # (in, out, k)
                    _embed(old.transpose(0, 1), weight.transpose(0, 1), blocks)
                else:
                    _embed(old, weight, blocks)
    return wide


def _layers(small: Demucs, wide: Demucs):
    """(small layer, wide layer, output blocks) for every layer with weights: 2 for a convolution that
    feeds a GLU (value and gate halves), 4 for the LSTM (input, forget, cell and output gates), else 1."""
    for trained, fresh in zip(small.modules(), wide.modules()):
        if isinstance(fresh, nn.LSTM):
            yield trained, fresh, 4
        elif isinstance(fresh, nn.Sequential):
            following = list(fresh)[1:] + [None]
            for (old, new), after in zip(zip(trained, fresh), following):
                if isinstance(new, (nn.Conv1d, nn.ConvTranspose1d)):
                    yield old, new, 2 if isinstance(after, nn.GLU) else 1


def _embed(small: torch.Tensor, wide: torch.Tensor, blocks: int) -> None:
    """Write ``small`` into ``wide`` (out, in, ...): in the leading outputs of each of ``blocks`` output
    blocks and the leading inputs; those trained outputs get zero weights from the new inputs."""
    rows_small, rows_wide = small.shape[0] // blocks, wide.shape[0] // blocks
    for block in range(blocks):
        source = small[block * rows_small:(block + 1) * rows_small]
        target = slice(block * rows_wide, block * rows_wide + rows_small)
        if small.dim() == 1:
            wide[target] = source
        else:
            wide[target] = 0
            wide[target, :small.shape[1]] = source
