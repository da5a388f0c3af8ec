"""Causal Demucs denoiser trained on noisy/clean pairs mixed on the fly.

Model: the workbench's own ``Demucs`` (facebook's parameter names), saved
with ``save_package`` in facebook's serialized layout
``{'class', 'args', 'kwargs', 'state'}``. Loss: L1 on the waveform plus
facebook's multi-resolution STFT loss (:mod:`.stft_loss`), optionally plus the ASR-guided term of
:mod:`.asr_guide`. Noise is drawn fresh for every example (or cropped from
the training noise files). Training stops by wall-clock with a cosine
learning rate over that budget.

With ``denoise_share`` it also writes denoised (dry-mixed) noisy training
utterances and a manifest, for training the ASR on denoiser output too.

With ``clean`` and ``noisy`` it trains on the user's own pairs instead (:class:`FilePairs`): two folders of
audio files with the same names, or facebook denoiser's ``clean.json`` and ``noisy.json`` lists.
"""
import json
import math
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .. import manifest
from ..audio import SAMPLE_RATE
from ..denoise import DEFAULT_DRY, load_denoiser
from ..errors import WorkbenchError
from . import noise as noise_mod
from .speech import write
from .stft_loss import loss_fn


def full_band_rows(data_dir) -> list[manifest.Entry]:
    """Training manifest entries of 16 kHz speech (the telephone-band copies left out)."""
    return [entry for entry in manifest.read(Path(data_dir) / "asr_train.json") if "/tel/" not in entry.audio]


def training_noises(data_dir) -> list[np.ndarray]:
    """The training noise files, read."""
    return [sf.read(entry.audio, dtype="float32")[0] for entry in manifest.read(Path(data_dir) / "noise_train.json")]


class PairSampler:
    """Random noisy/clean segments: clean training speech + noise at ``snr`` dB.

    ``noise="fresh"`` draws a new noise for every segment (babble from ``babble_pool`` other
    training utterances), of a kind drawn with probability weight / sum(weights) from
    ``kind_weights`` (``{kind: weight}``; every kind of :data:`.noise.KINDS` once by default);
    ``"files"`` crops the training noise files.
    """

    def __init__(self, data_dir, segment_s=2.0, snr=(-2.0, 15.0), clean_share=0.05, seed=0, max_clean=6000,
                 noise="fresh", babble_pool=600, kind_weights=None):
        rows = full_band_rows(data_dir)
        self.rng = np.random.default_rng(seed)
        pick = self.rng.permutation(len(rows))
        self.clean_rows = [rows[i] for i in pick[:max_clean]]
        if noise == "fresh":
            self.pool = [sf.read(rows[i].audio, dtype="float32")[0] for i in pick[-babble_pool:]]
        elif noise == "files":
            self.noises = training_noises(data_dir)
        else:
            raise ValueError(f"noise must be 'fresh' or 'files', not {noise!r}")
        self.fresh = noise == "fresh"
        weights = {kind: 1.0 for kind in noise_mod.KINDS} if kind_weights is None else dict(kind_weights)
        if not set(weights) <= set(noise_mod.KINDS) or min(weights.values()) < 0 or sum(weights.values()) <= 0:
            raise ValueError(f"kind weights must be >= 0 over {noise_mod.KINDS}, some > 0; got {weights}")
        self.kinds = list(weights)
        self.kind_p = np.array(list(weights.values())) / sum(weights.values())
        self.segment = int(segment_s * SAMPLE_RATE)
        self.snr, self.clean_share = snr, clean_share
        self._cache = {}

    def _clean(self, index):
        if index not in self._cache:
            self._cache[index] = sf.read(self.clean_rows[index].audio, dtype="float32")[0]
        return self._cache[index]

    def pair(self):
        """(noisy, clean), one segment of a random utterance at a random peak level."""
        clean = self._clean(int(self.rng.integers(len(self.clean_rows))))
        if len(clean) > self.segment:
            start = int(self.rng.integers(0, len(clean) - self.segment))
            clean = clean[start:start + self.segment]
        else:
            clean = np.pad(clean, (int(self.rng.integers(0, self.segment - len(clean) + 1)), 0))
            clean = np.pad(clean, (0, self.segment - len(clean)))
        clean = clean * self.rng.uniform(0.3, 1.5) / (np.abs(clean).max() + 1e-9) * 0.5
        if self.rng.random() < self.clean_share:
            return clean.astype(np.float32), clean.astype(np.float32)
        if self.fresh:
            kind = self.kinds[int(self.rng.choice(len(self.kinds), p=self.kind_p))]
            noise = noise_mod.make(kind, self.segment, self.rng, self.pool)
        else:
            noise = self.noises[int(self.rng.integers(len(self.noises)))]
        return noise_mod.noisy_pair(clean.astype(np.float32), noise, self.rng.uniform(*self.snr), self.rng)

    def batch(self, size):
        """(noisy, clean) tensors of ``size`` pairs."""
        noisy, clean = zip(*(self.pair() for _ in range(size)))
        return torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean))


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".pcm")


def _listing(path) -> dict[str, Path]:
    """File name -> path of a folder's audio files (searched recursively) or of facebook denoiser's JSON list
    ``[[path, samples], ...]``."""
    path = Path(path)
    if path.is_dir():
        files = [f for f in sorted(path.rglob("*")) if f.suffix.lower() in AUDIO_SUFFIXES]
    elif path.is_file():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            rows = None
        if not isinstance(rows, list) or not all(isinstance(row, list) and row and isinstance(row[0], str)
                                                 for row in rows):
            raise WorkbenchError(f"{path}: expected facebook denoiser's JSON list [[path, samples], ...]")
        files = [Path(row[0]) for row in rows]
    else:
        raise WorkbenchError(f"not found: {path}")
    return {f.name: f for f in files}


def pair_files(clean, noisy, log=print) -> list[tuple[Path, Path]]:
    """(noisy, clean) paths matched by file name; names found on one side only are reported in one line."""
    clean, noisy = _listing(clean), _listing(noisy)
    pairs = [(noisy[name], clean[name]) for name in sorted(set(clean) & set(noisy))]
    alone = len(set(clean) ^ set(noisy))
    if alone:
        log(f"{alone} files without their counterpart (clean and noisy are matched by file name): skipped")
    if not pairs:
        raise WorkbenchError("no clean/noisy pair: the two sides share no file name")
    return pairs


class FilePairs:
    """Random aligned segments of the user's (noisy, clean) files, at a random common level; files that
    cannot be read are reported once and left out."""

    def __init__(self, pairs, segment_s=2.0, seed=0, log=print):
        self.pairs, self.log = list(pairs), log
        self.rng = np.random.default_rng(seed)
        self.segment = int(segment_s * SAMPLE_RATE)
        self._cache = {}

    def _load(self, index):
        from .prepare import Skipped, read_audio
        if index not in self._cache:
            try:
                noisy, clean = (read_audio(path) for path in self.pairs[index])
                noisy, clean = (x.astype(np.float32) / (32768 if x.dtype == np.int16 else 1) for x in (noisy, clean))
                self._cache[index] = (noisy[:len(clean)], clean[:len(noisy)])
            except Skipped as reason:
                self.log(f"skipped {reason}")
                self._cache[index] = None
        return self._cache[index]

    def pair(self):
        loaded = None
        while loaded is None:
            if all(value is None for value in self._cache.values()) and len(self._cache) == len(self.pairs):
                raise WorkbenchError("none of the clean/noisy pairs could be read")
            loaded = self._load(int(self.rng.integers(len(self.pairs))))
        noisy, clean = loaded
        if len(clean) > self.segment:
            start = int(self.rng.integers(0, len(clean) - self.segment))
            noisy, clean = noisy[start:start + self.segment], clean[start:start + self.segment]
        else:
            noisy, clean = (np.pad(x, (0, self.segment - len(x))) for x in (noisy, clean))
        gain = self.rng.uniform(0.3, 1.5) * 0.5 / (np.abs(noisy).max() + 1e-9)
        return (noisy * gain).astype(np.float32), (clean * gain).astype(np.float32)

    def batch(self, size):
        noisy, clean = zip(*(self.pair() for _ in range(size)))
        return torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean))


def build_model(hidden=16, depth=5):
    from ..denoise.demucs import Demucs
    return Demucs.preset("bundled", hidden=hidden, depth=depth)


def train(data="runs/data", out="runs/denoiser", minutes=20.0, hidden=None, batch_size=16, segment=2.0, lr=1e-3,
          max_steps=-1, denoise_share=0, dry=DEFAULT_DRY, threads=1, seed=0, log=print, save_every_min=5.0,
          init=None, noise="fresh", asr_guide=None, guide_weight=1.0, kind_weights=None, clean=None, noisy=None):
    """Train for ``minutes`` (from scratch, or from the ``.th`` at ``init``), save ``out/denoiser.th``.

    ``hidden``: 16 from scratch; with ``init``, a larger value widens it first (:func:`.widen.widen`).

    ``kind_weights``: how often each noise kind is drawn (see :class:`PairSampler`).

    ``clean``, ``noisy``: train on these pairs (:func:`pair_files`, :class:`FilePairs`) instead of ``data``.

    ``asr_guide``: a ``.nemo`` recogniser whose posteriors on the denoised mix should match those
    on clean speech (:mod:`.asr_guide`), added to the loss with ``guide_weight``.
    """
    from ..denoise.checkpoint import load_demucs, save_package
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if clean and denoise_share:
        raise WorkbenchError("denoise_share writes synthetic training utterances: not with your own pairs")
    sampler = FilePairs(pair_files(clean, noisy, log), segment, seed, log) if clean else \
        PairSampler(data, segment, seed=seed, noise=noise, kind_weights=kind_weights)
    guide = None
    if asr_guide:
        from .asr_guide import ASRGuide
        guide = ASRGuide(asr_guide)
        log(f"guided by {asr_guide} (weight {guide_weight}, dry {guide.dry})")
    if init:
        model = load_demucs(init)
        log(f"continuing from {init}")
        if hidden and hidden != model.hidden:
            from .widen import widen
            model = widen(model, hidden, seed)
            log(f"widened to hidden {hidden}, computing what {init} computes")
    else:
        model = build_model(hidden or 16)
    log(f"denoiser parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M; "
        f"training {minutes} min on {threads} threads")
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    path = out / "denoiser.th"
    t0 = last_save = time.time()
    budget = minutes * 60
    step, losses, guide_losses, history = 0, [], [], []
    model.train()
    while True:
        elapsed = time.time() - t0
        if elapsed > budget or (max_steps > 0 and step >= max_steps):
            break
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))
        noisy, clean = sampler.batch(batch_size)
        estimate = model(noisy.unsqueeze(1))[:, 0]
        loss = loss_fn(estimate, clean)
        if guide:
            guide_loss = guide.loss(noisy, estimate, clean)
            guide_losses.append(guide_loss.item())
            loss = loss + guide_weight * guide_loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"denoiser loss is {loss.item()} at step {step}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            history.append((step, float(np.mean(losses)), (time.time() - t0) / 60))
            guided = f" (guide {np.mean(guide_losses):.4f})" if guide_losses else ""
            log(f"step {step} loss {np.mean(losses):.4f}{guided} lr {opt.param_groups[0]['lr']:.2e} "
                f"{(time.time() - t0) / 60:.1f} min")
            losses, guide_losses = [], []
        if time.time() - last_save > save_every_min * 60:
            save_package(model.eval(), path)
            model.train()
            last_save = time.time()
    model.eval()
    save_package(model, path)
    final = float(np.mean(losses)) if losses else (history[-1][1] if history else float("nan"))
    log(f"trained {(time.time() - t0) / 60:.1f} min, {step} steps, last loss {final:.4f}; saved {path} "
        f"({path.stat().st_size / 2**20:.2f} MiB)")
    if denoise_share:
        write_denoised(data, out, path, denoise_share, dry, seed, log)
    return path, step, final


def write_denoised(data, out, denoiser_path, n, dry=DEFAULT_DRY, seed=0, log=print):
    """Mix ``n`` training utterances with training noise (0-15 dB), denoise them at ``dry`` and
    write them with a manifest ``out/denoised.json`` for the ASR."""
    denoiser = load_denoiser(denoiser_path)
    data, out = Path(data), Path(out)
    rows, noises = full_band_rows(data), training_noises(data)
    rng = np.random.default_rng(seed + 11)
    folder = out / "denoised"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    t0 = time.time()
    for number, index in enumerate(rng.permutation(len(rows))[:n]):
        clean = sf.read(rows[index].audio, dtype="float32")[0]
        noisy = noise_mod.add_noise(clean, noises[int(rng.integers(len(noises)))], rng.uniform(0, 15), rng)
        mixed = denoiser.enhance(noisy, dry=dry)
        path = folder / f"{number:06d}.wav"
        write(path, mixed)
        entries.append(manifest.Entry(str(path), rows[index].text, len(mixed) / SAMPLE_RATE))
    manifest.write(out / "denoised.json", entries)
    log(f"wrote {len(entries)} denoised utterances (dry {dry}) in {(time.time() - t0) / 60:.1f} min -> {out / 'denoised.json'}")
    return out / "denoised.json"
