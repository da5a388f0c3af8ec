"""The transcript against its reference: jiwer's syllable alignment drawn as marked edits, CER and WER.

The alignment is the one CER counts (syllables, spaces ignored, see
:mod:`workbench.metrics`), so the marks add up to CER's edits; the
reference's spaces are put back for reading. A substitution shows the
reference's syllables struck out and the transcript's after them, a deletion
the reference's struck out, an insertion the transcript's underlined.
"""
import html
from dataclasses import dataclass
from itertools import pairwise

import jiwer

from ..metrics import cer, normalise, wer

LEGEND = ("<span class='wb-del'>deleted</span> <span class='wb-ins'>inserted</span> "
          "<span class='wb-sub'><span class='wb-del'>was</span>→<span class='wb-ins'>became</span></span>")
STYLE = ("<style>.wb-diff .wb-del{color:#b00020;text-decoration:line-through}"
         ".wb-diff .wb-ins{color:#1b5e20;text-decoration:underline;font-weight:600}"
         ".wb-diff .wb-sub{background:#fff3cd;border-radius:3px}</style>")


@dataclass(frozen=True)
class Chunk:
    """One run of jiwer's alignment: ``kind`` is equal, substitute, delete or insert."""

    kind: str
    reference: str
    hypothesis: str


def aligned(reference: str, hypothesis: str) -> list[Chunk]:
    """The syllable alignment of ``hypothesis`` to ``reference`` (spaces ignored); a space
    starts each reference word's first chunk."""
    words = normalise(reference).split()
    ref, hyp = "".join(words), normalise(hypothesis).replace(" ", "")
    if not ref or not hyp:
        runs = [("delete", 0, len(ref), 0, 0)] if ref else [("insert", 0, 0, 0, len(hyp))] if hyp else []
    else:
        runs = [(c.type, c.ref_start_idx, c.ref_end_idx, c.hyp_start_idx, c.hyp_end_idx)
                for c in jiwer.process_characters(ref, hyp).alignments[0]]
    starts, position = set(), 0
    for word in words:
        starts.add(position)
        position += len(word)
    chunks = []
    for kind, ref_start, ref_end, hyp_start, hyp_end in runs:
        if kind in ("equal", "substitute", "delete") and ref_end - ref_start > 1:
            # split at word starts inside the run, so spaces can go back in
            cut = [ref_start, *sorted(i for i in starts if ref_start < i < ref_end), ref_end]
            for a, b in pairwise(cut):
                offset = hyp_start + (a - ref_start)
                text = hyp[offset:offset + (b - a)] if kind != "delete" else ""
                chunks.append((kind, a, ref[a:b], text))
        else:
            chunks.append((kind, ref_start, ref[ref_start:ref_end], hyp[hyp_start:hyp_end]))
    out, spaced = [], {0}
    for kind, at, ref_text, hyp_text in chunks:
        space = " " if at in starts and at not in spaced else ""
        spaced.add(at)
        out.append(Chunk(kind, space + ref_text, hyp_text))
    return out


def diff_html(reference: str, hypothesis: str) -> str:
    """The reference, then the reference with the transcript's edits marked, a legend, CER and WER."""
    chunks, parts = aligned(reference, hypothesis), []
    for chunk in chunks:
        space = " " if chunk.reference.startswith(" ") else ""
        ref, hyp = html.escape(chunk.reference.lstrip(" ")), html.escape(chunk.hypothesis)
        if chunk.kind == "equal":
            parts.append(space + ref)
        elif chunk.kind == "delete":
            parts.append(f"{space}<span class='wb-del'>{ref}</span>")
        elif chunk.kind == "insert":
            parts.append(f"{space}<span class='wb-ins'>{hyp}</span>")
        else:
            parts.append(f"{space}<span class='wb-sub'><span class='wb-del'>{ref}</span>→"
                         f"<span class='wb-ins'>{hyp}</span></span>")
    counts = {kind: sum(len(c.hypothesis if kind == "insert" else c.reference.strip())
                        for c in chunks if c.kind == kind)
              for kind in ("substitute", "delete", "insert")}
    summary = (f"CER {cer(reference, hypothesis):.2f} · WER {wer(reference, hypothesis):.2f} · "
               f"{counts['substitute']} substituted, {counts['delete']} deleted, {counts['insert']} inserted "
               "syllables (spaces ignored)")
    return (f"{STYLE}<div class='wb-diff'><div><b>reference</b>: {html.escape(normalise(reference))}</div>"
            f"<div><b>the transcript against it</b> <small>({LEGEND})</small></div>"
            f"<div class='wb-diff-text' style='font-size:115%'>{''.join(parts)}</div>"
            f"<div class='wb-diff-rates'><small>{summary}</small></div></div>")
