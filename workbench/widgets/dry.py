"""Dry mix panel: how much of the raw signal is mixed back into the denoised one."""
import ipywidgets as widgets

from .panel import Panel, css


class DryPanel(Panel):
    """A ``dry`` slider in [0, 1]: output = dry * raw + (1 - dry) * denoised."""

    def __init__(self, dry: float):
        self.slider = css(widgets.FloatSlider(value=dry, min=0.0, max=1.0, step=0.01, description="dry",
                                              readout_format=".2f", continuous_update=True,
                                              layout=widgets.Layout(width="60%")), "wb-dry")
        hint = widgets.HTML("<small>0 = fully denoised, 1 = raw. Re-mixes the cached denoised signal; "
                            "the transcript follows shortly after.</small>")
        super().__init__("dry-mix", "Dry mix", [self.slider, hint])
