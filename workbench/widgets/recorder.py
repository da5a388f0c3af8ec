"""Browser microphone: getUserMedia -> AudioWorklet -> Int16 PCM chunks sent to the kernel.

The JavaScript is ``workbench/web/recorder.js``, which the service's page also uses.

It records where the browser runs, so it also works when the kernel is on a
remote server. Messages to Python: ``{"type": "start", "rate"}``, ``{"type":
"chunk", "rate"}`` with Int16 PCM in the first buffer (100 ms at 16 kHz, which
the browser is asked for, else 250 ms at its own rate), ``{"type": "stop"}``
and ``{"type": "error", "message"}``. Python sends ``{"type": "stop"}`` to end
a recording.
"""
from collections.abc import Callable
from pathlib import Path

import anywidget

RECORDER_JS = Path(__file__).resolve().parent.parent / "web" / "recorder.js"  # shared with the service's page


class BrowserRecorder(anywidget.AnyWidget):
    """A record button that streams the browser's microphone to ``on_start/on_chunk/on_stop/on_error``."""

    _esm = RECORDER_JS

    def __init__(self, on_start: Callable[[int], None], on_chunk: Callable[[bytes, int], None],
                 on_stop: Callable[[], None], on_error: Callable[[str], None]):
        super().__init__()
        self._handlers = {"start": lambda content, buffers: on_start(int(content["rate"])),
                          "chunk": lambda content, buffers: on_chunk(bytes(buffers[0]), int(content["rate"])),
                          "stop": lambda content, buffers: on_stop(),
                          "error": lambda content, buffers: on_error(str(content.get("message", "")))}
        self.on_msg(self.receive)

    def receive(self, _widget, content: dict, buffers: list) -> None:
        """Dispatch one message from the browser (runs on the kernel's main thread: keep it quick)."""
        handler = self._handlers.get(content.get("type") if isinstance(content, dict) else None)
        if handler is None:
            return
        try:
            handler(content, buffers)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            self._handlers["error"]({"message": f"bad message from the browser recorder: {error!r}"}, [])

    def stop(self) -> None:
        """Ask the browser to stop recording (it answers with a 'stop' message if it was recording)."""
        self.send({"type": "stop"})
