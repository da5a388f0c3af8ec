"""Options shared by the command line's commands (``python -m workbench`` and its ``serve``)."""

QUANTIZE_HELP = "int8 weights (CPU only): faster, not exact"
LM_HELP = "label LM: auto (NAME.lm.npz beside NAME.nemo, if there), none (greedy decoding), or a .lm.npz file"


def lm_choice(value: str):
    """Command-line ``--lm``: ``auto`` -> True (the LM beside the model, if any), ``none`` -> False, else a path."""
    return {"auto": True, "none": False}.get(value, value)
LIVE_HELP = ("live mode's low-latency companion: auto (NAME_streaming.nemo beside NAME.nemo, if there), "
             "none (stream as the model alone does), or a cache-aware .nemo file")


def live_choice(value: str):
    """Command-line ``--live``: ``auto`` -> True (the companion beside the model, if any), ``none`` -> False, else a path."""
    return {"auto": True, "none": False}.get(value, value)
