"""JSON-lines manifests in NeMo's layout: one object a line,
``{"audio_filepath": ..., "duration": seconds, "text": ...}``.

Reading resolves a relative ``audio_filepath`` from the manifest's folder and
turns anything malformed (a line that is not such an object, a duration that
is not a number, a file that is not UTF-8) into one :class:`WorkbenchError` line
naming the file and line; ``duration`` may be left out.
"""
import json
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from .errors import WorkbenchError


class Entry(NamedTuple):
    """One utterance: its audio file, its transcript and its length in seconds (None when not given)."""

    audio: str
    text: str
    duration: float | None = None


def utf8_text(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is a :class:`WorkbenchError`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WorkbenchError(f"{path} is not UTF-8 text") from None


def read(path) -> list[Entry]:
    """The entries of the manifest at ``path``, in order (blank lines skipped)."""
    path = Path(path)
    entries = []
    for number, line in enumerate(utf8_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            audio, text = Path(row["audio_filepath"]), str(row["text"])
            duration = float(row["duration"]) if "duration" in row else None
        except (KeyError, TypeError, ValueError):  # JSONDecodeError is a ValueError
            raise WorkbenchError(f"{path}:{number}: expected a JSON object with 'audio_filepath' and 'text' "
                                 "(and a number 'duration', if any)") from None
        entries.append(Entry(str(audio if audio.is_absolute() else path.parent / audio), text, duration))
    return entries


def write(path, entries: Iterable[Entry]) -> None:
    """One line per entry, durations rounded to milliseconds (NeMo's data sets need them: every entry has one)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"audio_filepath": str(entry.audio), "duration": round(entry.duration, 3),
                                "text": entry.text}, ensure_ascii=False) + "\n" for entry in entries)
