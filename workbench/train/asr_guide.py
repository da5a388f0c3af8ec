"""ASR-guided denoiser loss: the frozen recogniser should hear in the denoised
mix what it hears in the clean speech.

    loss = mean over frames t of KL( p(. | clean)_t || p(. | dry*noisy + (1-dry)*denoised)_t )

with ``p`` the recogniser's per-frame label posteriors and ``dry`` the
workbench's default dry mix (:data:`workbench.denoise.DEFAULT_DRY`; the formula
of :func:`workbench.denoise.mix`, written on tensors so that gradients pass).
The recogniser's weights stay fixed, only the denoiser learns. NeMo builds
its log-mel featurizer without gradients unless asked (``use_grads``:
``forward`` wrapped in ``no_grad``, and no guard under the magnitude's square
root); the guide calls the unwrapped ``forward`` with the guard on, for clean
and mix alike.
"""
import torch
import torch.nn.functional as F

from ..audio import SAMPLE_RATE
from ..denoise import DEFAULT_DRY


class ASRGuide:
    def __init__(self, asr_path, dry: float = DEFAULT_DRY):
        from ..asr import load_transcriber
        transcriber = load_transcriber(asr_path, lm=False)
        if transcriber.model_rate != SAMPLE_RATE:
            raise ValueError(f"{asr_path} expects {transcriber.model_rate} Hz audio; "
                             f"the guide needs a {SAMPLE_RATE} Hz model")
        self.model = transcriber.model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        featurizer = self.model.preprocessor.featurizer
        featurizer.use_grads = True
        self.features = type(featurizer).forward.__get__(featurizer)
        self.dry = dry

    def log_probs(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, T) audio -> (B, frames, labels + blank) log-posteriors, differentiable in ``audio``."""
        length = torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long, device=audio.device)
        features, feature_length = self.features(audio, length)
        encoded, _ = self.model.encoder(audio_signal=features, length=feature_length)
        return self.model.decoder(encoder_output=encoded)

    def loss(self, noisy: torch.Tensor, denoised: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.log_probs(clean)
        heard = self.log_probs(self.dry * noisy + (1 - self.dry) * denoised)
        return F.kl_div(heard, target, reduction="none", log_target=True).sum(-1).mean()
