"""Dynamic int8 quantization (``torch.ao``) of a model's Linear layers, for faster CPU inference.

Each ``nn.Linear`` keeps its weights as int8 with one scale per output channel
(row ``i`` of ``W`` scaled by its own largest magnitude, symmetric) and quantizes
its input on the fly with one scale per call: ``y_i = s_i s_x (W_q x_q)_i + b_i``.
This reads a quarter of the weight memory per product, which is what bounds frame-by-frame
streaming; the price is rounding noise, so results are no longer bit-exact.
"""
import warnings

import torch
from torch import nn

from .errors import DeviceError


def quantize_linear(module: nn.Module, device: str) -> nn.Module:
    """Replace every ``nn.Linear`` in ``module`` (in place) by its dynamic int8 version."""
    if device != "cpu":
        raise DeviceError(f"int8 quantization runs on the CPU only, not on {device}")
    with warnings.catch_warnings():  # torch.ao announces its move to torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            module, {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, inplace=True)


def is_quantized(module: nn.Module) -> bool:
    """Whether :func:`quantize_linear` has converted any of ``module``'s Linear layers."""
    return any(isinstance(layer, torch.ao.nn.quantized.dynamic.Linear) for layer in module.modules())
