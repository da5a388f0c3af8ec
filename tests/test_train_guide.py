"""The ASR-guided denoiser loss: zero when the recogniser hears clean speech, gradients reach
the denoised audio only."""
import torch
from models import speechlike


def test_guide_loss_and_gradients(char_nemo):
    from workbench.train.asr_guide import ASRGuide

    guide = ASRGuide(char_nemo)
    clean = torch.from_numpy(speechlike(1.0, seed=1)).unsqueeze(0).repeat(2, 1)
    noise = 0.3 * torch.randn_like(clean)
    assert guide.loss(clean, clean.clone(), clean).item() < 1e-6
    denoised = (clean + noise).requires_grad_(True)
    loss = guide.loss(clean + noise, denoised, clean)
    assert loss.item() > 1e-3
    loss.backward()
    assert denoised.grad.abs().sum() > 0
    assert all(p.grad is None for p in guide.model.parameters())
