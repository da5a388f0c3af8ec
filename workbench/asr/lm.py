"""A label n-gram language model for CTC beam search (Witten-Bell interpolation).

The model predicts a CTC model's next output label from the ``order - 1``
labels before it. With ``c`` the training counts, ``T(h)`` the number of
distinct labels seen after history ``h`` and ``h'`` the history without its
oldest label:

    P(w | h) = (c(h w) + T(h) P(w | h')) / (c(h) + T(h)),    P(w | ()) -> 1/V at the root

Histories never seen fall through to ``h'``. Each sentence starts from an
empty history, so its first labels are predicted as sentence starts.

It also carries the fusion settings for :class:`~.ctc.PrefixBeamSearch`
(``weight`` on its log-probabilities, ``bonus`` per label), chosen on
validation data when it was built. Saved as a NumPy ``.npz`` of numbers and
the label list (read with ``allow_pickle=False``: loading never runs code from
the file); the LM of ``NAME.nemo`` is ``NAME.lm.npz`` beside it. Before
loading, the archive's declared sizes are checked: at most ``MAX_LM_RATIO``
times the file's size plus 64 MiB once decompressed, and every array's header
within its member's size, so a decompression bomb is refused unread.
"""
import math
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

START = -1  # history padding before a sentence's first label
MAX_ORDER = 20
MAX_LM_RATIO = 32  # a real LM table compresses about 11x


class LabelLM:
    """Witten-Bell n-gram over label ids; :meth:`log_probs` gives ``log P(. | history)``."""

    def __init__(self, labels: list[str], order: int, ngrams: list, weight: float = 0.5, bonus: float = 1.0):
        """``ngrams[n - 1]``: rows ``(history..., label, count)``, one per distinct n-gram of length n."""
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
            raise ValueError(f"LM order must be 1 to {MAX_ORDER}, got {order}")
        if not (math.isfinite(weight) and math.isfinite(bonus)):
            raise ValueError(f"LM fusion weight and bonus must be finite, got {weight} and {bonus}")
        self.labels, self.order = list(labels), order
        self.weight, self.bonus = weight, bonus
        self.ngrams = [np.asarray(rows, np.int64).reshape(-1, n + 1) for n, rows in enumerate(ngrams, 1)]
        if len(self.ngrams) != order:
            raise ValueError(f"{len(self.ngrams)} n-gram tables for order {order}")
        self._next: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # history -> (labels after it, counts)
        for rows in self.ngrams:
            if len(rows) and (rows[:, -2].min() < 0 or rows[:, -2].max() >= len(labels) or rows[:, -1].min() < 1):
                raise ValueError("n-gram rows with unknown labels or counts below 1")
            if rows.shape[1] > 2:  # sort by history, first label first
                rows = rows[np.lexsort(rows[:, :-2].T[::-1])]
            history = rows[:, :-2]
            starts = np.flatnonzero(np.r_[True, (history[1:] != history[:-1]).any(axis=1)]) if len(rows) else []
            for start, stop in zip(starts, list(starts[1:]) + [len(rows)]):
                self._next[tuple(history[start].tolist())] = (rows[start:stop, -2], rows[start:stop, -1].astype(float))
        self._cache: dict[tuple, np.ndarray] = {}

    @classmethod
    def train(cls, sentences, labels: list[str], order: int = 6) -> "LabelLM":
        """Count the n-grams (all lengths up to ``order``) of sentences given as label-id lists."""
        ngrams = Counter()
        for ids in sentences:
            padded = [START] * (order - 1) + list(ids)
            for end in range(order - 1, len(padded)):
                for n in range(1, order + 1):
                    ngrams[tuple(padded[end - n + 1:end + 1])] += 1
        rows = [[] for _ in range(order)]
        for ngram, count in ngrams.items():
            rows[len(ngram) - 1].append((*ngram, count))
        return cls(labels, order, rows)

    def log_probs(self, prefix: tuple) -> np.ndarray:
        """``log P(w | last order-1 labels of prefix)`` for every label ``w``."""
        history = ((START,) * (self.order - 1) + tuple(prefix))[len(prefix):]
        cached = self._cache.get(history)
        if cached is None:
            probs = np.full(len(self.labels), 1.0 / len(self.labels))
            for start in range(len(history), -1, -1):
                entry = self._next.get(history[start:])
                if entry is not None:
                    following, counts = entry
                    seen = len(following)
                    mixed = probs * seen
                    np.add.at(mixed, following, counts)
                    probs = mixed / (counts.sum() + seen)
            cached = self._cache[history] = np.log(probs)
        return cached

    def save(self, path) -> None:
        np.savez_compressed(path, labels=np.array(self.labels), order=np.array(self.order),
                            fusion=np.array([self.weight, self.bonus]),
                            **{f"ngrams{n}": rows for n, rows in enumerate(self.ngrams, 1)})

    @classmethod
    def load(cls, path) -> "LabelLM":
        path = Path(path)
        _check_sizes(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                order = int(data["order"])
                weight, bonus = (float(v) for v in data["fusion"])
                labels = [str(label) for label in data["labels"]]
                return cls(labels, order, [data[f"ngrams{n}"] for n in range(1, order + 1)], weight, bonus)
        except Exception as error:  # noqa: BLE001 - not a zip, truncated, missing arrays, wrong shapes or labels, ...
            raise CheckpointError(f"cannot read language model {path}: {type(error).__name__}") from None


def _check_sizes(path: Path) -> None:
    """Refuse an ``.npz`` whose members decompress past the bound, or whose arrays outgrow their members."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            limit = MAX_LM_RATIO * path.stat().st_size + (64 << 20)
            if sum(member.file_size for member in members) > limit:
                raise CheckpointError(f"language model {path} would decompress to more than {limit >> 20} MiB: "
                                      "refused as a decompression bomb")
            for member in members:
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(handle)
                if math.prod(shape) * dtype.itemsize > member.file_size:
                    raise CheckpointError(f"language model {path}: {member.filename} declares more data than it holds")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"cannot read language model {path}: {type(error).__name__}") from None


def lm_beside(model_path) -> Path:
    """Where the LM of a ``.nemo`` model lives: ``NAME.lm.npz`` next to ``NAME.nemo``."""
    return Path(model_path).with_suffix(".lm.npz")
