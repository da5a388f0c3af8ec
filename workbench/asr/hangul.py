"""Hangul for display: decomposed jamo recomposed into syllables.

A jamo-vocabulary model emits conjoining jamo (U+1100-U+11FF); NFC composes
each lead + vowel (+ tail) run into one syllable. A jamo that cannot join (a
lone consonant, a vowel without a lead) would render as a broken glyph, so it
is shown as the compatibility letter of the same name (U+1100 CHOSEONG KIYEOK
-> U+3131 LETTER KIYEOK).
"""
import re
import unicodedata
from functools import cache

CONJOINING = re.compile("[\u1100-\u11ff]")


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
