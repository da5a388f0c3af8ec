"""The streaming recognition service (``python -m workbench serve``, or ``uvicorn --factory
workbench.serve:create_app``): the second face of the core.

:mod:`.engine` holds the models and the inference threads, :mod:`.app` the
routes and protocols and :func:`create_app`, :mod:`.middleware` the token, the
limits and the log, :mod:`.settings` the settings (flags and ``WORKBENCH_*``
variables), :mod:`.limits` what one client may ask, :mod:`.metrics` the
Prometheus figures, :mod:`.cli` the command. The notebook and this service
drive the same :class:`workbench.live.LiveStream`.
"""


def __getattr__(name: str):
    """``create_app``, imported when asked for (the command line imports this package without it)."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
