"""Subtitles from final transcript events: SubRip (``srt``) and WebVTT (``vtt``).

Each non-empty final becomes one cue from its ``start_s`` to its ``end_s``
(the first and last frame of its labels), as lecture subtitles and minutes need.
"""
from collections.abc import Iterable

from .asr import TranscriptEvent

FORMATS = ("srt", "vtt")


def _timestamp(seconds: float, separator: str) -> str:
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _cues(finals: Iterable[TranscriptEvent]) -> list[tuple[float, float, str]]:
    """(start, end, one-line text) of every final that holds text."""
    return [(event.start_s, max(event.end_s, event.start_s), " ".join(event.text.split()))
            for event in finals if event.final and event.text.strip()]


def srt(finals: Iterable[TranscriptEvent]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""
    return "".join(f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n\n"
                   for number, (start, end, text) in enumerate(_cues(finals), 1))


def vtt(finals: Iterable[TranscriptEvent]) -> str:
    """WebVTT: the ``WEBVTT`` header, then cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm``."""
    return "WEBVTT\n\n" + "".join(f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{text}\n\n"
                                  for start, end, text in _cues(finals))


def subtitles(finals: Iterable[TranscriptEvent], format: str) -> str:
    """``srt`` or ``vtt`` text of ``finals``."""
    return {"srt": srt, "vtt": vtt}[format](finals)
