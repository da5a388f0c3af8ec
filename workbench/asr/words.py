"""Word times from a CTC alignment.

The decoded labels ``y`` (the greedy path's, or the beam search's with the LM) are aligned to
the frames they came from: the Viterbi path ``pi`` (one label or blank per frame, collapsing to
``y``) maximises ``sum_t log p_t(pi_t)``. For greedy decoding ``pi`` is the greedy path itself
(the best path of all collapses to ``y``). Each label of ``y`` holds a run of frames of ``pi``;
a word is the labels between two spaces, from its first label's first frame to its last label's
last frame, so joined by spaces the words' texts are the decoded text. A long segment is
aligned in pieces (:func:`token_runs`).
"""
import unicodedata
from dataclasses import dataclass

import numpy as np
import torch

MAX_ALIGN_FRAMES = 1500  # frames per Viterbi pass (60 s of 40 ms frames); it keeps frames x (2 tokens + 1) bytes


@dataclass(frozen=True)
class Word:
    """One space-separated unit of a final's text and where it was spoken, in seconds of the stream."""

    text: str
    start_s: float
    end_s: float


def token_spans(path, blank: int) -> list[tuple[int, int, int]]:
    """(label, start, end) for every run of one non-blank label in ``path``: one per output token."""
    path = np.asarray(path)
    edges = np.flatnonzero(np.diff(path)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(path)]])
    return [(int(path[s]), int(s), int(e)) for s, e in zip(starts, ends) if path[s] != blank]


def forced_path(log_probs: np.ndarray, tokens: list[int], blank: int) -> np.ndarray:
    """The best CTC path (a label or the blank per frame) of (frames, labels) log-probabilities
    that collapses to ``tokens`` (NeMo's Viterbi). ``tokens`` must fit the frames, as any decoded
    text of those frames does."""
    from nemo.collections.asr.parts.utils.aligner_utils import viterbi_decoding

    states = [blank] + [s for token in tokens for s in (int(token), blank)]  # blank, y1, blank, y2, ... blank
    scores = torch.from_numpy(np.asarray(log_probs, np.float32))
    positions = viterbi_decoding(scores[None], torch.tensor([states]), torch.tensor([len(scores)]),
                                 torch.tensor([len(states)]), torch.device("cpu"))[0]
    return np.asarray(states)[positions]


def pieces(transcriber, ids) -> list[str]:
    """Each token's text as the tokenizer spells it, with SentencePiece's word mark ``▁`` as a space."""
    return [unicodedata.normalize("NFC", piece).replace("▁", " ")
            for piece in transcriber.model.decoding.decode_ids_to_tokens([int(i) for i in ids])]


def word_groups(transcriber, ids) -> list[list[int]]:
    """Positions in ``ids`` of each word's tokens: a space token ends a word, a token that starts
    with a space (``▁piece``) starts one."""
    groups, current = [], []
    for position, piece in enumerate(pieces(transcriber, ids)):
        if piece.startswith(" ") and current:
            groups.append(current)
            current = []
        if piece.strip():
            current.append(position)
    return groups + [current] if current else groups


def token_runs(log_probs: np.ndarray, tokens: list[int], frames: list[int], blank: int) -> list[tuple[int, int]]:
    """Frames ``[start, end)`` of each token: :func:`forced_path` over pieces of at most
    ``MAX_ALIGN_FRAMES`` frames, each aligning the tokens the search emitted in it (``frames``: the
    frame each token appeared at), so memory stays bounded however long a segment grows."""
    runs = []
    for first in range(0, len(log_probs), MAX_ALIGN_FRAMES):
        inside = [token for token, frame in zip(tokens, frames) if first <= frame < first + MAX_ALIGN_FRAMES]
        if inside:
            path = forced_path(log_probs[first:first + MAX_ALIGN_FRAMES], inside, blank)
            runs += [(first + start, first + end) for _, start, end in token_spans(path, blank)]
    return runs


def segment_words(transcriber, segment) -> tuple[Word, ...]:
    """The words of a decoded :class:`~.ctc.Segment` (its tokens, the frames they appeared at, and
    its log-probabilities from frame ``first_frame`` on), timed by :func:`token_runs`."""
    if not segment.tokens:
        return ()
    frames = [frame - segment.first_frame for frame in segment.frames]
    runs = token_runs(segment.log_probs, segment.tokens, frames, transcriber.blank)
    offset_s, frame_s = segment.first_frame * transcriber.frame_s, transcriber.frame_s
    found = []
    for group in word_groups(transcriber, segment.tokens):
        text = transcriber.text([segment.tokens[i] for i in group])
        if text:
            found.append(Word(text, offset_s + runs[group[0]][0] * frame_s, offset_s + runs[group[-1]][1] * frame_s))
    return tuple(found)
