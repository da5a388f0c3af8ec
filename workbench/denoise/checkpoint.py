"""Read and write Demucs checkpoints in facebook's layouts, without running pickled code.

facebook's denoiser writes three layouts:

* a bare ``state_dict`` (the released ``dns48``/``dns64``/``master64``);
* a serialized model ``{'class', 'args', 'kwargs', 'state'}``;
* a training checkpoint ``{'model': <serialized>, 'best_state': ..., 'args': <config>, ...}``.

The last two pickle references to classes (``denoiser.demucs.Demucs``, the
training config's ``omegaconf`` classes). They are read with torch's
weights-only unpickler; every class name it refuses is bound to an inert
placeholder that only records what the pickle gave it, so nothing from the
file is imported or executed. The model is then rebuilt from this project's
own :class:`Demucs`, but only after its settings are checked against bounds
and the tensor shapes they imply (computed on torch's ``meta`` device, which
allocates nothing) match the stored tensors exactly: a file can never make the
loader build more than it stores.
"""
import inspect
import math
import re
import sys
import types
from pathlib import Path

import torch

from ..errors import CheckpointError
from .demucs import Demucs

FACEBOOK_CLASS = "denoiser.demucs.Demucs"
_REFUSED_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")
_BLOCKED_GLOBAL = re.compile(r"GLOBAL (\S+) whose module \S+ is blocked")
_MAX_PLACEHOLDERS = 200
DEMUCS_PARAMETERS = list(inspect.signature(Demucs).parameters)
# Bounds on the settings a file may give (facebook's largest release, master64, is well inside).
INT_BOUNDS = {"chin": (1, 8), "chout": (1, 8), "hidden": (1, 4096), "depth": (1, 10), "kernel_size": (1, 64),
                  "stride": (1, 16), "resample": (1, 4), "max_hidden": (1, 16_384), "sample_rate": (1_000, 384_000)}
FLOAT_BOUNDS = {"growth": (0.5, 16.0), "floor": (1e-12, 1.0)}
FLAGS = ("causal", "normalize", "glu")


class PickledReference:
    """Stands in for a class named in a pickle; records, never runs, what it receives."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state, self.items = args, kwargs, None, {}

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.items[len(self.items)] = value

    def extend(self, values):
        for value in values:
            self.append(value)


def _placeholder(qualified_name: str) -> type:
    module, _, name = qualified_name.rpartition(".")
    return type(name, (PickledReference,), {"__module__": module, "__qualname__": name})


def _safe_load(path: Path):
    """``torch.load`` with ``weights_only=True``, binding refused globals to placeholders."""
    try:  # zip checkpoints list their globals up front; legacy ones reveal them one by one
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - reported to the user as one message
        names = []
    placeholders = [(_placeholder(name), name) for name in names]
    for _ in range(_MAX_PLACEHOLDERS):
        try:
            with torch.serialization.safe_globals(placeholders):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - torch raises several types for corrupt files
            blocked = _BLOCKED_GLOBAL.search(str(error))
            if blocked is not None:
                raise CheckpointError(f"denoiser checkpoint {path} refused as unsafe: its pickle calls "
                                      f"{blocked.group(1)}") from None
            refused = _REFUSED_GLOBAL.search(str(error))
            if refused is None or any(name == refused.group(1) for _, name in placeholders):
                raise CheckpointError(
                    f"cannot read denoiser checkpoint {path}: the file is truncated, "
                    f"corrupt or not a torch checkpoint ({type(error).__name__})") from None
            name = refused.group(1)
            placeholders.append((_placeholder(name), name))
    raise CheckpointError(f"cannot read denoiser checkpoint {path}: too many unknown classes")


def _infer_kwargs(state: dict) -> dict:
    """Recover Demucs hyper-parameters from the tensor shapes of a bare state_dict."""
    depth = 0
    while f"encoder.{depth}.0.weight" in state:
        depth += 1
    hiddens = [state[f"encoder.{i}.0.weight"].shape[0] for i in range(depth)]
    first = state["encoder.0.0.weight"]
    kwargs = {
        "chin": first.shape[1], "hidden": hiddens[0], "depth": depth, "kernel_size": first.shape[2],
        "chout": state[f"decoder.{depth - 1}.2.weight"].shape[1],
        "glu": state["encoder.0.2.weight"].shape[0] == 2 * hiddens[0],
        "causal": "lstm.linear.weight" not in state}
    if depth > 1:
        growth = hiddens[1] / hiddens[0]
        kwargs["growth"] = int(growth) if growth == int(growth) else growth
        if hiddens[-1] < int(hiddens[0] * growth ** (depth - 1)):
            kwargs["max_hidden"] = hiddens[-1]
    return kwargs


def _check_settings(args, kwargs: dict, path: Path) -> dict:
    """Positional and keyword settings as one checked keyword dict, or :class:`CheckpointError`."""
    if not isinstance(args, (tuple, list)):
        raise CheckpointError(f"denoiser checkpoint {path}: 'args' is a {type(args).__name__}, not a list")
    if len(args) > len(DEMUCS_PARAMETERS):
        raise CheckpointError(f"denoiser checkpoint {path}: {len(args)} positional settings, a Demucs takes "
                              f"{len(DEMUCS_PARAMETERS)}")
    settings = dict(zip(DEMUCS_PARAMETERS, args))
    for key, value in kwargs.items():
        if key not in DEMUCS_PARAMETERS or key in settings:
            raise CheckpointError(f"denoiser checkpoint {path}: unknown or repeated Demucs setting {str(key)[:40]!r}")
        settings[key] = value
    settings.pop("rescale", None)
    for key, value in settings.items():
        if key in INT_BOUNDS:
            low, high = INT_BOUNDS[key]
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        elif key in FLOAT_BOUNDS:
            low, high = FLOAT_BOUNDS[key]
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                  and low <= value <= high)
        else:
            ok = isinstance(value, bool) or value in (0, 1)
        if not ok:
            bounds = f"{INT_BOUNDS.get(key) or FLOAT_BOUNDS.get(key) or 'true or false'}"
            raise CheckpointError(f"denoiser checkpoint {path}: setting {key}={str(value)[:40]} is out of "
                                  f"bounds {bounds}")
    return settings


def _check_state(state, settings: dict, path: Path) -> None:
    """The stored tensors must be exactly those a Demucs with ``settings`` has, shape for shape, all finite."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"denoiser checkpoint {path}: the weights are not a mapping of tensors")
    try:
        with torch.device("meta"):
            expected = {key: tuple(value.shape) for key, value in Demucs(**settings, rescale=0).state_dict().items()}
    except (TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"denoiser checkpoint {path} does not fit a Demucs: {str(error)[:200]}") from None
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        which = f"missing {missing[0]}" if missing else f"unexpected {str(unexpected[0])[:60]}"
        raise CheckpointError(f"denoiser checkpoint {path} does not fit a Demucs with its settings: {which} "
                              f"({len(missing)} missing, {len(unexpected)} unexpected tensors)")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(f"denoiser checkpoint {path} does not fit a Demucs with its settings: {key} is "
                                  f"{tuple(state[key].shape)} in the file, {shape} for the settings")
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CheckpointError(f"denoiser checkpoint {path}: {key} holds NaN or infinite weights")


def _as_dict(value, what: str, path: Path) -> dict:
    if isinstance(value, PickledReference):  # e.g. an OmegaConf DictConfig
        value = value.items or (value.state or {}).get("_content", {})
    if not isinstance(value, dict):
        raise CheckpointError(f"denoiser checkpoint {path}: '{what}' is not a mapping")
    return dict(value)


def _class_name(cls) -> str:
    """What a package's ``class`` names: ``module.Name`` for a class, else the value's type and repr."""
    if isinstance(cls, type):
        return f"a {cls.__module__}.{cls.__qualname__}"
    return f"'class': {repr(cls)[:40]} (a {type(cls).__name__}, not a class)"


def _model_spec(package, path: Path):
    """(args, kwargs, state_dict) from any of the three layouts."""
    if not isinstance(package, dict):
        raise CheckpointError(f"denoiser checkpoint {path} holds a {type(package).__name__}, "
                              "not a Demucs state_dict or package")
    if "model" in package:  # training checkpoint
        model = _as_dict(package["model"], "model", path)
        if package.get("best_state") is not None:
            model["state"] = package["best_state"]
        package = model
    if "state" in package and "class" in package:  # serialized model
        name = _class_name(package["class"])
        if not name.endswith(".Demucs"):
            raise CheckpointError(f"denoiser checkpoint {path} holds {name}, not a Demucs")
        return (package.get("args") or (), _as_dict(package.get("kwargs") or {}, "kwargs", path),
                package["state"])
    if "encoder.0.0.weight" in package:  # bare state_dict
        try:
            return (), _infer_kwargs(package), package
        except (KeyError, IndexError, TypeError, AttributeError, ValueError, ZeroDivisionError) as error:
            raise CheckpointError(f"denoiser checkpoint {path} is not a Demucs state_dict: cannot read its "
                                  f"layer shapes ({type(error).__name__}: {str(error)[:80]})") from None
    raise CheckpointError(f"denoiser checkpoint {path} has no Demucs weights "
                          f"(keys: {', '.join(map(str, list(package)[:5]))})")


def load_demucs(path) -> Demucs:
    """Build a :class:`Demucs` from a checkpoint file in any of facebook's layouts."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"denoiser checkpoint not found: {path} (train one with `python -m workbench.train "
            "denoiser`, or put facebook's dns48 .th file there)")
    args, kwargs, state = _model_spec(_safe_load(path), path)
    settings = _check_settings(args, kwargs, path)
    _check_state(state, settings, path)
    try:
        model = Demucs(**settings, rescale=0)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise CheckpointError(f"denoiser checkpoint {path} does not fit a Demucs: {first_line}") from None
    return model.eval()


def save_package(model: Demucs, path, training: dict | None = None) -> None:
    """Write ``model`` as facebook's serialized package, loadable by facebook's own code.

    The pickled class reference is ``denoiser.demucs.Demucs``, exactly as
    facebook's ``serialize_model`` writes it. With ``training`` (e.g.
    ``best_state``, ``args``, ``history``), write facebook's training-checkpoint
    layout ``{'model': package, **training}`` instead.
    """
    module_name, _, class_name = FACEBOOK_CLASS.rpartition(".")
    installed = sys.modules.get(module_name)
    cls = getattr(installed, class_name, None) if installed else None
    added = []
    if cls is None:
        cls = type(class_name, (Demucs,), {"__module__": module_name, "__qualname__": class_name})
        for name in ("denoiser", module_name):
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
        setattr(sys.modules[module_name], class_name, cls)
    try:
        state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
        package = {"class": cls, "args": (), "kwargs": dict(model.init_kwargs), "state": state}
        torch.save(package if training is None else {"model": package, **training}, path)
    finally:
        for name in added:
            del sys.modules[name]
