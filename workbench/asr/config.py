"""NeMo model configs for Conformer-CTC models built from scratch (tests, benchmarks, training)."""

# Conjoining jamo: 19 initial consonants, 21 vowels, 27 final consonants (Unicode NFD of Hangul).
JAMO_LABELS = ([" "] + [chr(c) for c in range(0x1100, 0x1113)] + [chr(c) for c in range(0x1161, 0x1176)]
               + [chr(c) for c in range(0x11A8, 0x11C3)])


def conformer_ctc_config(labels: list[str] | None = None, tokenizer_dir: str | None = None,
                         d_model: int = 144, n_layers: int = 8, n_heads: int = 4, features: int = 80,
                         normalize: str = "NA", dropout: float = 0.0):
    """An ``EncDecCTCModel`` (``labels``) or ``EncDecCTCModelBPE`` (``tokenizer_dir``) config."""
    from omegaconf import OmegaConf

    vocabulary = [] if tokenizer_dir else list(labels)
    config = {
        "sample_rate": 16000,
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "sample_rate": 16000, "normalize": normalize, "window_size": 0.025,
                         "window_stride": 0.01, "features": features, "n_fft": 512, "dither": 0.0,
                         "pad_to": 0},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": features,
                    "n_layers": n_layers, "d_model": d_model, "subsampling": "dw_striding",
                    "subsampling_factor": 4, "subsampling_conv_channels": d_model,
                    "ff_expansion_factor": 4, "n_heads": n_heads, "conv_kernel_size": 31,
                    "dropout": dropout, "dropout_emb": 0.0, "dropout_att": dropout},
        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": d_model,
                    "num_classes": -1 if tokenizer_dir else len(vocabulary), "vocabulary": vocabulary},
    }
    if tokenizer_dir:
        config["tokenizer"] = {"dir": tokenizer_dir, "type": "bpe"}
    else:
        config["labels"] = vocabulary
    return OmegaConf.create(config)
