"""A NeMo CTC model (character or BPE) wrapped for offline and streaming use, with an optional label LM."""
import contextlib
import io
import logging
import tarfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..audio import SAMPLE_RATE, check_audio, check_rate, resample
from ..devices import resolve_device
from ..errors import CheckpointError
from ..quantize import quantize_linear
from . import archive, silence
from .cache_aware import CacheAwareStream, trained_for_cache_aware
from .ctc import GreedySearch, PrefixBeamSearch, Segment
from .hangul import compose
from .live_mode import REDECODES, LiveModeStream, Redecodes, live_streamer
from .lm import LabelLM, lm_beside
from .stream import ENDPOINT_S, CTCStream, StreamConfig, TranscriptEvent
from .words import Word, segment_words

CTC_CLASSES = ("EncDecCTCModel", "EncDecCTCModelBPE")


class Transcriber:
    """CTC transcription of 16 kHz mono audio; knows nothing of widgets.

    Decoding is greedy, or a prefix beam search fused with ``lm`` (a
    :class:`~.lm.LabelLM` over the model's labels) when one is given.
    """

    def __init__(self, model, device: str = "cpu", name: str = "ctc", lm: LabelLM | None = None,
                 beam: int = 16, companion: "Transcriber | None" = None):
        self.model = model.eval()
        self.companion = companion  # the low-latency model of the live mode (see :mod:`.live_mode`)
        self.device = device
        self.name = name
        self.lm, self.beam = lm, beam
        cfg = model.cfg.preprocessor
        self.model_rate = check_rate(model.cfg.get("sample_rate", cfg.get("sample_rate", SAMPLE_RATE)))
        hop = round(float(cfg.get("window_stride", 0.01)) * self.model_rate)
        self.frame_samples = hop * int(model.encoder.subsampling_factor) * SAMPLE_RATE // self.model_rate
        self.blank = int(model.decoder.num_classes_with_blank) - 1

    @property
    def frame_s(self) -> float:
        """Duration of one output frame (feature hop times encoder subsampling)."""
        return self.frame_samples / SAMPLE_RATE

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @torch.no_grad()
    def log_probs(self, audio: np.ndarray) -> np.ndarray:
        """Per-frame log-probabilities (frames, vocabulary + blank) of ``audio``."""
        audio = resample(check_audio(audio), SAMPLE_RATE, self.model_rate)
        self.model.eval()  # NeMo's own transcribe() leaves submodules in training mode
        signal = torch.from_numpy(audio).to(self.device).unsqueeze(0)
        length = torch.tensor([signal.shape[1]], device=self.device)
        features, feature_length = self.model.preprocessor(input_signal=signal, length=length)
        encoded, encoded_length = self.model.encoder(audio_signal=features, length=feature_length)
        scores = self.model.decoder(encoder_output=encoded)[0, :int(encoded_length[0])].float().cpu().numpy()
        return silence.gate(self.model, audio, scores, self.blank)

    def text(self, tokens: list[int]) -> str:
        """Token ids -> display text (decomposed jamo composed into syllables, see :mod:`.hangul`;
        words separated by one space)."""
        text = self.model.decoding.decode_ids_to_str(list(tokens)) if tokens else ""
        return " ".join(compose(text).split())

    def search(self, use_lm: bool = True) -> GreedySearch | PrefixBeamSearch:
        """A fresh frame-by-frame search: beam search with the LM when there is one, else greedy."""
        if use_lm and self.lm is not None:
            return PrefixBeamSearch(self.blank, self.lm, self.lm.weight, self.lm.bonus, self.beam)
        return GreedySearch(self.blank)

    def segment(self, log_probs: np.ndarray, use_lm: bool = True) -> Segment:
        """The best hypothesis of (frames, labels) log-probabilities, holding them."""
        search = self.search(use_lm)
        for index, scores in enumerate(log_probs):
            search.push(index, scores)
        return replace(search.best(), log_probs=log_probs)

    def decode(self, log_probs: np.ndarray, use_lm: bool = True) -> str:
        """Text of (frames, labels) log-probabilities."""
        return self.text(self.segment(log_probs, use_lm).tokens)

    def transcribe(self, audio: np.ndarray, use_lm: bool = True) -> str:
        """Offline transcript of the whole signal."""
        return self.decode(self.log_probs(audio), use_lm)

    def transcribe_words(self, audio: np.ndarray, use_lm: bool = True) -> tuple[Word, ...]:
        """Offline words of the whole signal with their times (see :mod:`.words`); joined by
        spaces, their texts are :meth:`transcribe`'s."""
        return segment_words(self, self.segment(self.log_probs(audio), use_lm))

    @property
    def cache_aware(self) -> bool:
        """Whether the model was trained for cache-aware streaming (see :mod:`.cache_aware`)."""
        return trained_for_cache_aware(self.model)

    def streamer(self, config: StreamConfig | None = None, endpoint_s: float = ENDPOINT_S, use_lm: bool = True,
                 cache_aware: bool | None = None,
                 redecodes: Redecodes = REDECODES) -> CTCStream | CacheAwareStream | LiveModeStream:
        """An incremental decoder: ``feed(chunk) -> events``, ``flush() -> events``.

        By default, with a low-latency ``companion`` (see :func:`load_transcriber`), the live mode
        (:mod:`.live_mode`: fast partials, voice-activity endpoints, full-context finals). Otherwise,
        or given a ``config`` or ``cache_aware``: ``cache_aware=None`` chooses from the model's
        config: a model trained for it streams cache-aware (:mod:`.cache_aware`: each frame computed
        once, chunks fixed by the model), any other buffered (:mod:`.stream`: chunks and contexts as
        ``config`` says, default :class:`StreamConfig`). ``False`` forces buffered streaming; ``True``
        requires a cache-aware model. ``endpoint_s``: the blank that closes a segment (not the live mode's);
        ``redecodes``: how often the live mode re-decodes its partials.
        """
        if config is None and cache_aware is None and self.companion is not None:
            return live_streamer(self, self.companion, use_lm, redecodes=redecodes)
        if cache_aware is None:
            cache_aware = self.cache_aware
        if not cache_aware:
            return CTCStream(self, config or StreamConfig(), endpoint_s, use_lm)
        if not self.cache_aware:
            raise ValueError(f"{self.name} was not trained for cache-aware streaming")
        return CacheAwareStream(self, endpoint_s, use_lm)

    def stream(self, chunks: Iterable[np.ndarray], **options) -> Iterator[TranscriptEvent]:
        """Transcribe an iterable of audio chunks as it arrives; flushes at its end."""
        streamer = self.streamer(**options)
        for chunk in chunks:
            yield from streamer.feed(chunk)
        yield from streamer.flush()


RESTORE_LOCK = threading.Lock()  # NeMo's restore changes the process's working folder: one restore at a time


def _import_nemo_quietly():
    """Import NeMo's ASR collection without its start-up chatter on stdout/stderr."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from nemo.collections.asr import models
        from nemo.utils import logging as nemo_logging
    nemo_logging.setLevel(logging.ERROR)
    return models


def companion_beside(model_path) -> Path:
    """Where the low-latency companion of ``NAME.nemo`` lives: ``NAME_streaming.nemo`` next to it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}_streaming{path.suffix}")


def load_transcriber(path, device: str = "cpu", lm=True, quantize: bool = False, live=True) -> Transcriber:
    """Restore a NeMo CTC ``.nemo`` (character or BPE) onto ``device``.

    The archive is extracted with bounds and its config checked before NeMo is
    imported (see :mod:`.archive`); only CTC model classes are built, and the
    weights are read by torch's weights-only loader whatever the environment
    says. ``lm``: a label-LM file, ``True`` for the one beside the model
    (``NAME.lm.npz`` next to ``NAME.nemo``) when it exists, or ``False`` for none.
    ``quantize``: int8 Linear layers (CPU only, see :mod:`workbench.quantize`). ``live``: the
    live mode's low-latency companion, a cache-aware ``.nemo`` (see :mod:`.live_mode`): ``True``
    for the one beside the model (``NAME_streaming.nemo``) when it exists, a path, or ``False``
    for none (the model streams alone, as it always did).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"ASR model not found: {path} (train one with `python -m workbench.train asr`, "
            "or put a NeMo CTC .nemo file there)")
    if not tarfile.is_tarfile(path):
        raise CheckpointError(f"{path} is not a .nemo archive (expected a NeMo tar file)")
    device = resolve_device(device)
    with archive.extracted(path) as (folder, config):
        kind = str(config.get("target", "")).rsplit(".", 1)[-1]
        if kind not in CTC_CLASSES:
            raise CheckpointError(f"{path} holds a {kind[:60] or 'model of unknown type'}, not a CTC model "
                                  f"({' or '.join(CTC_CLASSES)})")
        models = _import_nemo_quietly()
        model_class = models.EncDecCTCModelBPE if kind == "EncDecCTCModelBPE" else models.EncDecCTCModel
        try:
            with RESTORE_LOCK:
                model = model_class.restore_from(str(path), map_location=torch.device(device),
                                                 save_restore_connector=archive.connector(folder))
        except CheckpointError as error:
            raise CheckpointError(f"cannot load {path}: {error}") from None
        except Exception as error:  # noqa: BLE001 - reported to the user as one message
            raise CheckpointError(f"cannot load {path}: {type(error).__name__}: "
                                  f"{(str(error).strip().splitlines() or [''])[0][:200]}") from None
    if quantize:
        quantize_linear(model, device)
    if lm is True:
        lm = lm_beside(path) if lm_beside(path).is_file() else False
    if live is True:
        live = companion_beside(path) if companion_beside(path).is_file() else False
    companion = load_transcriber(live, device, lm=False, quantize=quantize, live=False) if live else None
    if companion is not None and not companion.cache_aware:
        raise CheckpointError(f"{live} cannot be the live mode's companion: it was not trained for cache-aware "
                              "streaming")
    return Transcriber(model.to(device), device, name=str(path), lm=_load_lm(lm, path, model) if lm else None,
                       companion=companion)


def _load_lm(lm_path, model_path, model) -> LabelLM:
    """The label LM at ``lm_path``, checked against the model's labels."""
    lm_path = Path(lm_path)
    if not lm_path.is_file():
        raise CheckpointError(f"language model not found: {lm_path}")
    lm = LabelLM.load(lm_path)
    if lm.labels != list(model.decoder.vocabulary):
        raise CheckpointError(f"{lm_path} was built for other labels than {model_path}'s "
                              f"({len(lm.labels)} vs {len(model.decoder.vocabulary)})")
    return lm
