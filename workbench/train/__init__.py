"""Training of the workbench's offline default models on synthetic Korean speech.

``python -m workbench.train data|denoiser|asr|evaluate [--out DIR] [--smoke]``;
see ``__main__.py`` and ``checkpoint/README.md``.
"""
