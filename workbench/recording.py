"""Recordings into a :class:`~workbench.session.Session`, one at a time, without widgets.

Audio comes from the kernel machine's microphone (read on its own thread, since reads block) or as
chunks a browser sends (PCM16 at its rate). Every step on the session runs as a job through
``submit``, one worker in order; chunks wait in :class:`~workbench.live.PendingChunks` so that one
job drains whatever piled up. Each recording carries a token from ``new_token``: chunks and ends of
a recording that was superseded are dropped. What to show is the caller's: the ``on_*`` hooks.
"""
import threading
from collections.abc import Callable

import numpy as np

from .audio import SAMPLE_RATE
from .errors import MicrophoneUnavailable, describe
from .live import PendingChunks
from .session import Session
from .sources import MicrophoneSource

Submit = Callable[[Callable[[], None], Callable[[str], None]], None]


def _nothing(*_args) -> None:
    pass


class RecordingController:
    """Starts, feeds and ends the session's recordings.

    ``submit(job, on_error)`` runs a job on the worker; ``new_token()`` supersedes what runs (a file
    being processed) and returns the new recording's token; ``stop_browser()`` asks the browser to
    stop recording (its stop message then ends the recording). Hooks: ``on_named(name)`` (caller's
    thread) when a recording is about to start, ``on_started()``, ``on_fed()`` and ``on_finished()``
    (worker) after the session started, took chunks, or finished a recording; ``on_microphone(on)``
    when the kernel microphone starts or stops; ``on_error(message)`` for a failure to show.
    """

    def __init__(self, session: Session, submit: Submit, new_token: Callable[[], int],
                 on_error: Callable[[str], None], stop_browser: Callable[[], None] = _nothing, on_named: Callable[[str], None] = _nothing,
                 on_started: Callable[[], None] = _nothing, on_fed: Callable[[], None] = _nothing,
                 on_finished: Callable[[], None] = _nothing, on_microphone: Callable[[bool], None] = _nothing):
        self.session, self._submit, self._new_token, self._stop_browser = session, submit, new_token, stop_browser
        self.on_error, self.on_named, self.on_started = on_error, on_named, on_started
        self.on_fed, self.on_finished, self.on_microphone = on_fed, on_finished, on_microphone
        self._live = None             # token of the recording the worker is processing
        self._browser_token = None
        self._microphone: MicrophoneSource | None = None
        self._pending = PendingChunks()  # recorded chunks not yet processed

    # -- the kernel's microphone ----------------------------------------
    def toggle_kernel(self) -> None:
        """Start recording from the kernel machine's microphone, or stop it."""
        if self._microphone is not None:
            self._microphone.stop()
            return
        try:
            microphone = MicrophoneSource()
        except MicrophoneUnavailable as error:
            self.on_error(str(error))
            return
        self.stop()
        token = self._start("kernel microphone")
        self._microphone = microphone
        self.on_microphone(True)
        threading.Thread(target=self._pump, args=(microphone, token), name="workbench-microphone",
                         daemon=True).start()

    def _pump(self, microphone: MicrophoneSource, token: int) -> None:
        """Read the kernel microphone on its own thread and pass chunks to the worker."""
        try:
            for chunk in microphone:
                self._chunk(token, chunk)
        except Exception as error:  # noqa: BLE001 - reported to the user as one message
            self.on_error(describe(error))
        finally:
            self._microphone = None
            self.on_microphone(False)
            self._submit(lambda: self._finish(token), self.on_error)

    def stop_microphone(self) -> None:
        if self._microphone is not None:
            self._microphone.stop()

    def stop(self) -> None:
        """Stop whatever records (each recording is then finished and kept)."""
        self.stop_microphone()
        self._stop_browser()

    # -- a browser's microphone -----------------------------------------
    def browser_started(self, rate: int) -> None:
        self.stop_microphone()
        self._browser_token = self._start(f"browser recording ({rate} Hz)")

    def browser_chunk(self, pcm: bytes, rate: int) -> None:
        self._chunk(self._browser_token, pcm, rate)

    def browser_stopped(self) -> None:
        token, self._browser_token = self._browser_token, None
        self._submit(lambda: self._finish(token), self.on_error)

    # -- every recording ------------------------------------------------
    def _start(self, name: str) -> int:
        token = self._new_token()
        self.on_named(name)
        self._submit(lambda: self._begin(name, token), self.on_error)
        return token

    def _begin(self, name: str, token: int) -> None:
        self.session.start_live(name)
        self._live = token
        self.on_started()

    def _chunk(self, token: int, data: bytes | np.ndarray, rate: int = SAMPLE_RATE) -> None:
        """Queue recorded audio (PCM16 bytes at ``rate``, or 16 kHz float32) for one draining job."""
        if self._pending.put(token, data, rate):
            self._submit(self._drain, self.on_error)

    def _drain(self) -> None:
        for token, data, rate in self._pending.take():
            self._feed(token, data, rate)

    def _feed(self, token: int, chunk: bytes | np.ndarray, rate: int) -> None:
        """Process a chunk of the current recording (resampled to 16 kHz without seams, see LiveStream)."""
        if token != self._live or not self.session.recording:
            return  # a chunk of a recording that has ended
        self.session.feed(chunk, rate)
        self.on_fed()

    def _finish(self, token: int) -> None:
        if token != self._live or not self.session.recording:
            return
        self.session.finish_live()
        self.on_finished()
