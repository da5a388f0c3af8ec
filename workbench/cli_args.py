"""Options and value checks shared by the command lines (``python -m workbench``, its ``serve``, and
``python -m workbench.train``): declared once here, so every command names and checks them alike.

The checks are argparse ``type=`` functions: each turns the text into a value or raises
:class:`argparse.ArgumentTypeError` with a one-line reason.
"""
import argparse
import math

from .asr.stream import check_seconds
from .paths import DEFAULT_ASR, DEFAULT_DENOISER
from .resample import MAX_RATE, MIN_RATE

QUANTIZE_HELP = "int8 weights (CPU only): faster, not exact"
LM_HELP = "label LM: auto (NAME.lm.npz beside NAME.nemo, if there), none (greedy decoding), or a .lm.npz file"
LIVE_HELP = ("live mode's low-latency companion: auto (NAME_streaming.nemo beside NAME.nemo, if there), "
             "none (stream as the model alone does), or a cache-aware .nemo file")


def lm_choice(value: str):
    """Command-line ``--lm``: ``auto`` -> True (the LM beside the model, if any), ``none`` -> False, else a path."""
    return {"auto": True, "none": False}.get(value, value)


def live_choice(value: str):
    """Command-line ``--live``: ``auto`` -> True (the companion beside the model, if any), ``none`` -> False, else a path."""
    return {"auto": True, "none": False}.get(value, value)


MODEL_OPTIONS = {
    "denoiser": {"default": str(DEFAULT_DENOISER), "help": "Demucs .th checkpoint"},
    "asr": {"default": str(DEFAULT_ASR), "help": "NeMo CTC .nemo file"},
    "lm": {"type": lm_choice, "default": True, "help": LM_HELP},
    "live": {"type": live_choice, "default": True, "help": LIVE_HELP},
    "device": {"default": "cpu", "help": "cpu or cuda"},
    "quantize": {"action": "store_true", "help": QUANTIZE_HELP},
}


def add_model_options(parser: argparse.ArgumentParser, *names: str, **changes: dict) -> None:
    """Add ``--NAME`` for each of ``names`` (default: all of :data:`MODEL_OPTIONS`, in that order);
    ``changes`` maps a name to the argparse settings that differ there, e.g. ``asr={"default": None}``."""
    for name in names or MODEL_OPTIONS:
        parser.add_argument(f"--{name}", **{**MODEL_OPTIONS[name], **changes.get(name, {})})


def _number(kind, value: str):
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                         f"got {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value!r}")
    return number


def dry(value: str) -> float:
    """A dry share: a number from 0 (all denoised) to 1 (all raw)."""
    share = _number(float, value)
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError("dry must be between 0 and 1")
    return share


def seconds(value: str) -> float:
    """A finite number of seconds >= 0 (nan, inf and negatives are refused, by the check :class:`StreamConfig` makes)."""
    try:
        return check_seconds(float(value))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_seconds(value: str) -> float:
    """A finite number of seconds > 0."""
    try:
        return check_seconds(float(value), positive=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(kind):
    """The check for a finite ``kind`` (``int`` or ``float``) > 0."""
    def parse(value: str):
        number = _number(kind, value)
        if not number > 0:
            raise argparse.ArgumentTypeError("must be positive")
        return number
    return parse


def sample_rate(low: int = MIN_RATE, high: int = MAX_RATE):
    """The check for a sample rate in Hz: a whole number in ``low .. high`` (default: what the workbench reads)."""
    def parse(value: str) -> int:
        rate = _number(int, value)
        if not low <= rate <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return rate
    return parse


def at_least_zero(value: str) -> int:
    """A whole number >= 0."""
    number = _number(int, value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def listed(check):
    """The check for comma-separated values, each passing ``check`` (e.g. ``listed(dry)`` for ``0,0.5,1``)."""
    def parse(text: str) -> list:
        return [check(value.strip()) for value in text.split(",") if value.strip()]
    return parse
