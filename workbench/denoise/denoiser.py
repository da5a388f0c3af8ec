"""The denoiser as the workbench uses it: numpy in, numpy out, with a dry mix."""
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from ..audio import SAMPLE_RATE, check_audio, chunks
from ..devices import resolve_device
from ..errors import CheckpointError
from .checkpoint import load_demucs
from .demucs import Demucs
from .stream import DemucsStream, StreamingDemucs

DEFAULT_DRY = 0.05
HOP_MS = 64.0  # the streaming hop for live audio: dns48 streams in real time on 2 CPU cores at it, not at 16 ms
FILE_BLOCK_S = 2.0  # whole signals go through the exact streamer in blocks this long: memory stays flat


def check_dry(dry: float) -> float:
    """``dry`` as a float if 0 <= dry <= 1; ValueError otherwise (NaN included)."""
    if not 0.0 <= dry <= 1.0:
        raise ValueError(f"dry must be in [0, 1], got {dry}")
    return float(dry)


def mix(dry_signal: np.ndarray, denoised: np.ndarray, dry: float) -> np.ndarray:
    """``dry * x + (1 - dry) * y``; ``dry = 1`` returns ``x`` unchanged, ``dry = 0`` returns ``y``."""
    check_dry(dry)
    if dry == 1.0:
        return np.array(dry_signal, np.float32, copy=True)
    return (dry * dry_signal + (1.0 - dry) * denoised).astype(np.float32)


class Denoiser:
    """A loaded Demucs on a device; knows nothing of widgets.

    ``quantize``: run it with int8 weights (CPU only, see :class:`StreamingDemucs`).
    """

    def __init__(self, model: Demucs, device: str = "cpu", name: str = "demucs", quantize: bool = False):
        if model.sample_rate != SAMPLE_RATE or model.chin != 1:
            raise CheckpointError(f"{name}: the workbench needs a mono {SAMPLE_RATE} Hz Demucs, "
                                  f"this one is {model.chin}-channel at {model.sample_rate} Hz")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.name = name
        if quantize and not model.causal:
            raise CheckpointError(f"{name}: int8 quantization needs a causal Demucs, this one is bidirectional")
        self.quantize = quantize
        self.layers = StreamingDemucs(self.model, quantize, self.device) if model.causal else None

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @torch.no_grad()
    def denoise(self, audio: np.ndarray) -> np.ndarray:
        """Fully denoised signal (``dry = 0``), same length as ``audio``.

        A causal model runs its streaming layers over the signal in ``FILE_BLOCK_S`` blocks
        (equal to ``Demucs.forward`` up to float rounding, faster, and flat in memory; see
        :meth:`enhance_blocks`); a bidirectional one needs the whole signal at once.
        """
        audio = check_audio(audio)
        if self.layers is not None:
            return np.concatenate(list(self.enhance_blocks(chunks(audio, FILE_BLOCK_S), 0.0,
                                                           self.offline_scale(audio))))
        x = torch.from_numpy(audio).to(self.device).view(1, 1, -1)
        return self._checked(self.model(x, self.offline_scale(audio))[0, 0].cpu().numpy().astype(np.float32))

    def enhance_blocks(self, blocks: Iterable[np.ndarray], dry: float, scale: float) -> Iterator[np.ndarray]:
        """``dry * x + (1 - dry) * denoise(x)`` of a signal given as blocks, yielded as it becomes final.

        The exact streamer with a ``FILE_BLOCK_S`` hop; ``scale`` is the whole signal's std
        (:func:`signal_std` of the same blocks). Causal models only. Raises if the output is not finite.
        """
        stream = self.stream(dry, hop_ms=1000 * FILE_BLOCK_S, scale=scale)
        for block in blocks:
            for piece in chunks(block, FILE_BLOCK_S):  # a decoder's block can be a minute long
                out = stream.feed(piece)
                if len(out):
                    yield self._checked(out)
        out = stream.flush()
        if len(out):
            yield self._checked(out)

    def _checked(self, out: np.ndarray) -> np.ndarray:
        if not np.isfinite(out).all():
            raise CheckpointError(f"{self.name} produced NaN or infinite samples: its weights are unusable")
        return out

    def enhance(self, audio: np.ndarray, dry: float = DEFAULT_DRY) -> np.ndarray:
        """``dry * audio + (1 - dry) * denoise(audio)``."""
        audio = check_audio(audio)
        if dry == 1.0:
            return mix(audio, audio, dry)
        return mix(audio, self.denoise(audio), dry)

    def stream(self, dry: float = DEFAULT_DRY, hop_ms: float = HOP_MS,
               scale: float | None = None) -> DemucsStream:
        """A streamer; pass ``scale=offline_scale(audio)`` to reproduce :meth:`enhance` exactly."""
        check_dry(dry)
        hop = round(hop_ms * SAMPLE_RATE / 1000)
        return DemucsStream(self.model, dry, hop, scale, self.device, self.layers)

    def stream_latency_s(self, hop_ms: float = HOP_MS) -> float:
        """Algorithmic latency of :meth:`stream` at ``hop_ms``, in seconds: lookahead + one hop."""
        return self.stream(hop_ms=hop_ms).latency / SAMPLE_RATE

    @staticmethod
    def offline_scale(audio: np.ndarray) -> float:
        """The normaliser offline :meth:`enhance` uses: the signal's (unbiased) std, 0 for one sample."""
        return signal_std([check_audio(audio)])


def signal_std(blocks: Iterable[np.ndarray]) -> float:
    """Unbiased std of a signal given as blocks, sqrt((sum x^2 - (sum x)^2 / n) / (n - 1)) in float64;
    0 for a single sample (where the unbiased std is undefined)."""
    count, total, squares = 0, 0.0, 0.0
    for block in blocks:
        block = np.asarray(block, np.float64)
        count, total, squares = count + len(block), total + block.sum(), squares + np.square(block).sum()
    if count < 2:
        return 0.0
    return float(np.sqrt(max(0.0, squares - total * total / count) / (count - 1)))


def load_denoiser(path, device: str = "cpu", quantize: bool = False) -> Denoiser:
    """Load a facebook-layout Demucs checkpoint (``.th``) onto ``device`` (int8 weights if ``quantize``)."""
    model = load_demucs(path)
    return Denoiser(model, device, name=str(path), quantize=quantize)
