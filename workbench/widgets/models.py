"""Models panel: denoiser and ASR chosen by name, device, int8 switch, load button."""
from pathlib import Path

import ipywidgets as widgets

from ..devices import available_devices
from ..paths import CHECKPOINT_DIR, ROOT, display_path
from ..quantize import is_quantized
from .panel import Panel, css
from .trust import restricted

MODEL_FOLDERS = (CHECKPOINT_DIR, ROOT / "results")
DENOISER_TIP = ("Speech enhancement: a causal Demucs network that removes noise (.th: a PyTorch checkpoint, "
                "loaded without running code from it)")
ASR_TIP = ("Speech recognition: a NeMo Conformer-CTC model that writes Korean text (.nemo: NeMo's model archive); "
           "a language model saved beside it (.lm.npz) is used too")
GLOSSARY = ("<small><b>.th</b>: a PyTorch denoiser checkpoint (Demucs) · <b>.nemo</b>: a NeMo speech-recognition "
            "model (Conformer-CTC) · <b>6-gram LM</b>: a language model that scores each letter (jamo) from the 5 "
            "before it, so beam search prefers likely spellings · <b>int8</b>: weights stored in 8 bits, faster on "
            "CPU and slightly less exact.</small>")


def model_files(suffix: str) -> dict[str, Path]:
    """The project's models ending in ``suffix`` by name: ``asr.nemo`` for ``checkpoint/asr.nemo``,
    ``results/x.nemo`` for a model trained into ``results/``."""
    found = {}
    for folder in MODEL_FOLDERS:
        for path in sorted(folder.glob(f"*{suffix}")):
            found[path.name if folder == CHECKPOINT_DIR else f"{folder.name}/{path.name}"] = path
    return found


class ModelChoice:
    """A model field that shows project models by name and, in JupyterLab, also takes any path."""

    def __init__(self, kind: str, suffix: str, path, tip: str):
        self.files = model_files(suffix)
        names = {path.resolve(): name for name, path in self.files.items()}
        self.field = widgets.Combobox(value=names.get(Path(path).resolve(), display_path(path)),
                                      options=list(self.files), ensure_option=restricted(), description=kind,
                                      placeholder=f"a {suffix} model's name" + ("" if restricted() else " or path"),
                                      tooltip=tip, layout=widgets.Layout(width="95%"))

    def path(self) -> str:
        """The file the field names: a listed model's path, else the text as typed."""
        value = self.field.value.strip()
        return str(self.files[value]) if value in self.files else value


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
    """The ``.th`` denoiser and the ``.nemo`` recogniser, by name, and the device to run them on."""

    def __init__(self, denoiser_path: str, asr_path: str, device: str = "cpu"):
        self._denoiser = ModelChoice("denoiser", ".th", denoiser_path, DENOISER_TIP)
        self._asr = ModelChoice("ASR", ".nemo", asr_path, ASR_TIP)
        self.denoiser = css(self._denoiser.field, "wb-denoiser-path")
        self.asr = css(self._asr.field, "wb-asr-path")
        devices = available_devices()
        self.device = css(widgets.Dropdown(options=devices, value=device if device in devices else "cpu",
                                           description="device",  # no choice to offer on a CPU-only machine
                                           layout=widgets.Layout(display="none" if len(devices) == 1 else "")),
                          "wb-device")
        self.quantize = css(widgets.Checkbox(False, description="int8 weights (faster, CPU only)", indent=False,
                                             tooltip="Store the weights in 8 bits: faster on a CPU, slightly less "
                                                     "exact", layout=widgets.Layout(width="auto")), "wb-quantize")
        self.load = css(widgets.Button(description="Load models", icon="upload"), "wb-load-models")
        super().__init__("models", "Models", [self.denoiser, self.asr,
                                              widgets.HBox([self.device, self.quantize, self.load]),
                                              css(widgets.HTML(GLOSSARY), "wb-glossary")])

    def show_loaded(self, denoiser, transcriber) -> None:
        self.say(f"{describe_model('denoiser', denoiser)} · {describe_model('ASR', transcriber)}")

    def chosen(self) -> dict:
        """The model files, the device and the int8 switch: ``{denoiser, asr, device, quantize}``."""
        return {"denoiser": self._denoiser.path(), "asr": self._asr.path(), "device": self.device.value,
                "quantize": self.quantize.value}
