"""Speech enhancement: a causal Demucs, its checkpoints, streaming and the dry mix."""
from .checkpoint import load_demucs, save_package
from .demucs import Demucs
from .denoiser import DEFAULT_DRY, Denoiser, check_dry, load_denoiser, mix
from .stream import DemucsStream

__all__ = ["DEFAULT_DRY", "Demucs", "DemucsStream", "Denoiser", "check_dry", "load_demucs", "load_denoiser", "mix",
           "save_package"]
