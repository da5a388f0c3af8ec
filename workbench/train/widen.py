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

from ..denoise.demucs import Demucs


def widen(small: Demucs, hidden: int, seed: int = 0) -> Demucs:
    """A Demucs with ``small``'s settings at ``hidden`` channels that computes what ``small`` computes."""
    if hidden < small.hidden:
        raise ValueError(f"cannot widen hidden {small.hidden} to the smaller {hidden}")
    if not small.causal:   # a bidirectional LSTM's projection reads two blocks of inputs
        raise ValueError("only a causal Demucs can be widened")
    torch.manual_seed(seed)
    wide = Demucs(**{**small.init_kwargs, "hidden": hidden, "rescale": 0.1})   # facebook's initialisation
    glu = 2 if small.init_kwargs["glu"] else 1
    old, new = small.state_dict(), wide.state_dict()
    for key, fresh in new.items():
        parts = key.split(".")
        if parts[0] == "lstm":
            blocks = 4                                   # input, forget, cell and output gates
        elif parts[2] == ("2" if parts[0] == "encoder" else "0"):
            blocks = glu                                 # the 1x1 convolution in front of the GLU
        else:
            blocks = 1
        transposed = parts[0] == "decoder" and parts[2] == "2" and parts[3] == "weight"   # (in, out, k)
        if transposed:
            new[key] = _embed(old[key].transpose(0, 1), fresh.transpose(0, 1).clone(), blocks).transpose(0, 1)
        else:
            new[key] = _embed(old[key], fresh.clone(), blocks)
    wide.load_state_dict(new, strict=True)
    return wide


def _embed(small: torch.Tensor, wide: torch.Tensor, blocks: int) -> torch.Tensor:
    """``wide`` (out, in, ...) with ``small`` in the leading outputs of each of its ``blocks`` output
    blocks and in the leading inputs; those trained outputs get zero weights from the new inputs."""
    rows_small, rows_wide = small.shape[0] // blocks, wide.shape[0] // blocks
    for block in range(blocks):
        source = small[block * rows_small:(block + 1) * rows_small]
        target = slice(block * rows_wide, block * rows_wide + rows_small)
        if small.dim() == 1:
            wide[target] = source
        else:
            wide[target] = 0
            wide[target, :small.shape[1]] = source
    return wide
