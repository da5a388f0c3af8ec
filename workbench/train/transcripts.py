"""Transcripts brought into the spoken form a CTC model learns.

:func:`spoken`: NFC; every character that is not a letter, a digit, a combining mark or a space
(punctuation, symbols, control and format characters) dropped; whitespace runs become one space.

:func:`ksponspeech` first applies KsponSpeech's transcription conventions (its published rules):

- ``b/ l/ o/ n/ u/`` (breath, laughter, another speaker, noise, unintelligible): the tag removed;
- ``아/`` (a filler: a slash after the word), ``word*`` (unclear), ``word+`` (repeated): the mark dropped,
  the word kept;
- ``(철자)/(발음)`` (dual transcription: spelling, then pronunciation): the pronunciation, what was said;
  the spelling with ``spelling=True``.

Evaluation's own normaliser (:mod:`workbench.metrics`: NFC and spaces) is a different, milder one,
so that CER figures stay comparable with earlier ones.
"""
import re
import unicodedata

_DUAL = re.compile(r"\(([^()]*)\)/\(([^()]*)\)")
_NOISE_TAG = re.compile(r"(?<![^\s(])[blonu]/")   # a tag is a token of its own: at the start or after a space


def spoken(text: str) -> str:
    """NFC, only letters, digits, combining marks and single spaces kept."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(" " if c.isspace() else c for c in text if c.isspace() or unicodedata.category(c)[0] in "LNM")
    return " ".join(kept.split())


def ksponspeech(text: str, spelling: bool = False) -> str:
    """A KsponSpeech transcript in spoken form: dual transcriptions resolved (pronunciation, or the spelling
    with ``spelling``), noise and speaker tags removed, filler, unclear and repetition marks dropped."""
    text = unicodedata.normalize("NFC", text)
    text = _DUAL.sub(lambda match: match.group(1 if spelling else 2), text)
    text = _NOISE_TAG.sub(" ", text)
    return spoken(text)   # the remaining marks (/ * +) are punctuation and symbols
