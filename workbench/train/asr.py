"""NeMo Conformer-CTC on a decomposed-jamo character vocabulary.

Transcripts are NFC Hangul; the model's labels are the 67 conjoining jamo
that ``unicodedata.normalize('NFD', ...)`` produces from Hangul syllables,
plus space. :func:`workbench.asr.hangul.compose` recomposes model output for display.

Training goes through NeMo's own path: jamo manifests -> ``EncDecCTCModel``
(parser ``base``, speed, room and noise augmentation from NeMo's ``perturb``) ->
Lightning ``Trainer``. It stops by wall-clock (``minutes``) and saves the
``.nemo`` regularly, so a run can't overrun and always leaves a model.

It trains on the synthetic data set or on prepared corpora (``train_manifests``, see :mod:`.prepare`),
and fine-tunes any CTC ``.nemo`` (``init``): a jamo model's weights go into the project's config (which
can make it cache-aware); any other character or BPE model is trained as it is, with its own labels or
tokenizer. Utterances with characters the model cannot emit are reported and left out. Lightning's own
accelerators, DDP and mixed precision run it on one CPU, one GPU or many.
"""
import math
import os
import time
import unicodedata
from collections import Counter
from datetime import timedelta
from pathlib import Path

from .. import manifest
from ..asr.config import JAMO_LABELS as LABELS  # 68: space + conjoining jamo
from ..asr.config import conformer_ctc_config
from ..audio import SAMPLE_RATE
from ..errors import WorkbenchError


def to_jamo(text: str) -> str:
    """NFD: Hangul syllables as conjoining jamo (the jamo model's labels)."""
    return unicodedata.normalize("NFD", text)


def jamo_labels(labels) -> bool:
    """Whether a character vocabulary is made of conjoining jamo (text is then decomposed to NFD)."""
    return any("\u1100" <= label <= "\u11ff" for label in labels)


class Vocabulary:
    """What a CTC model can emit. ``model`` None: a new jamo model. The model's text form is NFD for a jamo
    vocabulary, NFC otherwise; a character is unemittable when it is no label of a character model, or when
    a BPE model's tokenizer turns it into its unknown token."""

    def __init__(self, model=None):
        self.tokenizer = getattr(model, "tokenizer", None)
        self.labels = set(LABELS if model is None else model.decoder.vocabulary)
        self.jamo = self.tokenizer is None and jamo_labels(self.labels)
        self._unknown: dict[str, bool] = {}

    def form(self, text: str) -> str:
        return unicodedata.normalize("NFD" if self.jamo else "NFC", text)

    def unemittable(self, text: str) -> set[str]:
        if self.tokenizer is None:
            return set(text) - self.labels
        for character in set(text) - set(self._unknown) - {" "}:
            self._unknown[character] = self.tokenizer.unk_id in self.tokenizer.text_to_ids(character)
        return {character for character in set(text) - {" "} if self._unknown[character]}


def model_manifest(src, dst, vocabulary: Vocabulary, log=print) -> str | None:
    """Copy the manifest ``src`` to ``dst`` with its text in the model's form, leaving out (and reporting in one
    line) utterances whose audio is missing or whose text the model cannot emit; None when none is left.
    A missing or empty manifest is a :class:`WorkbenchError`."""
    if not Path(src).is_file():
        raise WorkbenchError(f"manifest not found: {src}")
    entries = manifest.read(src)
    if not entries:
        raise WorkbenchError(f"{src} has no utterances")
    kept, characters, unemittable_count, no_audio, first = [], Counter(), 0, 0, None
    for entry in entries:
        text = vocabulary.form(entry.text)
        unemittable = vocabulary.unemittable(text)
        if unemittable:
            characters.update(unemittable)
            unemittable_count += 1
            first = first or entry.audio
        elif not os.path.isfile(entry.audio):
            no_audio += 1
        else:
            duration = entry.duration if entry.duration is not None else _duration(entry.audio)
            kept.append(entry._replace(text=text, duration=duration))
    if characters:
        shown = ", ".join(f"{unicodedata.normalize('NFC', c)!r} x{n}" for c, n in characters.most_common(12))
        log(f"{src}: skipped {unemittable_count} of {len(entries)} utterances with characters the model cannot "
            f"emit ({shown}; first: {first})")
    if no_audio:
        log(f"{src}: skipped {no_audio} of {len(entries)} utterances whose audio file is missing")
    if not kept:
        return None
    tmp = Path(f"{dst}.{os.getpid()}.tmp")   # atomic: every DDP process writes the same file
    manifest.write(tmp, kept)
    os.replace(tmp, dst)
    return str(dst)


def _duration(path) -> float:
    import soundfile as sf
    return sf.info(path).duration


def config(train_manifest, val_manifest, noise_manifest=None, d_model=144, n_layers=8, n_heads=4, labels=LABELS,
           batch_size=16, lr_peak=3e-3, warmup=200, num_workers=1, noise_prob=0.6, speed_prob=0.3,
           min_snr=0.0, max_snr=20.0, max_duration=14.0, att_context_size=None, room_manifest=None, room_prob=0.3):
    """The project's Conformer-CTC config (``asr.config``) with NeMo's training sections: data sets and
    their augmentation, SpecAugment, AdamW + Noam. ``att_context_size`` makes it cache-aware streaming
    (unnormalized features); otherwise features are normalized per utterance, as the first recipe's.
    Augmentation runs in order: speed, a room from ``room_manifest`` (:func:`room_manifest`), then noise,
    so that the noise is not reverberated."""
    from omegaconf import OmegaConf
    augmentor = {}
    if speed_prob > 0:
        augmentor["soxr_speed"] = {"prob": speed_prob, "sr": SAMPLE_RATE,
                                   "min_speed_rate": 0.9, "max_speed_rate": 1.1, "num_rates": 5}
    if room_manifest and room_prob > 0:
        augmentor["impulse"] = {"prob": room_prob, "manifest_path": str(room_manifest), "shift_impulse": True}
    if noise_manifest and noise_prob > 0:
        augmentor["noise"] = {"prob": noise_prob, "manifest_path": str(noise_manifest),
                              "min_snr_db": min_snr, "max_snr_db": max_snr}
    ds = {"sample_rate": SAMPLE_RATE, "labels": list(labels), "parser": "base", "normalize_transcripts": False,
          "batch_size": batch_size, "num_workers": num_workers, "pin_memory": False, "trim_silence": False}
    model = conformer_ctc_config(list(labels), d_model=d_model, n_layers=n_layers, n_heads=n_heads, dropout=0.1,
                                 dither=1e-5, normalize="NA" if att_context_size else "per_feature",
                                 att_context_size=att_context_size)
    return OmegaConf.merge(model, {
        "use_cer": True,
        "train_ds": {**ds, "manifest_filepath": str(train_manifest), "shuffle": True,
                     "max_duration": max_duration, "min_duration": 0.3,
                     # batches of similar lengths: much less padding, ~half the step time here
                     "use_semi_sorted_batching": True, "randomization_factor": 0.1, "drop_last": False,
                     **({"augmentor": augmentor} if augmentor else {})},
        "validation_ds": {**ds, "manifest_filepath": str(val_manifest), "shuffle": False, "num_workers": 0},
        "spec_augment": {"_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
                         "freq_masks": 2, "time_masks": 5, "freq_width": 20, "time_width": 0.05},
        # Noam: lr(step) = lr * d^-0.5 * min(step^-0.5, step * warmup^-1.5); peak at step == warmup
        "optim": {"name": "adamw", "lr": lr_peak * math.sqrt(d_model * warmup), "betas": [0.9, 0.98],
                  "weight_decay": 1e-3,
                  "sched": {"name": "NoamAnnealing", "d_model": d_model, "warmup_steps": warmup, "min_lr": 1e-5}},
    })


def room_manifest(folder, count, seed=0, log=print) -> Path:
    """``count`` room impulse responses (:func:`.channel.room_impulse`, RT60 uniform in
    ``channel.TRAINING_RT60``) as wav files and ``folder/rooms.json``, for NeMo's ``impulse``
    perturbation; kept when ``count`` are already there.
    Their generator is seeded with four numbers, so that no evaluation room (seeded with three) recurs."""
    import numpy as np
    import soundfile as sf

    from . import channel
    folder = Path(folder)
    path = folder / "rooms.json"
    if path.exists() and len(manifest.read(path)) == count:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rng, entries, t0 = np.random.default_rng((seed, 0, 0, 0)), [], time.time()
    for number in range(count):
        rir = channel.room_impulse(rng, float(rng.uniform(*channel.TRAINING_RT60)))
        sf.write(folder / f"room{number:04d}.wav", rir, SAMPLE_RATE)
        entries.append(manifest.Entry(f"room{number:04d}.wav", "", len(rir) / SAMPLE_RATE))
    manifest.write(path, entries)
    log(f"{count} room impulse responses in {time.time() - t0:.0f} s")
    return path


def transfer_weights(model, source, feature_stats=None, log=print):
    """Load ``source`` (a trained ``EncDecCTCModel``) into ``model``, whose encoder may be cache-aware.

    Same-shaped tensors are copied. Causal subsampling pads the frequency axis by one more bin, so its
    output projection has one more input bin per channel: old bin f goes to new bin f + 1 (the causal
    kernels' centres sit about one output bin lower), the new bin 0 starts at zero. If the source
    normalized its features per utterance and ``model`` does not, the first convolution absorbs the
    global mean m and scale s of the unnormalized log-mel features (``feature_stats``): w/s and
    b - m·Σw/s, so its first layer starts near the inputs it knew. Centred depthwise convolution kernels
    (taps t-15..t+15) become causal ones (t-30..t) without a time shift: the past and present taps keep
    their frames, the future taps are added to the present one.
    """
    import torch
    old, new = source.state_dict(), model.state_dict()
    missing, unexpected = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    reshaped = []
    for key, target in new.items():
        if key not in old:
            continue
        weight = old[key]
        if key.endswith("conv.depthwise_conv.weight") and _causal(model) and not _causal(source):
            centre = weight.shape[-1] // 2
            new[key] = torch.zeros_like(weight)
            new[key][..., centre:] = weight[..., :centre + 1]
            new[key][..., -1] += weight[..., centre + 1:].sum(-1)
            reshaped.append(key)
        elif weight.shape == target.shape:
            new[key] = weight.clone()
        elif key.endswith("pre_encode.out.weight"):
            channels = model.encoder.pre_encode.conv[0].out_channels
            bins_old, bins_new = weight.shape[1] // channels, target.shape[1] // channels
            grid = torch.zeros(target.shape[0], channels, bins_new)
            grid[:, :, bins_new - bins_old:] = weight.view(weight.shape[0], channels, bins_old)
            new[key] = grid.view_as(target)
            reshaped.append(key)
        else:
            raise ValueError(f"{key}: {tuple(weight.shape)} in the source, {tuple(target.shape)} here")
    if source.cfg.preprocessor.normalize != model.cfg.preprocessor.normalize:
        mean, std = feature_stats
        prefix = "encoder.pre_encode.conv.0."
        weight = new[prefix + "weight"]
        new[prefix + "bias"] = new[prefix + "bias"] - mean / std * weight.sum(dim=(1, 2, 3))
        new[prefix + "weight"] = weight / std
        log(f"first convolution rescaled for unnormalized features (mean {mean:.2f}, std {std:.2f})")
    model.load_state_dict(new, strict=True)
    log(f"weights from the source: missing {missing}, unexpected {unexpected}, remapped {len(reshaped)}: "
        f"{sorted({key.split('.', 3)[-1] if key.startswith('encoder.layers') else key for key in reshaped})}")


def average(first, second, out, weight=0.5, log=print) -> Path:
    """Write ``out``: ``first``'s model with weights ``weight·θ_first + (1 − weight)·θ_second``.

    A weight-space ensemble of a model and its fine-tune (WiSE-FT, Wortsman et al., 2022): the
    interpolation between the two often keeps most of what the fine-tune learned on new data and most
    of what the original knew. Both must have the same architecture and labels; integer buffers (batch
    counters) are taken from ``first``.
    """
    import torch
    from nemo.collections.asr.models import EncDecCTCModel
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight {weight} is not in [0, 1]")
    model = EncDecCTCModel.restore_from(str(first), map_location="cpu")
    other = EncDecCTCModel.restore_from(str(second), map_location="cpu")
    if list(model.decoder.vocabulary) != list(other.decoder.vocabulary):
        raise ValueError(f"{first} and {second} have different labels")
    mine, theirs = model.state_dict(), other.state_dict()
    mismatched = sorted(key for key in set(mine) | set(theirs)
                        if key not in mine or key not in theirs or mine[key].shape != theirs[key].shape)
    if mismatched:
        raise ValueError(f"{first} and {second} differ in architecture: {mismatched[:3]}")
    model.load_state_dict({key: torch.lerp(theirs[key], value, weight) if value.is_floating_point() else value
                           for key, value in mine.items()}, strict=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    log(f"wrote {out}: {weight:g} x {first} + {1 - weight:g} x {second}")
    return out


def _causal(model) -> bool:
    return model.cfg.encoder.get("conv_context_size") == "causal"


def feature_stats(model, manifest_path, files=64):
    """Mean and standard deviation of ``model``'s (unnormalized) log-mel features over ``files`` files of
    the manifest."""
    import soundfile as sf
    import torch
    values = []
    model.preprocessor.eval()
    with torch.no_grad():
        for entry in manifest.read(manifest_path)[:files]:
            audio = torch.tensor(sf.read(entry.audio, dtype="float32")[0])[None]
            features, _ = model.preprocessor(input_signal=audio, length=torch.tensor([audio.shape[1]]))
            values.append(features.flatten())
    values = torch.cat(values)
    return float(values.mean()), float(values.std())


def register_speed_perturbation():
    """NeMo's ``speed`` perturbation with soxr resampling: its 'fft' path takes ~1 s per utterance on CPU."""
    from nemo.collections.asr.parts.preprocessing import perturb

    class SoxrSpeedPerturbation(perturb.SpeedPerturbation):
        def __init__(self, sr, min_speed_rate=0.9, max_speed_rate=1.1, num_rates=5, rng=None):
            super().__init__(sr, "fft", min_speed_rate, max_speed_rate, num_rates, rng)
            self._res_type = "soxr_hq"

    if "soxr_speed" not in perturb.perturbation_types:
        perturb.register_perturbation("soxr_speed", SoxrSpeedPerturbation)


CURVE_COLUMNS = ("step", "minutes", "train_loss", "lr", "val_loss", "val_cer")


def _callbacks(out_path: Path, save_every_min: float, log_every: int, log):
    from lightning.pytorch import Callback
    curves = out_path.with_name("curves.csv")

    class Progress(Callback):
        """Plain-text progress, the training curves (``curves.csv``: mean training loss every ``log_every``
        steps, validation loss and CER at each validation) and a regular ``.nemo`` save (atomic rename)."""

        def __init__(self):
            self.t0 = self.last_save = time.time()
            self.losses = []
            self.writes = False

        def on_fit_start(self, trainer, module):
            self.writes = trainer.is_global_zero   # under DDP, one process writes the curves and saves
            if self.writes:
                with open(curves, "w") as f:
                    f.write(",".join(CURVE_COLUMNS) + "\n")

        def _row(self, **values):
            if not self.writes:
                return
            values.update(minutes=f"{(time.time() - self.t0) / 60:.2f}")
            with open(curves, "a") as f:
                f.write(",".join(str(values.get(c, "")) for c in CURVE_COLUMNS) + "\n")

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            if loss is not None:
                self.losses.append(float(loss))
            step = trainer.global_step
            if step % log_every == 0 and self.losses and self.writes:
                lr = trainer.optimizers[0].param_groups[0]["lr"]
                mean = sum(self.losses) / len(self.losses)
                log(f"step {step} loss {mean:.3f} lr {lr:.2e} {(time.time() - self.t0) / 60:.1f} min")
                self._row(step=step, train_loss=f"{mean:.4f}", lr=f"{lr:.3e}")
                self.losses = []
            if self.writes and time.time() - self.last_save > save_every_min * 60:
                save(module, out_path)
                self.last_save = time.time()
                log(f"saved {out_path} at step {step}")

        def on_validation_end(self, trainer, module):
            if not self.writes:
                return
            m = {k: float(v) for k, v in trainer.callback_metrics.items() if "val" in k}
            log(f"validation step {trainer.global_step}: {m}")
            if "val_loss" in m:   # use_cer: NeMo's val_wer is the character error rate (on jamo)
                self._row(step=trainer.global_step, val_loss=f"{m['val_loss']:.4f}", val_cer=f"{m.get('val_wer', math.nan):.4f}")

    return [Progress()]


def save(model, path):
    tmp = Path(str(path) + ".tmp")
    model.save_to(str(tmp))
    os.replace(tmp, path)


def train(data="runs/data", out="runs/asr", minutes=60.0, threads=2, init=None, extra_manifests=(),
          train_manifests=(), val_manifest=None, noise_manifest=None, accelerator="auto", devices=1, num_nodes=1,
          precision="32", max_steps=-1, val_every=1000, save_every_min=10.0, log_every=50, seed=0, rooms=0, log=print,
          **cfg_kwargs):
    """Train (or, with ``init``, fine-tune) and return the path of the saved ``.nemo``.

    Training data: ``train_manifests`` (prepared corpora; validation on ``val_manifest``), else the synthetic
    set in ``data``; ``extra_manifests`` add to either. Noise augmentation uses ``noise_manifest`` (default: the
    synthetic set's noise, none for corpora). ``init``: a jamo model's weights go into the project's config
    (:func:`transfer_weights`; the sizes are the init's); any other CTC model (character or BPE) is
    fine-tuned as it is (:func:`_fine_tune_as_is`). ``rooms`` > 0 convolves a share (``room_prob``) of the
    training utterances with one of that many fresh rooms, drawn anew each time. ``accelerator``, ``devices``,
    ``num_nodes`` and ``precision`` go to Lightning's ``Trainer`` (DDP when more than one process)."""
    import torch
    torch.set_num_threads(threads)
    import lightning.pytorch as pl
    from nemo.collections.asr.models import EncDecCTCModel

    from ..asr import load_transcriber

    if os.environ.get("LOCAL_RANK", "0") != "0":   # a DDP worker Lightning started: rank 0 reports
        def log(line):
            pass
    register_speed_perturbation()
    pl.seed_everything(seed)
    data, out = Path(data).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sources = [Path(m) for m in train_manifests] or [data / "asr_train.json"]
    sources += [Path(m) for m in extra_manifests]
    if noise_manifest is None and not train_manifests:
        noise_manifest = data / "noise_train.json"
    elif noise_manifest is not None and not Path(noise_manifest).is_file():
        raise WorkbenchError(f"noise manifest not found: {noise_manifest}")
    source = load_transcriber(init, lm=False).model if init else None
    if source is not None:
        _saves_artifacts_from(source, init)
    as_is = source is not None and (getattr(source, "tokenizer", None) is not None
                                    or list(source.decoder.vocabulary) != LABELS)
    if as_is and cfg_kwargs.get("att_context_size"):
        raise WorkbenchError(f"--streaming converts a jamo-vocabulary model; {init} has other labels")
    vocabulary = Vocabulary(source if as_is else None)
    form = "jamo" if vocabulary.jamo else "text"
    train_paths = [path for number, src in enumerate(sources)
                   if (path := model_manifest(src, out / f"train{number}_{form}.json", vocabulary, log))]
    val = model_manifest(val_manifest or data / "asr_val.json", out / f"val_{form}.json", vocabulary, log)
    if not train_paths or not val:
        raise WorkbenchError(f"no {'training' if not train_paths else 'validation'} utterance left that the "
                             "model can emit")
    if source is not None:
        encoder = source.cfg.encoder
        cfg_kwargs.update(d_model=encoder.d_model, n_layers=encoder.n_layers, n_heads=encoder.n_heads)
    if rooms:
        cfg_kwargs["room_manifest"] = room_manifest(out / "rooms", rooms, seed, log=log)
    if as_is and vocabulary.tokenizer is None:
        cfg_kwargs["labels"] = list(source.decoder.vocabulary)
    cfg = config(train_paths[0], val, noise_manifest, **cfg_kwargs)
    # NeMo takes a list of manifests as a list
    cfg.train_ds.manifest_filepath = train_paths if len(train_paths) > 1 else train_paths[0]
    trainer = _trainer(pl, accelerator=accelerator, devices=devices, num_nodes=num_nodes, precision=precision,
                       max_steps=max_steps if max_steps > 0 else 10**7, max_epochs=-1 if max_steps <= 0 else None,
                       max_time=timedelta(minutes=minutes), logger=False, enable_checkpointing=False,
                       enable_progress_bar=False, val_check_interval=val_every, check_val_every_n_epoch=None,
                       num_sanity_val_steps=0, gradient_clip_val=1.0, log_every_n_steps=log_every,
                       callbacks=_callbacks(out / "asr.nemo", save_every_min, log_every, log))
    if as_is:
        model = _fine_tune_as_is(source, cfg, trainer)
        log(f"fine-tuning {init} as it is ({type(source).__name__}, {len(vocabulary.labels)} labels)")
    else:
        model = EncDecCTCModel(cfg=cfg, trainer=trainer)
        if source is not None:
            stats = None
            if source.cfg.preprocessor.normalize != cfg.preprocessor.normalize:
                stats = feature_stats(model, sources[0])
            transfer_weights(model, source, stats, log)
            log(f"initialised from {init}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"ASR parameters: {n_params / 1e6:.2f} M; training {minutes} min on {threads} threads, "
        f"{trainer.num_devices} {type(trainer.accelerator).__name__.removesuffix('Accelerator')} device(s) "
        f"x {trainer.num_nodes} node(s), precision {trainer.precision}")
    t0 = time.time()
    trainer.fit(model)
    path = out / "asr.nemo"
    if trainer.is_global_zero:
        save(model, path)
        log(f"trained {(time.time() - t0) / 60:.1f} min, {trainer.global_step} steps "
            f"({trainer.global_step / (time.time() - t0):.2f} steps/s); saved {path} "
            f"({path.stat().st_size / 2**20:.1f} MiB)")
    return path


def _saves_artifacts_from(model, archive_path):
    """Let ``model`` (restored from an extracted copy, now gone) save its artifacts (a tokenizer) by reading
    them from the ``.nemo`` it came from, as a model restored by NeMo itself does."""
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector
    from nemo.utils.app_state import AppState
    model._save_restore_connector = SaveRestoreConnector()
    AppState().register_model_guid(model.model_guid, restoration_path=str(Path(archive_path).resolve()))


def _trainer(pl, **settings):
    """Lightning's ``Trainer``, with DDP (Lightning's own) when it runs more than one process; hardware it
    cannot use is a :class:`WorkbenchError`."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    distributed = settings["devices"] * settings["num_nodes"] > 1
    try:
        return pl.Trainer(strategy="ddp" if distributed else "auto", **settings)
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        raise WorkbenchError(f"--accelerator {settings['accelerator']} --devices {settings['devices']} "
                             f"--precision {settings['precision']}: {str(error).splitlines()[0]}") from None


def _fine_tune_as_is(model, cfg, trainer):
    """``model`` (a restored character or BPE CTC model) set up to train on ``cfg``'s data sets, optimiser and
    SpecAugment; its architecture, features and labels or tokenizer stay its own."""
    from omegaconf import open_dict
    with open_dict(model.cfg):
        for key in ("train_ds", "validation_ds", "optim"):
            model.cfg[key] = cfg[key]
        if getattr(model, "tokenizer", None) is not None:   # a BPE data set reads the tokenizer, not labels
            for key in ("train_ds", "validation_ds"):
                model.cfg[key].pop("labels")
                model.cfg[key].pop("parser")
        if model.spec_augmentation is None:
            model.cfg.spec_augment = cfg.spec_augment
            model.spec_augmentation = model.from_config_dict(cfg.spec_augment)
    model.set_trainer(trainer)
    model.setup_training_data(model.cfg.train_ds)
    model.setup_validation_data(model.cfg.validation_ds)
    model.wer.use_cer = True
    return model.train()   # restored for inference in eval mode; Lightning keeps the mode it finds
