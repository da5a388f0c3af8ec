"""NeMo Conformer-CTC on a decomposed-jamo character vocabulary.

Transcripts are NFC Hangul; the model's labels are the 67 conjoining jamo
that ``unicodedata.normalize('NFD', ...)`` produces from Hangul syllables,
plus space. :func:`workbench.asr.hangul.compose` recomposes model output for display.

Training goes through NeMo's own path: jamo manifests -> ``EncDecCTCModel``
(parser ``base``, speed + noise augmentation from NeMo's ``perturb``) ->
Lightning ``Trainer``. It stops by wall-clock (``minutes``) and saves the
``.nemo`` regularly, so a run can't overrun and always leaves a model.
"""
import json
import math
import os
import time
import unicodedata
from datetime import timedelta
from pathlib import Path

from ..asr.config import JAMO_LABELS as LABELS  # 68: space + conjoining jamo


def to_jamo(text: str) -> str:
    out = unicodedata.normalize("NFD", text)
    return "".join(c for c in out if c in _LABEL_SET)


_LABEL_SET = set(LABELS)


def jamo_manifest(src, dst):
    """Copy a NeMo manifest with its ``text`` decomposed to jamo."""
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row["text"] = to_jamo(row["text"])
                g.write(json.dumps(row, ensure_ascii=False) + "\n")
    return str(dst)


def config(train_manifest, val_manifest, noise_manifest=None, d_model=144, n_layers=8, n_heads=4,
           batch_size=16, lr_peak=3e-3, warmup=200, num_workers=1, noise_prob=0.6, speed_prob=0.3,
           min_snr=0.0, max_snr=20.0, max_duration=14.0):
    augmentor = {}
    if speed_prob > 0:
        augmentor["soxr_speed"] = {"prob": speed_prob, "sr": 16000,
                                   "min_speed_rate": 0.9, "max_speed_rate": 1.1, "num_rates": 5}
    if noise_manifest and noise_prob > 0:
        augmentor["noise"] = {"prob": noise_prob, "manifest_path": str(noise_manifest),
                              "min_snr_db": min_snr, "max_snr_db": max_snr}
    ds = {"sample_rate": 16000, "labels": LABELS, "parser": "base", "normalize_transcripts": False,
          "batch_size": batch_size, "num_workers": num_workers, "pin_memory": False, "trim_silence": False}
    return {
        "sample_rate": 16000,
        "labels": LABELS,
        "use_cer": True,
        "train_ds": {**ds, "manifest_filepath": str(train_manifest), "shuffle": True,
                     "max_duration": max_duration, "min_duration": 0.3,
                     # batches of similar lengths: much less padding, ~half the step time here
                     "use_semi_sorted_batching": True, "randomization_factor": 0.1, "drop_last": False,
                     **({"augmentor": augmentor} if augmentor else {})},
        "validation_ds": {**ds, "manifest_filepath": str(val_manifest), "shuffle": False, "num_workers": 0},
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "sample_rate": 16000, "normalize": "per_feature", "window_size": 0.025,
                         "window_stride": 0.01, "window": "hann", "features": 80, "n_fft": 512,
                         "log": True, "frame_splicing": 1, "dither": 1e-5, "pad_to": 0, "pad_value": 0.0},
        "spec_augment": {"_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
                         "freq_masks": 2, "time_masks": 5, "freq_width": 20, "time_width": 0.05},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": 80, "feat_out": -1,
                    "n_layers": n_layers, "d_model": d_model, "subsampling": "dw_striding",
                    "subsampling_factor": 4, "subsampling_conv_channels": -1, "ff_expansion_factor": 4,
                    "self_attention_model": "rel_pos", "n_heads": n_heads, "conv_kernel_size": 31,
                    "dropout": 0.1, "dropout_pre_encoder": 0.1, "dropout_emb": 0.0, "dropout_att": 0.1},
        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": d_model,
                    "num_classes": len(LABELS), "vocabulary": LABELS},
        # Noam: lr(step) = lr * d^-0.5 * min(step^-0.5, step * warmup^-1.5); peak at step == warmup
        "optim": {"name": "adamw", "lr": lr_peak * math.sqrt(d_model * warmup), "betas": [0.9, 0.98],
                  "weight_decay": 1e-3,
                  "sched": {"name": "NoamAnnealing", "d_model": d_model, "warmup_steps": warmup, "min_lr": 1e-5}},
    }


def register_speed_perturbation():
    """NeMo's ``speed`` perturbation with soxr resampling: its 'fft' path takes ~1 s per utterance on CPU."""
    from nemo.collections.asr.parts.preprocessing import perturb

    class SoxrSpeedPerturbation(perturb.SpeedPerturbation):
        def __init__(self, sr, min_speed_rate=0.9, max_speed_rate=1.1, num_rates=5, rng=None):
            super().__init__(sr, "fft", min_speed_rate, max_speed_rate, num_rates, rng)
            self._res_type = "soxr_hq"

    if "soxr_speed" not in perturb.perturbation_types:
        perturb.register_perturbation("soxr_speed", SoxrSpeedPerturbation)


def _callbacks(out_path: Path, save_every_min: float, log_every: int, log):
    from lightning.pytorch import Callback

    class Progress(Callback):
        """Plain-text progress and a regular ``.nemo`` save (atomic rename)."""

        def __init__(self):
            self.t0 = self.last_save = time.time()
            self.losses = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            if loss is not None:
                self.losses.append(float(loss))
            step = trainer.global_step
            if step % log_every == 0 and self.losses:
                lr = trainer.optimizers[0].param_groups[0]["lr"]
                mean = sum(self.losses) / len(self.losses)
                log(f"step {step} loss {mean:.3f} lr {lr:.2e} {(time.time() - self.t0) / 60:.1f} min")
                self.losses = []
            if time.time() - self.last_save > save_every_min * 60:
                save(module, out_path)
                self.last_save = time.time()
                log(f"saved {out_path} at step {step}")

        def on_validation_end(self, trainer, module):
            m = {k: float(v) for k, v in trainer.callback_metrics.items() if "val" in k}
            log(f"validation step {trainer.global_step}: {m}")

    return [Progress()]


def save(model, path):
    tmp = Path(str(path) + ".tmp")
    model.save_to(str(tmp))
    os.replace(tmp, path)


def train(data="runs/data", out="runs/asr", minutes=60.0, threads=2, init=None, extra_manifests=(),
          max_steps=-1, val_every=1000, save_every_min=10.0, log_every=50, seed=0, log=print, **cfg_kwargs):
    """Train (or, with ``init``, continue training) and return the path of the saved ``.nemo``."""
    import torch
    torch.set_num_threads(threads)
    import lightning.pytorch as pl
    from omegaconf import OmegaConf
    from nemo.collections.asr.models import EncDecCTCModel

    register_speed_perturbation()
    pl.seed_everything(seed)
    data, out = Path(data).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_manifests = [jamo_manifest(data / "asr_train.json", out / "train_jamo.json")]
    for i, m in enumerate(extra_manifests):
        train_manifests.append(jamo_manifest(m, out / f"extra{i}_jamo.json"))
    val = jamo_manifest(data / "asr_val.json", out / "val_jamo.json")
    cfg = OmegaConf.create(config(",".join(train_manifests), val, data / "noise_train.json", **cfg_kwargs))
    # NeMo takes a list of manifests as a list
    cfg.train_ds.manifest_filepath = train_manifests if len(train_manifests) > 1 else train_manifests[0]

    trainer = pl.Trainer(accelerator="auto", devices=1, max_steps=max_steps if max_steps > 0 else 10**7,
                         max_epochs=-1 if max_steps <= 0 else None,
                         max_time=timedelta(minutes=minutes), logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, val_check_interval=val_every, check_val_every_n_epoch=None,
                         num_sanity_val_steps=0, gradient_clip_val=1.0, log_every_n_steps=log_every,
                         callbacks=_callbacks(out / "asr.nemo", save_every_min, log_every, log))
    if init:
        model = EncDecCTCModel.restore_from(str(init), map_location="cpu")
        model.set_trainer(trainer)
        with open_dict(model.cfg):
            model.cfg.train_ds = cfg.train_ds
            model.cfg.validation_ds = cfg.validation_ds
            model.cfg.optim = cfg.optim
        model.setup_training_data(model.cfg.train_ds)
        model.setup_validation_data(model.cfg.validation_ds)
        model.setup_optimization(model.cfg.optim)
    else:
        model = EncDecCTCModel(cfg=cfg, trainer=trainer)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"ASR parameters: {n_params / 1e6:.2f} M; training {minutes} min on {threads} threads")
    t0 = time.time()
    trainer.fit(model)
    path = out / "asr.nemo"
    save(model, path)
    log(f"trained {(time.time() - t0) / 60:.1f} min, {trainer.global_step} steps; saved {path} "
        f"({path.stat().st_size / 2**20:.1f} MiB)")
    return path


def open_dict(cfg):
    from omegaconf import open_dict as _open_dict
    return _open_dict(cfg)
