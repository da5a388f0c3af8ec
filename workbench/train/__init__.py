"""Training of the workbench's offline default models on synthetic Korean speech, and on your own corpus.

``python -m workbench.train prepare|data|denoiser|asr|lm|evaluate [--out DIR] [--smoke]``;
see ``__main__.py``, ``checkpoint/README.md`` and ``docs/training_your_corpus.md``.
"""
