"""Where the bundled defaults live (the repository's ``checkpoint/`` and ``audio_example/``)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = ROOT / "checkpoint"
DEFAULT_DENOISER = CHECKPOINT_DIR / "denoiser.th"
DEFAULT_ASR = CHECKPOINT_DIR / "asr.nemo"
EXAMPLES_DIR = ROOT / "audio_example"
MAX_REFERENCE_BYTES = 64 * 1024


def examples() -> dict[str, Path]:
    """Bundled example recordings by name (``audio_example/<name>.wav``)."""
    return {path.stem: path for path in sorted(EXAMPLES_DIR.glob("*.wav"))}


def reference_text(audio_path) -> str | None:
    """The reference transcript stored beside an audio file (``name.txt``), if any: a missing,
    unreadable, non-UTF-8 or over-long (> 64 KiB) file is no reference, since it only costs the
    error-rate line."""
    text = Path(audio_path).with_suffix(".txt")
    try:
        if not text.is_file() or text.stat().st_size > MAX_REFERENCE_BYTES:
            return None
        return text.read_text(encoding="utf-8").strip()
    except (UnicodeDecodeError, OSError):
        return None


def display_path(path) -> str:
    """``path`` relative to the working directory when it lies in the project, else as given."""
    path = Path(path)
    if path.is_absolute() and path.resolve().is_relative_to(ROOT):
        return os.path.relpath(path)
    return str(path)
