"""A view that shows at once and fills in later.

Loading the models takes seconds (NeMo's import alone several), and a notebook
under Voilà shows nothing until its cells have run. :func:`later` returns a
placeholder of the view's size at once and builds the view on one background
thread, views in the order asked; the built view then replaces the placeholder.
"""
import html
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Pending

import ipywidgets as widgets

from .ctc_views import message

_BUILDER = ThreadPoolExecutor(1, thread_name_prefix="workbench-views")  # one view at a time, in order


class Later(widgets.VBox):
    """A grey box saying what is loading, replaced by ``build()``'s widget once built; ``view`` is
    that widget (None until then). A failure that escapes ``build`` shows as a message in place."""

    def __init__(self, build: Callable[[], widgets.Widget], what: str, height: str = "320px"):
        self.view = None
        self.placeholder = widgets.HTML(
            f"<style>@keyframes wb-turn {{ to {{ transform: rotate(360deg) }} }}</style>"
            f"<div style='height:{height};display:flex;gap:10px;align-items:center;justify-content:center;"
            f"background:#f4f4f4;border:1px dashed #ccc;color:#555;font-size:15px'>"
            f"<span style='width:16px;height:16px;border:3px solid #ccc;border-top-color:#555;border-radius:50%;"
            f"animation:wb-turn 1s linear infinite'></span>{html.escape(what)}: loading the models and drawing…</div>")
        self.placeholder.add_class("wb-loading")
        super().__init__([self.placeholder])
        self._built = _BUILDER.submit(self._build, build)

    def _build(self, build: Callable[[], widgets.Widget]) -> None:
        try:
            view = build()
        except Exception as error:  # noqa: BLE001 - a thread's exception would be lost: shown where the view would be
            view = message(f"{type(error).__name__}: {error}")
        self.view = view
        self.children = [view]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the view is built (True), or ``timeout`` seconds have passed (False)."""
        try:
            self._built.result(timeout)
        except Pending:
            return False
        return True


def later(build: Callable[..., widgets.Widget], what: str, height: str = "320px", **options) -> Later:
    """``build(**options)`` in a :class:`Later`, e.g. ``later(posteriorgram_panel, "posteriorgram")``."""
    return Later(lambda: build(**options), what, height)
