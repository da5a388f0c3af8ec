"""Choosing where models run."""
import torch

from .errors import DeviceError


def resolve_device(device: str) -> str:
    """Validate ``device`` ('cpu', 'cuda' or 'cuda:N') and return it as torch spells it."""
    name = str(device).strip().lower()
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{device}' asked for, but CUDA is not available here; use cpu")
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise DeviceError(f"device '{device}' does not exist ({torch.cuda.device_count()} GPUs)")
        return name
    raise DeviceError(f"unknown device '{device}': use cpu or cuda")


def available_devices() -> list[str]:
    """Devices the user can choose on this machine."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
