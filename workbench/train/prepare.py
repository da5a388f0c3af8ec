"""A corpus on disk -> 16 kHz WAV and NeMo manifests: ``python -m workbench.train prepare CORPUS ROOT --out DIR``.

Writes ``DIR/wav/...`` (16-bit mono WAV at 16 kHz, one per utterance, named after its source),
``DIR/manifest.json`` (every utterance, paths relative to ``DIR``), one manifest per official split where
the corpus gives them, and ``DIR/skipped.txt`` (one line per utterance left out, and why). Texts are in
spoken form (:mod:`.transcripts`).

Corpora:

- ``ksponspeech``: its published layout, raw 16 kHz 16-bit little-endian ``.pcm`` files beside ``.txt``
  transcripts (CP949; UTF-8 is accepted too). The official lists ``train.trn``, ``dev.trn``,
  ``eval_clean.trn``, ``eval_other.trn`` (lines ``PATH :: TEXT``), where found under ROOT, give the splits
  (``DIR/train.json`` ...) and the text of a listed file without a ``.txt`` beside it.
- ``zeroth``: Zeroth-Korean's Kaldi-style layout, per-speaker folders holding ``*.trans.txt`` (lines
  ``UTT_ID text``) beside ``UTT_ID.flac``, under ``train_data_01/`` and ``test_data_01/`` (splits ``train``
  and ``test``).
- ``manifest``: ROOT is a NeMo manifest; its audio is converted and its text normalised.

A transcript that is missing, unreadable or neither UTF-8 nor CP949, audio that cannot be read, a ``.pcm``
of odd length and a text with no words left are reported (one line naming the file) and skipped; the
run goes on.
"""
import time
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from .. import manifest
from ..audio import SAMPLE_RATE
from ..errors import WorkbenchError
from . import transcripts

CORPORA = ("ksponspeech", "zeroth", "manifest")
KSPON_SPLITS = ("train", "dev", "eval_clean", "eval_other")


class Source(NamedTuple):
    """One utterance to prepare: its audio, where its text is (a file to read, or the text itself), its
    official split (None: none) and its output name under ``DIR/wav`` (no extension)."""
    audio: Path
    transcript: Path | None
    text: str | None
    split: str | None
    key: str


class Skipped(Exception):
    """Why one utterance is left out (one line, naming the file)."""


def read_text(path: Path) -> str:
    """A transcript file's text: UTF-8, else CP949 (KsponSpeech's encoding)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise Skipped(f"{path}: transcript missing") from None
    except OSError as error:
        raise Skipped(f"{path}: cannot read the transcript ({error.strerror or error})") from None
    for encoding in ("utf-8", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    raise Skipped(f"{path}: transcript is neither UTF-8 nor CP949 text")


def read_audio(path: Path) -> np.ndarray:
    """Mono samples at 16 kHz: a ``.pcm`` is raw 16-bit little-endian at 16 kHz (int16 kept as is);
    anything else is read by soundfile, mixed to mono and resampled (float32)."""
    path = Path(path)
    if not path.is_file():
        raise Skipped(f"{path}: audio missing")
    try:
        if path.suffix.lower() == ".pcm":
            size = path.stat().st_size
            if size % 2:
                raise Skipped(f"{path}: odd length ({size} bytes), not 16-bit PCM")
            audio = np.fromfile(path, dtype="<i2")
        else:
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
            audio = audio.mean(axis=1)
            if rate != SAMPLE_RATE:
                import soxr
                audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    except (OSError, RuntimeError, sf.LibsndfileError) as error:
        raise Skipped(f"{path}: cannot read the audio ({type(error).__name__})") from None
    if not len(audio):
        raise Skipped(f"{path}: no samples")
    return audio


def _convert(job) -> tuple[str | None, manifest.Entry | None, str | None]:
    """(split, entry, None) for a prepared utterance, (None, None, reason) for a skipped one."""
    source, out, corpus, spelling = job
    try:
        raw = source.text if source.transcript is None else " ".join(read_text(source.transcript).split())
        text = transcripts.ksponspeech(raw, spelling) if corpus == "ksponspeech" else transcripts.spoken(raw)
        if not text:
            raise Skipped(f"{source.transcript or source.audio}: no words left after normalising ({raw[:60]!r})")
        audio = read_audio(source.audio)
    except Skipped as reason:
        return None, None, str(reason)
    relative = Path("wav") / f"{source.key}.wav"
    (out / relative).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out / relative), audio, SAMPLE_RATE, subtype="PCM_16")
    return source.split, manifest.Entry(relative.as_posix(), text, len(audio) / SAMPLE_RATE), None


def _official_lists(root: Path, problems: list[str]) -> dict[str, tuple[str, str]]:
    """KsponSpeech's split lists under ``root``: utterance id -> (split, text)."""
    listed = {}
    for split in KSPON_SPLITS:
        for path in sorted(root.rglob(f"{split}.trn")):
            try:
                lines = read_text(path).splitlines()
            except Skipped as reason:
                problems.append(str(reason))
                continue
            for line in lines:
                audio, sep, text = line.partition(" :: ")
                if sep:
                    listed[Path(audio.strip()).stem] = (split, text)
    return listed


def ksponspeech(root: Path, problems: list[str]) -> list[Source]:
    listed = _official_lists(root, problems)
    sources, found = [], set()
    for pcm in sorted(root.rglob("*.pcm")):
        found.add(pcm.stem)
        split, text = listed.get(pcm.stem, (None, None))
        beside = pcm.with_suffix(".txt")
        transcript = beside if beside.exists() or text is None else None
        sources.append(Source(pcm, transcript, text, split, pcm.relative_to(root).with_suffix("").as_posix()))
    absent = len(set(listed) - found)
    if absent:
        problems.append(f"{absent} utterances of the official lists have no .pcm under {root}")
    return sources


def zeroth(root: Path, problems: list[str]) -> list[Source]:
    sources, spoken_audio = [], set()
    for trans in sorted(root.rglob("*.trans.txt")):
        parts = trans.relative_to(root).parts
        split = "train" if any(p.startswith("train_data") for p in parts) else \
            "test" if any(p.startswith("test_data") for p in parts) else None
        try:
            lines = read_text(trans).splitlines()
        except Skipped as reason:
            problems.append(str(reason))
            continue
        for number, line in enumerate(lines, 1):
            utterance, _, text = line.strip().partition(" ")
            if not utterance:
                continue
            if not text.strip():
                problems.append(f"{trans}:{number}: no text for {utterance}")
                continue
            audio = trans.parent / f"{utterance}.flac"
            if not audio.exists() and (trans.parent / f"{utterance}.wav").exists():
                audio = trans.parent / f"{utterance}.wav"
            spoken_audio.add(audio)
            sources.append(Source(audio, None, text, split, audio.relative_to(root).with_suffix("").as_posix()))
    unlisted = len(set(root.rglob("*.flac")) - spoken_audio)
    if unlisted:
        problems.append(f"{unlisted} .flac files under {root} are in no .trans.txt (skipped)")
    return sources


def from_manifest(path: Path, problems: list[str]) -> list[Source]:
    return [Source(Path(entry.audio), None, entry.text, None, f"{number:07d}_{Path(entry.audio).stem}")
            for number, entry in enumerate(manifest.read(path))]


def prepare(corpus: str, root, out, spelling: bool = False, workers: int = 1, log=print) -> Path:
    """Prepare ``corpus`` found at ``root`` into ``out``; returns ``out/manifest.json``."""
    root, out = Path(root), Path(out).resolve()
    if corpus not in CORPORA:
        raise WorkbenchError(f"unknown corpus {corpus!r}: one of {', '.join(CORPORA)}")
    if corpus == "manifest" and not root.is_file():
        raise WorkbenchError(f"manifest not found: {root}")
    if corpus != "manifest" and not root.is_dir():
        raise WorkbenchError(f"{corpus} folder not found: {root}")
    problems: list[str] = []
    sources = {"ksponspeech": ksponspeech, "zeroth": zeroth, "manifest": from_manifest}[corpus](root, problems)
    for line in problems:
        log(f"skipped {line}")
    if not sources:
        raise WorkbenchError(f"no {corpus} utterances found in {root}")
    out.mkdir(parents=True, exist_ok=True)
    log(f"{len(sources)} {corpus} utterances in {root}; writing {out}")
    t0, entries, splits = time.time(), [], defaultdict(list)
    jobs = ((source, out, corpus, spelling) for source in sources)
    with Pool(workers) if workers > 1 else _InProcess() as pool:
        for number, (split, entry, reason) in enumerate(pool.imap(_convert, jobs, chunksize=32), 1):
            if reason:
                problems.append(reason)
                log(f"skipped {reason}")
            else:
                entries.append(entry)
                if split:
                    splits[split].append(entry)
            if number % 10000 == 0:
                log(f"{number} of {len(sources)} in {(time.time() - t0) / 60:.1f} min")
    (out / "skipped.txt").write_text("".join(line + "\n" for line in problems), encoding="utf-8")
    if not entries:
        raise WorkbenchError(f"none of the {len(sources)} utterances could be prepared (see {out / 'skipped.txt'})")
    manifest.write(out / "manifest.json", entries)
    for split, rows in splits.items():
        manifest.write(out / f"{split}.json", rows)
    hours = sum(entry.duration for entry in entries) / 3600
    log(f"{len(entries)} utterances ({hours:.2f} h) in {out / 'manifest.json'}"
        + (f", splits {', '.join(f'{s} {len(r)}' for s, r in sorted(splits.items()))}" if splits else "")
        + f"; {len(problems)} skipped (listed in {out / 'skipped.txt'})")
    return out / "manifest.json"


class _InProcess:
    """``Pool``'s ``imap`` in this process (one worker)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap(function, items, chunksize=1):
        return map(function, items)
