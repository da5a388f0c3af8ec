"""Float matrix products laid out for the few rows of a streaming hop.

A streamer multiplies every weight matrix by only a handful of frames per hop
(one to a few dozen), so each product is bound by reading the weights, and
the layout decides how fast they are read. Measured on one thread of this
project's CPU with dns48's shapes, from weights that do not fit in cache:

* ``y = x Wᵀ + b`` with W packed once into oneDNN's blocked layout
  (:class:`PackedLinear`) takes about half the time of ``nn.Linear`` for 4–16
  rows, and 10–20 % less for hundreds;
* a single row (the LSTM's recurrent product ``h_{t-1} W_hh``) is fastest as a
  plain product with W stored input-major, (in, out) (:class:`InputMajorLinear`):
  about 35 % less than ``nn.Linear``.

Both compute the same sums as ``nn.Linear`` in another order: results differ by
float rounding only (relative 1e-7–1e-6 per product).
"""
import torch
from torch import nn


def packing_available(device: str) -> bool:
    """Whether oneDNN's packed float products run here (CPU builds of torch with oneDNN)."""
    return device == "cpu" and torch.backends.mkldnn.is_available()


class PackedLinear(nn.Module):
    """``x Wᵀ + b`` with W (out, in) packed once for oneDNN's float kernel."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), None)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


class InputMajorLinear(nn.Module):
    """``x Wᵀ + b`` with Wᵀ stored contiguous, (in, out): the fastest layout for one row."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight_t = linear.weight.detach().t().contiguous()
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight_t if self.bias is None else torch.addmm(self.bias, x, self.weight_t)
