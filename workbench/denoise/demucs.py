"""Demucs waveform denoiser (Défossez et al., 2020), causal variant.

Parameter names and constructor arguments match facebook's ``denoiser``
package, so its ``dns48``/``dns64``/``master64`` weights load unchanged.

The signal is normalised by its standard deviation, upsampled ``resample``
times, passed through a U-Net of strided convolutions around an LSTM, then
downsampled and scaled back:

    y = s * D(E(up(x / (floor + s))))    with s = std(x)
"""
import functools
import inspect
import math

from torch import nn

from ..resample import downsample2, upsample2

# Named settings (the rest are the defaults: causal, resample 4, 16 kHz). facebook's released
# weights (its ``pretrained.py``) and the model the workbench trains and bundles.
PRESETS = {
    "dns48": {"hidden": 48},
    "dns64": {"hidden": 64},
    "master64": {"hidden": 64},
    "bundled": {"hidden": 16},
}


def records_arguments(init):
    """Decorate ``__init__`` so that ``self.init_kwargs`` holds every argument, by name, defaults filled in.

    facebook's ``capture_init`` idea: a checkpoint that stores ``init_kwargs`` rebuilds the same
    model, and an argument added to ``__init__`` is stored without being listed anywhere.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recorded(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        self.init_kwargs = dict(list(bound.arguments.items())[1:])  # all but self

    return recorded


class BLSTM(nn.Module):
    """Two-layer LSTM over time; bidirectional (plus a projection) when not causal."""

    def __init__(self, dim: int, bi: bool = True):
        super().__init__()
        self.lstm = nn.LSTM(bidirectional=bi, num_layers=2, hidden_size=dim, input_size=dim)
        self.linear = nn.Linear(2 * dim, dim) if bi else None

    def forward(self, x, hidden=None):
        x, hidden = self.lstm(x, hidden)
        if self.linear is not None:
            x = self.linear(x)
        return x, hidden


class Demucs(nn.Module):
    """Demucs U-Net; see facebook's ``denoiser.demucs.Demucs`` for the argument meanings.

    ``init_kwargs`` holds every constructor argument (what checkpoints store).
    """

    @records_arguments
    def __init__(self, chin=1, chout=1, hidden=48, depth=5, kernel_size=8, stride=4,
                 causal=True, resample=4, growth=2, max_hidden=10_000, normalize=True,
                 glu=True, rescale=0.1, floor=1e-3, sample_rate=16_000):
        super().__init__()
        if resample not in (1, 2, 4):
            raise ValueError("resample must be 1, 2 or 4")
        self.chin, self.chout, self.hidden = chin, chout, hidden
        self.depth, self.kernel_size, self.stride = depth, kernel_size, stride
        self.causal, self.resample, self.normalize = causal, resample, normalize
        self.floor, self.sample_rate = floor, sample_rate

        activation = nn.GLU(1) if glu else nn.ReLU()
        ch_scale = 2 if glu else 1
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for index in range(depth):
            self.encoder.append(nn.Sequential(
                nn.Conv1d(chin, hidden, kernel_size, stride), nn.ReLU(),
                nn.Conv1d(hidden, hidden * ch_scale, 1), activation))
            decode = [nn.Conv1d(hidden, ch_scale * hidden, 1), activation,
                      nn.ConvTranspose1d(hidden, chout, kernel_size, stride)]
            if index > 0:
                decode.append(nn.ReLU())
            self.decoder.insert(0, nn.Sequential(*decode))
            chout, chin = hidden, hidden
            hidden = min(int(growth * hidden), max_hidden)
        self.lstm = BLSTM(chin, bi=not causal)
        if rescale:
            self._rescale(rescale)

    @classmethod
    def preset(cls, name: str, **overrides) -> "Demucs":
        """A freshly initialised Demucs with the settings ``PRESETS[name]``, then ``overrides``."""
        if name not in PRESETS:
            raise ValueError(f"unknown Demucs preset {name!r} (known: {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})

    def _rescale(self, reference):
        """Scale initial conv weights so their std is sqrt(std/reference) (facebook's init)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                std = module.weight.std().detach()
                scale = (std / reference) ** 0.5
                module.weight.data /= scale
                if module.bias is not None:
                    module.bias.data /= scale

    @property
    def total_stride(self) -> int:
        """Hop, in input samples, between two LSTM time steps."""
        return self.stride ** self.depth // self.resample

    def valid_length(self, length: int) -> int:
        """Smallest length >= ``length`` that the strided convolutions cover exactly."""
        length = math.ceil(length * self.resample)
        for _ in range(self.depth):
            length = max(math.ceil((length - self.kernel_size) / self.stride) + 1, 1)
        for _ in range(self.depth):
            length = (length - 1) * self.stride + self.kernel_size
        return math.ceil(length / self.resample)

    def upsample(self, x):
        for _ in range(self.resample // 2):
            x = upsample2(x)
        return x

    def downsample(self, x):
        for _ in range(self.resample // 2):
            x = downsample2(x)
        return x

    def encode(self, x):
        """Upsampled input (B, C, T) -> (latent (T', B, C), skips)."""
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        return x.permute(2, 0, 1), skips

    def decode(self, latent, skips):
        """LSTM output (T', B, C) and encoder skips -> upsampled output (B, C, T)."""
        x = latent.permute(1, 2, 0)
        skips = list(skips)
        for layer in self.decoder:
            skip = skips.pop(-1)
            x = layer(x + skip[..., :x.shape[-1]])
        return x

    def forward(self, mix, scale=None):
        """Denoise ``mix`` (B, C, T) or (B, T); ``scale`` overrides the std normaliser."""
        if mix.dim() == 2:
            mix = mix.unsqueeze(1)
        if scale is None:
            scale = mix.mean(dim=1, keepdim=True).std(dim=-1, keepdim=True) if self.normalize else 1
        mix = mix / (self.floor + scale) if self.normalize else mix
        length = mix.shape[-1]
        x = nn.functional.pad(mix, (0, self.valid_length(length) - length))
        latent, skips = self.encode(self.upsample(x))
        latent, _ = self.lstm(latent)
        x = self.downsample(self.decode(latent, skips))
        return x[..., :length] * scale
