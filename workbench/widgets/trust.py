"""What the person at the widgets is trusted with.

In JupyterLab the user runs code in the kernel anyway: every field takes any
path or address. In the app (Voilà, or ``WORKBENCH_RESTRICTED=1``) the user is
only trusted with the workbench itself: free-text paths must lie in the
project's folders (``audio_example/``, ``checkpoint/``, ``results/``), the
Dask scheduler field is hidden, and a refused path and a missing one get the
same message, so the fields reveal nothing about other files.
"""
import os
from pathlib import Path

from ..errors import WorkbenchError
from ..paths import CHECKPOINT_DIR, EXAMPLES_DIR, ROOT

APP_FOLDERS = (EXAMPLES_DIR, CHECKPOINT_DIR, ROOT / "results")


def restricted() -> bool:
    """True in a Voilà kernel or with ``WORKBENCH_RESTRICTED=1``."""
    flag = os.environ.get("WORKBENCH_RESTRICTED", "").strip().lower()
    if flag in ("0", "false", "no"):
        return False
    return flag in ("1", "true", "yes") or any(name in os.environ for name in ("VOILA_BASE_URL", "VOILA_KERNEL_ID"))


def checked_path(text: str, what: str = "file") -> Path:
    """``text`` as a path; in restricted mode it must name an existing file in the app's folders,
    and every refusal reads the same."""
    path = Path(text.strip()).expanduser()
    if not restricted():
        return path
    # relative: to the working directory (the app's own fields show paths so) or to the project
    for candidate in (path.resolve(), (ROOT / path).resolve()):
        if any(candidate.is_relative_to(folder.resolve()) for folder in APP_FOLDERS) and candidate.exists():
            return candidate
    raise WorkbenchError(f"no such {what} in the workbench's folders (audio_example/, checkpoint/, results/)")


def writable_path(text: str) -> Path:
    """Where to save: anywhere in JupyterLab; in restricted mode only a file name inside ``results/``."""
    path = Path(text.strip()).expanduser()
    if not restricted():
        return path
    if path.name != text.strip() or path.name in ("", ".", ".."):
        raise WorkbenchError("in the app, save under a plain file name (it goes to results/)")
    (ROOT / "results").mkdir(exist_ok=True)
    return ROOT / "results" / path.name
