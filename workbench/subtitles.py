"""Subtitles from final transcript events: SubRip (``srt``) and WebVTT (``vtt``).

A final's words (see :mod:`workbench.asr.words`) are gathered into cues in order: a cue takes
the next word while its text still wraps into ``MAX_LINES`` lines of at most ``LINE_CHARS``
characters (broken between words; a longer word keeps a line of its own) and it lasts at most
``MAX_CUE_S`` from its first word's start to its last word's end; a word that fits neither starts
the next cue. A cue runs from its first word's start to its last word's end. A final without
words (an event made by hand) counts as one word over the final's span. Cues never cross finals:
finals are separated by a pause.
"""
import textwrap
from collections.abc import Iterable

from .asr import TranscriptEvent, Word

FORMATS = ("srt", "vtt")
LINE_CHARS = 20
MAX_LINES = 2
MAX_CUE_S = 6.0


def _timestamp(seconds: float, separator: str) -> str:
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _lines(words: list[Word]) -> list[str]:
    return textwrap.wrap(" ".join(word.text for word in words), LINE_CHARS, break_long_words=False,
                         break_on_hyphens=False)


def _fits(words: list[Word]) -> bool:
    return len(_lines(words)) <= MAX_LINES and words[-1].end_s - words[0].start_s <= MAX_CUE_S


def _cues(finals: Iterable[TranscriptEvent]) -> list[tuple[float, float, str]]:
    """(start, end, text in lines) of every cue of the finals that hold text."""
    cues = []
    for event in finals:
        if not (event.final and event.text.strip()):
            continue
        words = [w for w in event.words if w.text.strip()] or [
            Word(" ".join(event.text.split()), event.start_s, max(event.end_s, event.start_s))]
        groups = [[words[0]]]
        for word in words[1:]:
            if _fits(groups[-1] + [word]):
                groups[-1].append(word)
            else:
                groups.append([word])
        cues += [(group[0].start_s, max(group[-1].end_s, group[0].start_s), "\n".join(_lines(group)))
                 for group in groups]
    return cues


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
