"""Hangul for display: decomposed jamo recomposed into syllables.

A jamo-vocabulary model emits conjoining jamo (U+1100-U+11FF); NFC composes
each lead + vowel (+ tail) run into one syllable. A jamo that cannot join (a
lone consonant, a vowel without a lead) would render as a broken glyph, so it
is shown as the compatibility letter of the same name (U+1100 CHOSEONG KIYEOK
-> U+3131 LETTER KIYEOK).

A partial hypothesis shows whole syllables only: a lone jamo there is a syllable still being
spoken ("반녕ㅎ" before "반녕하") or one the search has not settled, so it is held back.
"""
import re
import unicodedata
from functools import cache

CONJOINING = re.compile("[\u1100-\u11ff]")
LONE_JAMO = re.compile("[\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\ud7b0-\ud7ff]")  # conjoining and letters


@cache
def letter(jamo: str) -> str:
    """The compatibility letter named like ``jamo``, or ``jamo`` itself when there is none."""
    name = unicodedata.name(jamo, "")
    for part in ("CHOSEONG ", "JUNGSEONG ", "JONGSEONG "):
        if part in name:
            try:
                return unicodedata.lookup(name.replace(part, "LETTER "))
            except KeyError:
                return jamo
    return jamo


def compose(text: str) -> str:
    """NFC syllables; jamo left over after composition become compatibility letters."""
    return CONJOINING.sub(lambda match: letter(match.group()), unicodedata.normalize("NFC", text))


def whole_syllables(text: str) -> str:
    """``text`` without lone jamo (conjoining or letters), spaces collapsed: what a partial shows."""
    return " ".join(LONE_JAMO.sub("", text).split())
