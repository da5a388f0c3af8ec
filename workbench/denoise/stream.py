"""Exact, incremental streaming for a causal Demucs.

Every stage of the causal network is a valid (unpadded) convolution or a
recurrence, so each stage can keep just the inputs its next output still
needs and compute every output once:

* 2x sinc upsampling keeps its last ``2 Z - 1`` inputs (zeros before the start);
* a strided convolution (kernel K, stride S) keeps the inputs no full window has used yet;
* the LSTM keeps its state;
* a transposed convolution ``y[tS + k] += W_k x[t]`` keeps the ``K - S`` output
  samples still waiting for the next frame's overlap-add;
* 2x sinc downsampling keeps its last ``2 Z - 1`` odd samples.

Convolutions run as matrix products on time-major frames: a strided
convolution is ``unfold(x) @ W`` with W the kernel reshaped to (in K, out), a
transposed one ``x @ W`` with W reshaped to (in, K out) followed by the
overlap-add. All frames of a hop go through each layer in one call. At the end
the input is zero-padded as ``Demucs.forward`` pads it and the buffered edges
are released, so the output equals offline (same normaliser ``scale``) up to
float rounding, ``lookahead`` samples plus up to one hop late.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio import check_chunk
from ..quantize import quantize_linear
from ..resample import ZEROS, half_sample_kernel
from .demucs import Demucs
from .packed import InputMajorLinear, PackedLinear, packing_available


class DemucsGeometry:
    """Sample counts that follow from the network's shape (all in input samples)."""

    def __init__(self, model: Demucs):
        rate = model.resample
        stages = int(math.log2(rate))
        receptive = 1 + (model.kernel_size - 1) * sum(model.stride ** d for d in range(model.depth))
        down_reach = 0
        for _ in range(stages):
            down_reach = 2 * down_reach + 2 * ZEROS - 1
        up_reach = sum(ZEROS // 2 ** s for s in range(stages)) + 2 if stages else 0
        self.frame_hop = model.stride ** model.depth // rate
        # Output sample n depends on input samples up to n + lookahead.
        self.lookahead = math.ceil((down_reach + receptive) / rate) + up_reach


def _as_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """An ``nn.Linear`` computing ``x @ weight.T + bias`` (weight (out, in))."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    linear.weight = nn.Parameter(weight.detach().contiguous(), requires_grad=False)
    if bias is not None:
        linear.bias = nn.Parameter(bias.detach(), requires_grad=False)
    return linear


class StreamingDemucs(nn.Module):
    """The weights of a causal :class:`Demucs` as time-major matrix products.

    Encoder layer: ``act(relu(unfold(x) @ W1 + b1) @ W2 + b2)``; decoder layer:
    ``relu(overlap_add(act((x + skip) @ W1 + b1) @ W2) + b2)``. The LSTM is two
    products per layer (:meth:`recur`). ``quantize=True`` stores all these
    products as dynamic int8 (:mod:`workbench.quantize`): faster, no longer exact. Otherwise, on
    a CPU with oneDNN, the products are laid out for the few frames of a hop (:mod:`.packed`).
    """

    def __init__(self, model: Demucs, quantize: bool = False, device: str = "cpu"):
        super().__init__()
        if not model.causal:
            raise ValueError("streaming needs a causal Demucs (this checkpoint is bidirectional)")
        if model.kernel_size < model.stride:
            raise ValueError("streaming needs kernel_size >= stride")
        self.kernel_size, self.stride = model.kernel_size, model.stride
        self.glu = isinstance(model.encoder[0][3], nn.GLU)
        self.encoder = nn.ModuleList()
        for conv, _, pointwise, _ in model.encoder:
            self.encoder.append(nn.ModuleList([
                _as_linear(conv.weight.reshape(conv.out_channels, -1), conv.bias),
                _as_linear(pointwise.weight[..., 0], pointwise.bias)]))
        self.decoder = nn.ModuleList()
        self.decoder_bias = nn.ParameterList()
        blocks = math.ceil(self.kernel_size / self.stride)
        for layer in model.decoder:
            pointwise, transposed = layer[0], layer[2]
            kernel = F.pad(transposed.weight, (0, blocks * self.stride - self.kernel_size))  # (in, out, m S)
            self.decoder.append(nn.ModuleList([
                _as_linear(pointwise.weight[..., 0], pointwise.bias),
                _as_linear(kernel.permute(2, 1, 0).reshape(-1, transposed.in_channels), None)]))
            self.decoder_bias.append(nn.Parameter(transposed.bias.detach(), requires_grad=False))
        lstm = model.lstm.lstm
        self.lstm = nn.ModuleList()
        for layer in range(lstm.num_layers):
            weights = [getattr(lstm, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            self.lstm.append(nn.ModuleList([_as_linear(weights[0], weights[2] + weights[3]),
                                            _as_linear(weights[1], None)]))
        if quantize:
            quantize_linear(self, device)
        elif packing_available(device):
            self._pack()

    def _pack(self):
        """Lay the float products out for few rows (:mod:`.packed`): same sums, faster."""
        for pair in [*self.encoder, *self.decoder]:
            pair[0], pair[1] = PackedLinear(pair[0]), PackedLinear(pair[1])
        for pair in self.lstm:  # input products over the hop's frames; recurrent ones one row at a time
            pair[0], pair[1] = PackedLinear(pair[0]), InputMajorLinear(pair[1])

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(x, dim=-1) if self.glu else F.relu(x)

    def recur(self, x: torch.Tensor, state: list | None) -> tuple[torch.Tensor, list]:
        """The LSTM over frames x (T, C) from ``state`` ([(h, c)] per layer, None at the start).

        Per layer: gates = x_t W_ih + b + h_{t-1} W_hh, split into i, f, g, o;
        c_t = sigma(f) c_{t-1} + sigma(i) tanh(g), h_t = sigma(o) tanh(c_t).
        The input products of all frames are one matrix product per layer.
        """
        if state is None:
            zero = x.new_zeros(1, x.shape[1])
            state = [(zero, zero) for _ in self.lstm]
        new_state = []
        for (project, recurrent), (h, c) in zip(self.lstm, state):
            projected, outputs = project(x), []
            for frame in range(len(x)):
                i, f, g, o = (projected[frame:frame + 1] + recurrent(h)).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                outputs.append(h)
            x = torch.cat(outputs)
            new_state.append((h, c))
        return x, new_state


class _Upsample2:
    """Streaming :func:`~.resample.upsample2`: ``y[2n] = x[n]``, ``y[2n+1] = sum_j x[n+1-Z+j] h[j]``."""

    def __init__(self, kernel: torch.Tensor):
        self.kernel = kernel
        self.inputs = kernel.new_zeros(ZEROS - 1)  # x from the next halfway sample's first tap

    def __call__(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        tail = [self.inputs.new_zeros(ZEROS)] if final else []  # the offline right zero-padding
        inputs = torch.cat([self.inputs, x, *tail])
        count = len(inputs) - (2 * ZEROS - 1)
        if count <= 0:
            self.inputs = inputs
            return x[:0]
        halfway = F.conv1d(inputs.view(1, 1, -1), self.kernel).view(-1)
        self.inputs = inputs[count:]
        return torch.stack([inputs[ZEROS - 1:ZEROS - 1 + count], halfway], -1).view(-1)


class _Downsample2:
    """Streaming :func:`~.resample.downsample2`: ``y[n] = (x[2n] + sum_j x[2(n+j-Z)+1] h[j]) / 2``."""

    def __init__(self, kernel: torch.Tensor):
        self.kernel = kernel
        self.odd = kernel.new_zeros(ZEROS)  # odd samples from the next output's first tap
        self.even = kernel.new_zeros(0)     # even samples whose output is not computed yet
        self.carry = kernel.new_zeros(0)    # an unpaired last sample

    def __call__(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        x = torch.cat([self.carry, x])
        if final and len(x) % 2:
            x = F.pad(x, (0, 1))
        pairs = len(x) // 2
        self.carry = x[2 * pairs:]
        self.even = torch.cat([self.even, x[0:2 * pairs:2]])
        odd = [self.odd, x[1:2 * pairs:2]] + ([x.new_zeros(ZEROS - 1)] if final else [])
        odd = torch.cat(odd)
        count = len(odd) - (2 * ZEROS - 1)
        if count <= 0:
            self.odd = odd
            return x[:0]
        odd_on_even = F.conv1d(odd.view(1, 1, -1), self.kernel).view(-1)
        out = (self.even[:count] + odd_on_even) * 0.5
        self.odd, self.even = odd[count:], self.even[count:]
        return out


class _Encode:
    """One encoder layer: strided convolution over the inputs no window has used yet."""

    def __init__(self, layers: StreamingDemucs, index: int, like: torch.Tensor):
        self.conv, self.pointwise = layers.encoder[index]
        self.layers = layers
        self.inputs = like.new_zeros(0, self.conv.in_features // layers.kernel_size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = self.layers.kernel_size, self.layers.stride
        inputs = torch.cat([self.inputs, x])
        count = (len(inputs) - kernel) // stride + 1 if len(inputs) >= kernel else 0
        if count == 0:
            self.inputs = inputs
            return x.new_zeros(0, self.pointwise.out_features // (2 if self.layers.glu else 1))
        frames = inputs.unfold(0, kernel, stride).reshape(count, -1)
        self.inputs = inputs[count * stride:]
        return self.layers.activation(self.pointwise(F.relu(self.conv(frames))))


class _Decode:
    """One decoder layer: skip connection, pointwise convolution, transposed convolution by overlap-add."""

    def __init__(self, layers: StreamingDemucs, index: int, last: bool, like: torch.Tensor):
        self.pointwise, self.transposed = layers.decoder[index]
        self.bias = layers.decoder_bias[index]
        self.layers, self.last = layers, last
        self.blocks = self.transposed.out_features // layers.stride // len(self.bias)
        self.pending = like.new_zeros(self.blocks - 1, layers.stride, len(self.bias))  # partial sums
        self.skips = like.new_zeros(0, self.pointwise.in_features)

    def __call__(self, x: torch.Tensor, skip: torch.Tensor, final: bool) -> torch.Tensor:
        stride, count = self.layers.stride, len(x)
        self.skips = torch.cat([self.skips, skip])
        x, self.skips = x + self.skips[:count], self.skips[count:]
        z = self.transposed(self.layers.activation(self.pointwise(x)))
        z = z.view(count, self.blocks, stride, len(self.bias))
        total = torch.cat([self.pending, self.pending.new_zeros(count, stride, len(self.bias))])
        for block in range(self.blocks):
            total[block:block + count] += z[:, block]
        done = count + (self.blocks - 1 if final else 0)
        out, self.pending = total[:done].reshape(-1, len(self.bias)), total[done:]
        if final:
            out = out[:count * stride + self.layers.kernel_size - stride]
        out = out + self.bias
        return out if self.last else F.relu(out)


def _power_of_two_groups(hops: int) -> list[int]:
    """``hops`` as a sum of distinct powers of two, largest first (13 -> [8, 4, 1]).

    The CPU backend keeps memory for every input shape it has seen (400 random chunk lengths took
    a stream from 359 to 753 MB RSS); run in such groups, a stream shows it at most
    ``log2(hops) + 1`` shapes per call and few in all, and RSS stayed at 460 MB."""
    return [1 << bit for bit in reversed(range(hops.bit_length())) if hops >> bit & 1]


class DemucsStream:
    """Feed chunks of any length; get back the enhanced signal, at most ``latency`` samples late.

    ``scale`` fixes the normaliser (use the signal's std to match offline
    output exactly); without it a running RMS of the input so far is used.
    ``layers`` is a prepared (maybe quantized) :class:`StreamingDemucs` of ``model``.
    """

    def __init__(self, model: Demucs, dry: float, hop: int, scale: float | None = None,
                 device: str = "cpu", layers: StreamingDemucs | None = None):
        self.model, self.device, self.dry = model, device, dry
        self.layers = layers if layers is not None else StreamingDemucs(model)
        self.geometry = DemucsGeometry(model)
        self.hop = max(1, math.ceil(hop / self.geometry.frame_hop)) * self.geometry.frame_hop
        self.latency = self.geometry.lookahead + self.hop
        self.fixed_scale = scale
        self._raw = np.zeros(0, np.float32)      # input not yet answered
        self._pending = np.zeros(0, np.float32)  # normalised input not yet run
        self._received = self._emitted = 0
        self._sum_squares = 0.0
        self._flushed = False
        kernel = half_sample_kernel().to(device)
        stages = int(math.log2(model.resample))
        self._up = [_Upsample2(kernel) for _ in range(stages)]
        self._down = [_Downsample2(kernel) for _ in range(stages)]
        self._encode = [_Encode(self.layers, i, kernel) for i in range(model.depth)]
        self._decode = [_Decode(self.layers, i, i == model.depth - 1, kernel) for i in range(model.depth)]
        self._lstm_state = None

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
        chunk = check_chunk(chunk)
        self._sum_squares += float(np.square(chunk, dtype=np.float64).sum())
        self._received += len(chunk)
        scale = self._scale()
        divisor = self.model.floor + scale if self.model.normalize else 1.0
        self._raw = np.concatenate([self._raw, chunk])
        self._pending = np.concatenate([self._pending, chunk / np.float32(divisor)])
        hops = len(self._pending) // self.hop
        if not hops:
            return np.zeros(0, np.float32)
        outputs, start = [], 0
        for group in _power_of_two_groups(hops):
            outputs.append(self._run(self._pending[start:start + group * self.hop], final=False))
            start += group * self.hop
        self._pending = self._pending[start:]
        return self._answer(np.concatenate(outputs), scale)

    def flush(self) -> np.ndarray:
        """End of input: return everything not yet emitted (input then counts as zero-padded)."""
        if self._flushed or self._received == 0:
            self._flushed = True
            return np.zeros(0, np.float32)
        self._flushed = True
        padding = self.model.valid_length(self._received) - self._received
        run = np.concatenate([self._pending, np.zeros(padding, np.float32)])
        return self._answer(self._run(run, final=True), self._scale())

    @torch.inference_mode()
    def _run(self, signal: np.ndarray, final: bool) -> np.ndarray:
        """Push normalised input through every stage; return the newly final denoised samples."""
        x = torch.from_numpy(signal).to(self.device)
        for upsample in self._up:
            x = upsample(x, final)
        x, skips = x.view(-1, 1), []
        for encode in self._encode:
            x = encode(x)
            skips.append(x)
        if len(x):
            x, self._lstm_state = self.layers.recur(x, self._lstm_state)
        for decode in self._decode:
            x = decode(x, skips.pop(), final)
        x = x.view(-1)
        for downsample in self._down:
            x = downsample(x, final)
        return x.cpu().numpy()

    def _answer(self, denoised: np.ndarray, scale: float) -> np.ndarray:
        count = min(len(denoised), self._received - self._emitted)
        raw, self._raw = self._raw[:count], self._raw[count:]
        self._emitted += count
        return (self.dry * raw + (1 - self.dry) * denoised[:count] * scale).astype(np.float32)
