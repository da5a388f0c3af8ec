"""Both models at once: the denoiser (or none) and the transcriber, loaded once per process."""
from functools import lru_cache


@lru_cache(maxsize=2)
def load_models(denoiser: str | None, asr: str, device: str = "cpu", lm=True, quantize: bool = False, live=True):
    """(denoiser or None, transcriber), loaded once per process and kept (one copy per worker
    process); ``lm`` and ``live`` as in :func:`~workbench.asr.load_transcriber`, ``quantize``: int8 weights
    (see :mod:`workbench.quantize`)."""
    from .asr import load_transcriber
    from .denoise import load_denoiser

    return ((load_denoiser(denoiser, device, quantize) if denoiser else None),
            load_transcriber(asr, device, lm, quantize, live))
