"""Widening a trained Demucs keeps what it computes and lets every new weight learn."""
import pytest
import torch

from workbench.denoise.demucs import Demucs
from workbench.train.widen import widen


@pytest.mark.parametrize("glu", [True, False])
def test_widened_model_computes_the_same(glu):
    torch.manual_seed(0)
    small = Demucs(hidden=4, depth=3, glu=glu).eval()
    with torch.no_grad():
        for p in small.parameters():     # trained-looking weights, not the initialisation's
            p.add_(0.05 * torch.randn_like(p))
    wide = widen(small, 6).eval()
    assert wide.hidden == 6 and wide.lstm.lstm.hidden_size == 24
    x = torch.randn(2, 1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), small(x), rtol=0, atol=1e-6)


def test_new_channels_learn_and_reach_the_output():
    torch.manual_seed(0)
    wide = widen(Demucs(hidden=4, depth=3), 6)
    wide(torch.randn(2, 1, 8000)).pow(2).mean().backward()
    # the trained channels' weights from the new channels start at zero, with a gradient
    conv = wide.encoder[1][0]
    assert conv.weight[:8, 4:].abs().max() == 0 and conv.weight.grad[:8, 4:].abs().max() > 0
    last = wide.decoder[-1][2]      # ConvTranspose1d, weight (in, out, k)
    assert last.weight[4:].abs().max() == 0 and last.weight.grad[4:].abs().max() > 0
    lstm = wide.lstm.lstm.weight_hh_l0
    assert lstm[:16, 16:].abs().max() == 0 and lstm.grad[:16, 16:].abs().max() > 0   # 16 of 24 units trained


def test_widening_to_fewer_channels_is_refused():
    with pytest.raises(ValueError, match="cannot widen"):
        widen(Demucs(hidden=6, depth=2), 4)
    with pytest.raises(ValueError, match="causal"):
        widen(Demucs(hidden=4, depth=2, causal=False), 6)
