"""The streaming recognition service (``python -m workbench serve``): the second face of the core.

:mod:`.engine` holds the models and the inference threads, :mod:`.app` the
routes and protocols, :mod:`.limits` what one client may ask, :mod:`.cli` the
command. The notebook and this service drive the same :class:`workbench.live.LiveStream`.
"""
