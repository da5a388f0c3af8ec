"""NeMo model configs for Conformer-CTC models (tests, benchmarks, training): one builder for all of them."""

# Conjoining jamo: 19 initial consonants, 21 vowels, 27 final consonants (Unicode NFD of Hangul).
JAMO_LABELS = ([" "] + [chr(c) for c in range(0x1100, 0x1113)] + [chr(c) for c in range(0x1161, 0x1176)]
               + [chr(c) for c in range(0x11A8, 0x11C3)])

# Cache-aware streaming: attention sees 70 frames back and 6 ahead, in chunks of 6 + 1 = 7 frames
# (7 x 40 ms = 280 ms after 4x subsampling of 10 ms features); NeMo's chunked_limited style needs
# left % (right + 1) == 0.
STREAMING_CONTEXT = (70, 6)


def conformer_ctc_config(labels: list[str] | None = None, tokenizer_dir: str | None = None,
                         d_model: int = 144, n_layers: int = 8, n_heads: int = 4, features: int = 80,
                         normalize: str = "NA", dropout: float = 0.0, dither: float = 0.0,
                         att_context_size: tuple[int, int] | None = None):
    """An ``EncDecCTCModel`` (``labels``) or ``EncDecCTCModelBPE`` (``tokenizer_dir``) config.

    ``att_context_size`` = (left, right) frames makes it a cache-aware streaming encoder, as NeMo's
    ``cache_aware_streaming`` recipes do: chunked limited attention, causal depthwise convolutions,
    causal subsampling; its features must then be unnormalized (``normalize`` "NA"), since
    per-utterance normalization needs the whole utterance.
    """
    from omegaconf import OmegaConf

    if att_context_size is not None:
        left, right = att_context_size
        if left % (right + 1):
            raise ValueError(f"att_context_size {att_context_size}: left must be a multiple of right + 1")
        if normalize != "NA":
            raise ValueError("a cache-aware streaming encoder needs normalize='NA'")
    vocabulary = [] if tokenizer_dir else list(labels)
    config = {
        "sample_rate": 16000,
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "sample_rate": 16000, "normalize": normalize, "window_size": 0.025,
                         "window_stride": 0.01, "window": "hann", "features": features, "n_fft": 512,
                         "log": True, "frame_splicing": 1, "dither": dither, "pad_to": 0, "pad_value": 0.0},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": features,
                    "feat_out": -1, "n_layers": n_layers, "d_model": d_model, "subsampling": "dw_striding",
                    "subsampling_factor": 4, "subsampling_conv_channels": d_model,
                    "ff_expansion_factor": 4, "self_attention_model": "rel_pos", "n_heads": n_heads,
                    "conv_kernel_size": 31, "dropout": dropout, "dropout_pre_encoder": dropout,
                    "dropout_emb": 0.0, "dropout_att": dropout},
        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": d_model,
                    "num_classes": -1 if tokenizer_dir else len(vocabulary), "vocabulary": vocabulary},
    }
    if att_context_size is not None:
        config["encoder"].update({"att_context_style": "chunked_limited", "att_context_size": list(att_context_size),
                                  "conv_context_size": "causal", "causal_downsampling": True})
    if tokenizer_dir:
        config["tokenizer"] = {"dir": tokenizer_dir, "type": "bpe"}
    else:
        config["labels"] = vocabulary
    return OmegaConf.create(config)
