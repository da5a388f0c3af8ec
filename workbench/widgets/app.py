"""The workbench: five panels wired to one :class:`Session` through one worker thread.

Widget callbacks (kernel main thread) only bump request counters and submit
jobs; jobs (worker thread) do the work and check the counters to notice that
they were superseded: a new source or Stop ends the processing of a file, a
slider move ends a running transcription. Recordings are the
:class:`~workbench.recording.RecordingController`'s; the workbench shows them through its hooks.
"""
import math
import time
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from .. import paths
from ..asr import load_transcriber
from ..audio import load_audio
from ..denoise import DEFAULT_DRY, load_denoiser
from ..errors import MicrophoneUnavailable, WorkbenchError
from ..recording import RecordingController
from ..session import Session
from ..sources import find_microphone
from .dry import DryPanel
from .models import ModelsPanel, describe_model
from .panel import css
from .recorder import BrowserRecorder
from .source import OTHER, SourcePanel
from .spectrograms import SpectrogramPanel
from .transcript import TranscriptPanel
from .trust import checked_path, restricted
from .tuning_panel import TuningPanel
from .worker import Worker, describe

DEBOUNCE_S = 0.4      # quiet time after the last slider move before the transcript re-runs
LIVE_AXIS_STEP_S = 5  # while recording, the time axis grows in steps of this many seconds


def kernel_microphone() -> str | None:
    """The name of the kernel machine's default microphone, None when it has none."""
    try:
        return find_microphone()[1]
    except (MicrophoneUnavailable, OSError):
        return None


def load_or_keep(kind: str, load: Callable[[], object], current):
    """(``load()``'s model, None), or (``current``, a message saying why not) when loading fails."""
    try:
        return load(), None
    except Exception as error:  # noqa: BLE001 - reported to the user as one message
        kept = "; the previous one stays in use" if current is not None else ""
        return current, f"{kind} not loaded: {describe(error)}{kept}"


class Workbench:
    """Source, spectrograms, dry mix, transcript and models panels around one :class:`Session`."""

    def __init__(self, denoiser=paths.DEFAULT_DENOISER, asr=paths.DEFAULT_ASR, device: str = "cpu",
                 dry: float = DEFAULT_DRY, examples: dict[str, Path] | None = None):
        """``examples`` maps names to audio files (default: the bundled ``audio_example/``); the first opens."""
        self.session = Session(dry)
        self.worker = Worker()
        self.examples = paths.examples() if examples is None else dict(examples)
        self.recordings = RecordingController(
            self.session, self.worker.submit, self._new_audio, on_error=lambda message: self.source.fail(message),
            on_named=self._recording_named, on_started=self._recording_started,
            on_fed=lambda: self._refresh(raw=True), on_finished=self._recording_finished,
            on_microphone=lambda on: self.source.show_recording(on))
        recorder = BrowserRecorder(self.recordings.browser_started, self.recordings.browser_chunk,
                                   self.recordings.browser_stopped, lambda message: self.source.fail(message))
        self.source = SourcePanel(list(self.examples), recorder, kernel_microphone())
        self.spectrograms = SpectrogramPanel()
        self.dry = DryPanel(dry)
        self.transcript = TranscriptPanel()
        self.models = ModelsPanel(denoiser, asr, device)
        self.tuning = TuningPanel(slider=self.dry.slider, models_from=self.models.chosen, on_apply=self.apply_point)
        tuning = css(widgets.Accordion([self.tuning], titles=("Tune on a corpus: CER and lag",),
                                       selected_index=None), "wb-tuning")
        self.view = css(widgets.VBox([self.source, self.spectrograms, self.dry, self.transcript, self.models,
                                      tuning]), "wb-workbench")
        self._audio_request = self._mix_request = 0   # bumped on the main thread
        self._stage, self._reference = ("", 0.0), None
        self._drawn_at, self._draw_every = 0.0, 0.25

        self.source.example.observe(self._example_chosen, "value")
        self.source.upload.observe(self._uploaded, "value")
        self.source.open_path.on_click(lambda _: self.open_path(self.source.path.value))
        self.source.record.on_click(lambda _: self.recordings.toggle_kernel())
        self.source.stop.on_click(lambda _: self.stop())
        self.dry.slider.observe(lambda change: self.set_dry(change["new"]), "value")
        self.transcript.use_lm.observe(lambda change: self.set_use_lm(change["new"]), "value")
        self.models.load.on_click(lambda _: self.load_models())

        self.load_models()
        if self.examples:
            self.open_example(next(iter(self.examples)))
        else:
            self.source.say("no bundled examples in audio_example/ yet: upload a file, type a path or record")

    def show(self) -> None:
        """Display the workbench (the notebook's last cell)."""
        display(self.view)

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until all submitted work is done (for tests and scripts, not for notebook cells)."""
        return self.worker.wait(timeout)

    # -- models --------------------------------------------------------
    def load_models(self) -> None:
        """Load the models named in the Models panel; on failure the previous ones stay in use."""
        request = self.models.chosen()
        self.models.clear_error()
        if restricted():  # app users load only the project's models
            try:
                request.update(denoiser=str(checked_path(request["denoiser"], "model")),
                               asr=str(checked_path(request["asr"], "model")))
            except WorkbenchError as error:
                self.models.fail(str(error))
                return
        self.models.say("loading models… (the first load imports NeMo, about 15 s)")
        self.transcript.models.value = "loading models…"
        self.transcript.view.placeholder = "loading models…"
        self.worker.submit(lambda: self._load_models(**request), self.models.fail)

    def _load_models(self, denoiser: str, asr: str, device: str, quantize: bool) -> None:
        session, denoiser_path = self.session, denoiser
        denoiser, denoiser_error = load_or_keep("denoiser", lambda: load_denoiser(denoiser_path, device, quantize),
                                                session.denoiser)
        transcriber, asr_error = load_or_keep("ASR", lambda: load_transcriber(asr, device, quantize=quantize),
                                              session.transcriber)
        new_denoiser, new_asr = denoiser is not session.denoiser, transcriber is not session.transcriber
        session.denoiser, session.transcriber = denoiser, transcriber
        self.models.show_loaded(denoiser, transcriber)
        self.transcript.models.value = f"{describe_model('denoiser', denoiser)} · {describe_model('ASR', transcriber)}"
        self.transcript.show_lm(transcriber)
        self.transcript.view.placeholder = "(no transcript yet)"
        if denoiser_error or asr_error:
            self.models.fail(" · ".join(error for error in (denoiser_error, asr_error) if error))
        if len(session.audio) and not session.recording and (new_denoiser or new_asr):
            if new_denoiser:
                self._analyse(self._audio_request)
            else:
                self._transcribe(self._audio_request, self._mix_request)

    # -- files ---------------------------------------------------------
    def _example_chosen(self, change) -> None:
        if change["new"] not in (OTHER, None) and not self.source.updating:
            self.open_example(change["new"])

    def open_example(self, name: str) -> None:
        if name not in self.examples:
            self.source.fail(f"no bundled example called {name!r}")
        elif self.source.example.value != name:
            self.source.example.value = name  # its observer opens it
        else:
            path = self.examples[name]
            self._open(lambda: load_audio(path), name, paths.reference_text(path), example=True)

    def open_path(self, text: str) -> None:
        if not text.strip():
            self.source.fail("type the path of an audio file first")
            return
        try:
            path = checked_path(text, "audio file")
        except WorkbenchError as error:
            self.source.fail(str(error))
            return
        self._open(lambda: load_audio(path), path.name, paths.reference_text(path))

    def open_bytes(self, data: bytes, name: str = "upload") -> None:
        self._open(lambda: load_audio(data, name), name, None)

    def _uploaded(self, change) -> None:
        if change["new"]:
            item = change["new"][0]
            self.open_bytes(bytes(item["content"]), item["name"])
            self.source.upload.value = ()

    def _open(self, load: Callable[[], np.ndarray], name: str, reference: str | None,
              example: bool = False) -> None:
        self.recordings.stop()
        request = self._new_audio()
        self.source.clear_error()
        self.source.say(f"opening {name}…")
        self.worker.submit(lambda: self._open_job(load, name, reference, request, example),
                           lambda message: self._open_failed(name, message))

    def _open_failed(self, name: str, message: str) -> None:
        self.source.say(f"could not open {name}")
        self.source.fail(message)

    def _new_audio(self) -> int:
        self._audio_request += 1
        self._mix_request += 1
        return self._audio_request

    def _open_job(self, load, name: str, reference: str | None, request: int, example: bool) -> None:
        if request != self._audio_request:
            return
        audio = load()
        self.source.show_source(name, example)
        self.session.set_audio(audio, name)
        self._reference = reference
        self.transcript.show_reference(None, "")
        self.spectrograms.draw_raw(audio, self.session.duration_s)
        self._play(raw=True, mixed=False)
        self._analyse(request)

    def _analyse(self, request: int) -> None:
        """Denoise the session's audio once, then transcribe the mix; stops when superseded."""
        session = self.session
        for done in session.denoise():
            if request != self._audio_request:
                return
            self._stage = ("denoising", done)
            self._refresh()
        self._play(raw=False, mixed=True)
        self._refresh(force=True)
        self._transcribe(request, self._mix_request)

    def _transcribe(self, request: int, mix_request: int) -> None:
        session = self.session
        for done in session.transcribe():
            if request != self._audio_request or mix_request != self._mix_request:
                return
            self._stage = ("transcribing", done)
            self._refresh(denoised=False)
        self._stage = ("done", 1.0)
        if session.transcriber is not None:
            self.transcript.show_reference(self._reference, session.text)
        self._refresh(force=True, raw=True)  # with the words marked

    # -- dry mix -------------------------------------------------------
    def set_dry(self, dry: float) -> None:
        self._mix_request += 1
        request = self._mix_request
        self.worker.submit(lambda: self._remix_job(dry, request), self.dry.fail)

    def remix(self, dry: float) -> None:
        """Re-mix the cached denoised signal at ``dry``; redraw its spectrogram and player (worker thread)."""
        session = self.session
        mixed = session.set_dry(dry)
        self.spectrograms.draw_denoised(mixed if session.denoised is not None else None, session.duration_s, dry,
                                        session.words)
        if not session.recording:
            self._play(raw=False, mixed=True)

    def _remix_job(self, dry: float, request: int) -> None:
        if request != self._mix_request:
            return
        self.remix(dry)
        if not self.session.can_retranscribe:
            return
        quiet_until = time.monotonic() + DEBOUNCE_S
        while time.monotonic() < quiet_until:
            if request != self._mix_request:
                return
            time.sleep(0.02)
        self._transcribe(self._audio_request, request)

    # -- decoding ------------------------------------------------------
    def set_use_lm(self, use_lm: bool) -> None:
        """Decode with the LM or greedily from now on; re-run the transcript of the current mix."""
        self.session.use_lm = use_lm
        self._mix_request += 1
        request = self._mix_request
        if self.session.can_retranscribe:
            self.worker.submit(lambda: self._transcribe(self._audio_request, request), self.transcript.fail)

    def apply_point(self, point) -> None:
        """A tuning grid point (:class:`~workbench.tuning.GridPoint`): its stream and decoder for the
        session's transcriptions, its dry on the slider; the current mix is transcribed again."""
        self.session.stream = point.stream
        self.transcript.use_lm.value = point.use_lm
        self.dry.slider.value = point.dry
        self.set_dry(point.dry)  # re-mixed and re-transcribed even when neither value changed

    # -- recordings (the controller's hooks) ----------------------------
    def _recording_named(self, name: str) -> None:
        self.source.show_source(name, example=False)
        self.source.clear_error()

    def _recording_started(self) -> None:
        self._reference = None
        self.transcript.show_reference(None, "")
        self._play(raw=True, mixed=True)
        self._stage = ("recording", None)
        self._refresh(force=True, raw=True)

    def _recording_finished(self) -> None:
        self._stage = ("done", 1.0)
        self._refresh(force=True, raw=True)
        self._play(raw=True, mixed=True)

    def stop(self) -> None:
        """End what is running: a recording (it is flushed and kept) or the processing of a file."""
        self.recordings.stop()
        self._audio_request += 1
        self._mix_request += 1
        self.worker.submit(self._stopped, self.source.fail)

    def _stopped(self) -> None:
        if self._stage[0] in ("denoising", "transcribing"):
            self._stage = ("stopped", self._stage[1])
        self._refresh(force=True)

    # -- drawing (worker thread) ---------------------------------------
    def _play(self, raw: bool, mixed: bool) -> None:
        """Put the raw audio and/or the mix in the players and in the transcript's word player (which,
        without audio, holds nothing to play or download)."""
        session, view = self.session, self.transcript.view
        heard, denoised = len(session.audio) > 0, session.denoised is not None
        if raw:
            data = self.spectrograms.raw.play(session.audio)
            view.raw = data if heard else b""
        if mixed:  # no denoiser: the raw audio is the mix
            data = self.spectrograms.denoised.play(session.mixed if denoised else np.zeros(0, np.float32))
            view.mixed = (data if denoised else bytes(self.spectrograms.raw.player.value)) if heard else b""
            view.basename = Path(session.name).stem or "recording"
            if denoised:
                view.basename += f"-dry{session.dry:.2f}"

    def _refresh(self, force: bool = False, raw: bool = False, denoised: bool = True) -> None:
        """Redraw what changes while work runs, at most a few times a second unless ``force``."""
        if not force and time.monotonic() - self._drawn_at < self._draw_every:
            return
        started = time.perf_counter()
        session = self.session
        axis = session.duration_s
        if session.recording:
            axis = max(LIVE_AXIS_STEP_S, math.ceil(axis / LIVE_AXIS_STEP_S) * LIVE_AXIS_STEP_S)
        if raw:
            self.spectrograms.draw_raw(session.audio, axis, session.words)
        if denoised:
            self.spectrograms.draw_denoised(session.mixed if session.denoised is not None else None, axis,
                                            session.dry, session.words)
        self.transcript.show(session.finals, session.partial, session.duration_s)
        self.transcript.show_rtf(session.denoise_time.rtf, session.asr_time.rtf)
        stage, done = self._stage
        self.transcript.show_state(session.transcript_dry, stage)
        self.source.show_busy(stage in ("denoising", "transcribing"))
        with self.source.progress.hold_sync():
            self.source.progress.description = stage or "progress"
            self.source.progress.value = 0.0 if done is None else done
        self.source.show_level(session.duration_s, session.level)
        percent = f" {done:.0%}" if stage in ("denoising", "transcribing") else ""
        self.source.say(f"{session.name} · {session.duration_s:.1f} s · {stage}{percent}")
        self._draw_every = max(0.25, 3 * (time.perf_counter() - started))
        self._drawn_at = time.monotonic()
