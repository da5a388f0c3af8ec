"""Models panel: denoiser and ASR checkpoint paths, device, int8 switch, load button."""
import ipywidgets as widgets

from ..devices import available_devices
from ..paths import display_path
from ..quantize import is_quantized
from .panel import Panel, css


def describe_model(kind: str, model) -> str:
    """'denoiser: denoiser.th (2.1 M parameters, cpu)', 'ASR: asr.nemo (4.5 M parameters, cpu int8,
    6-gram LM)', or 'denoiser: none loaded'."""
    if model is None:
        return f"{kind}: none loaded"
    name = str(model.name).rsplit("/", 1)[-1]
    count = model.parameters
    size = f"{count / 1e6:.1f} M" if count >= 100_000 else f"{count / 1e3:.1f} k"
    lm = getattr(model, "lm", None)
    runs = [module for module in (getattr(model, "layers", None), getattr(model, "model", None)) if module is not None]
    device = f"{model.device} int8" if any(map(is_quantized, runs)) else model.device
    return f"{kind}: {name} ({size} parameters, {device}{f', {lm.order}-gram LM' if lm else ''})"


class ModelsPanel(Panel):
    """Paths of the ``.th`` denoiser and the ``.nemo`` recogniser, and the device to run them on."""

    def __init__(self, denoiser_path: str, asr_path: str, device: str = "cpu"):
        wide = widgets.Layout(width="95%")
        self.denoiser = css(widgets.Text(display_path(denoiser_path), description="denoiser .th", layout=wide),
                            "wb-denoiser-path")
        self.asr = css(widgets.Text(display_path(asr_path), description="ASR .nemo", layout=wide), "wb-asr-path")
        devices = available_devices()
        self.device = css(widgets.Dropdown(options=devices, value=device if device in devices else "cpu",
                                           description="device"), "wb-device")
        self.quantize = css(widgets.Checkbox(False, description="int8 weights (faster, CPU only)", indent=False,
                                             layout=widgets.Layout(width="auto")), "wb-quantize")
        self.load = css(widgets.Button(description="Load models", icon="upload"), "wb-load-models")
        super().__init__("models", "Models", [self.denoiser, self.asr,
                                              widgets.HBox([self.device, self.quantize, self.load])])

    def show_loaded(self, denoiser, transcriber) -> None:
        self.say(f"{describe_model('denoiser', denoiser)} · {describe_model('ASR', transcriber)}")

    def chosen(self) -> dict:
        """The paths and device typed in the panel and the int8 switch: ``{denoiser, asr, device, quantize}``."""
        return {"denoiser": self.denoiser.value.strip(), "asr": self.asr.value.strip(), "device": self.device.value,
                    "quantize": self.quantize.value}
