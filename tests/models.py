"""Tiny models and test audio built on the fly, so tests never need downloaded weights or data."""
import tarfile
from pathlib import Path

import numpy as np
import torch

from workbench.asr.config import JAMO_LABELS, conformer_ctc_config
from workbench.denoise import Demucs, save_package

TINY_DEMUCS = {"hidden": 4, "depth": 3, "kernel_size": 8, "stride": 4, "resample": 4}
TINY_CONFORMER = {"d_model": 32, "n_layers": 2, "n_heads": 2, "features": 40}


def tiny_demucs(seed: int = 0, **overrides) -> Demucs:
    torch.manual_seed(seed)
    return Demucs(**{**TINY_DEMUCS, **overrides}).eval()


def save_demucs_layouts(model: Demucs, folder: Path) -> dict[str, Path]:
    """The same weights in facebook's three layouts: bare state_dict, package, training checkpoint."""
    from omegaconf import OmegaConf

    paths = {name: folder / f"{name}.th" for name in ("state_dict", "package", "training")}
    torch.save(model.state_dict(), paths["state_dict"])
    save_package(model, paths["package"])
    config = OmegaConf.create({"lr": 3e-4, "demucs": {"hidden": model.hidden}, "dset": {"train": "x"}})
    best = {key: value.clone() for key, value in model.state_dict().items()}
    stale = {key: torch.zeros_like(value) for key, value in model.state_dict().items()}
    stale_model = Demucs(**model.init_kwargs)
    stale_model.load_state_dict(stale)
    save_package(stale_model, paths["training"], training={
        "best_state": best, "args": config, "history": [{"train": 0.1, "valid": 0.2}], "optimizer": {}})
    return paths


def tiny_char_ctc(path: Path, seed: int = 0) -> Path:
    from nemo.collections.asr.models import EncDecCTCModel

    torch.manual_seed(seed)
    EncDecCTCModel(cfg=conformer_ctc_config(JAMO_LABELS, **TINY_CONFORMER)).save_to(str(path))
    return path


def tiny_bpe_ctc(path: Path, seed: int = 0) -> Path:
    import sentencepiece
    from nemo.collections.asr.models import EncDecCTCModelBPE

    folder = path.parent / "tokenizer"
    folder.mkdir(exist_ok=True)
    text = folder / "text.txt"
    text.write_text("\n".join(["안녕하세요 반갑습니다", "오늘 날씨가 좋네요", "지하철 역이 어디에 있나요",
                               "커피 한 잔 주세요", "전화 연결해 주세요"] * 20), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(text), model_prefix=str(folder / "tokenizer"),
                                             vocab_size=60, model_type="bpe", character_coverage=1.0)
    vocab = [line.split("\t")[0] for line in (folder / "tokenizer.vocab").read_text("utf-8").splitlines()]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    torch.manual_seed(seed)
    EncDecCTCModelBPE(cfg=conformer_ctc_config(tokenizer_dir=str(folder), **TINY_CONFORMER)).save_to(str(path))
    return path


def non_ctc_nemo(path: Path) -> Path:
    """A .nemo archive whose config declares an RNN-T model."""
    config = path.parent / "model_config.yaml"
    config.write_text("target: nemo.collections.asr.models.rnnt_models.EncDecRNNTModel\nsample_rate: 16000\n")
    with tarfile.open(path, "w") as archive:
        archive.add(config, arcname="model_config.yaml")
    return path


def speechlike(seconds: float, seed: int = 0, rate: int = 16000) -> np.ndarray:
    """Bursts of harmonic tones separated by pauses: deterministic, speech-shaped test audio."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 0.7 * t) > -0.2).astype(np.float32)
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / rate) / k for k in range(1, 6))
    return (0.2 * envelope * voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


class RecordingTranscriber:
    """Stands in for a Transcriber: its streamer keeps what it is fed and the options it was made with."""

    latency_s = 0.0

    def __init__(self):
        self.fed = []

    def streamer(self, config, **options):
        self.options = {"config": config, **options}
        return self

    def feed(self, chunk):
        self.fed.append(np.array(chunk))
        return []

    def flush(self):
        return []

    @property
    def audio(self):
        return np.concatenate(self.fed)


def bundled_engine(dry: float = 0.05):
    """The bundled models behind a service, as ``python -m workbench serve`` loads them."""
    from workbench import load_denoiser, load_transcriber, paths
    from workbench.serve.engine import Engine

    return Engine(load_transcriber(paths.DEFAULT_ASR), load_denoiser(paths.DEFAULT_DENOISER), dry=dry)
