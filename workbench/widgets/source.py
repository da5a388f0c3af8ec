"""Source panel: bundled example, upload, path, kernel microphone, browser microphone; progress and stop.

The selector shows the current source: a bundled example, or an upload, a path or a recording
as an extra entry. Stop shows only while a file is processed; a recording stops with its own
record button, and the kernel microphone's button shows only when the kernel has one.
"""
import math

import ipywidgets as widgets

from .panel import Panel, css
from .recorder import BrowserRecorder
from .trust import restricted

AUDIO_TYPES = ".wav,.flac,.ogg,.mp3,.m4a,audio/*"
OTHER = "\x00source"  # the selector's value while the source is not a bundled example


def hidden(hide: bool) -> str:
    """A layout's ``display`` that hides a widget or shows it."""
    return "none" if hide else ""


class SourcePanel(Panel):
    """Where the audio comes from; also shows recording time, input level and progress."""

    def __init__(self, examples: list[str], recorder: BrowserRecorder, kernel_microphone: str | None):
        self.examples = list(examples)
        self.updating = False  # True while show_source changes the selector
        self.example = css(widgets.Dropdown(options=[(item, item) for item in self.examples],
                                            value=examples[0] if examples else None,
                                            description="source", disabled=not examples,
                                            tooltip="A bundled example; an upload, a path or a recording shows "
                                                    "here while it is the source"), "wb-example")
        self.upload = css(widgets.FileUpload(accept=AUDIO_TYPES, multiple=False, description="Upload"),
                          "wb-upload")
        self.path = css(widgets.Text(placeholder="/path/to/audio.wav", description="path",
                                     layout=widgets.Layout(width="50%")), "wb-path")
        self.open_path = css(widgets.Button(description="Open"), "wb-open")
        self.record = css(widgets.Button(description="Record (kernel mic)", icon="microphone",
                                         disabled=kernel_microphone is None,
                                         layout=widgets.Layout(width="auto", display=hidden(kernel_microphone is None))),
                          "wb-record-kernel")
        self.recorder = css(recorder, "wb-record-browser")
        self.microphone = css(widgets.HTML(), "wb-mic-status")
        self.elapsed = css(widgets.Label("0.0 s"), "wb-elapsed")
        self.level = css(widgets.FloatProgress(0.0, min=0.0, max=1.0, description="level",
                                               layout=widgets.Layout(width="30%")), "wb-level")
        self.progress = css(widgets.FloatProgress(0.0, min=0.0, max=1.0, description="progress",
                                                  layout=widgets.Layout(width="50%")), "wb-progress")
        self.stop = css(widgets.Button(description="Stop", icon="stop", button_style="warning",
                                       tooltip="Stop denoising and transcribing this file",
                                       layout=widgets.Layout(display="none")), "wb-stop")
        if kernel_microphone is not None:
            self.microphone.value = f"<small>kernel microphone: {kernel_microphone}</small>"
        elif not restricted():  # in the app the kernel's machine is nobody's business
            self.microphone.value = ("<small>No microphone on the kernel's machine; "
                                     "record in the browser, upload a file or type a path.</small>")
        super().__init__("source", "Source", [
            widgets.HBox([self.example, self.upload]),
            widgets.HBox([self.path, self.open_path]),
            widgets.HBox([self.record, self.recorder]),
            self.microphone,
            widgets.HBox([self.elapsed, self.level]),
            widgets.HBox([self.progress, self.stop]),
        ])

    def show_source(self, name: str, example: bool) -> None:
        """Select example ``name``, or show ``name`` (an upload, a path, a recording) as the source.

        New options make the selector jump to the first; ``updating`` tells its observer that the
        changes meanwhile are not a person's choice."""
        options = tuple((item, item) for item in self.examples) + (() if example else ((name, OTHER),))
        value = name if example else OTHER
        if (self.example.options, self.example.value) == (options, value):
            return
        self.updating = True
        try:
            if self.example.options != options:
                self.example.options = options
            self.example.value = value
        finally:
            self.updating = False
        self.example.disabled = len(self.example.options) == 0

    def show_busy(self, busy: bool) -> None:
        """Offer Stop only while a file is being processed."""
        self.stop.layout.display = hidden(not busy)

    def show_recording(self, recording: bool) -> None:
        self.record.description = "Stop recording" if recording else "Record (kernel mic)"
        self.record.icon = "stop" if recording else "microphone"

    def show_level(self, seconds: float, rms: float) -> None:
        """Elapsed time and the input level (RMS mapped from -60..0 dBFS to 0..1)."""
        self.elapsed.value = f"{seconds:.1f} s"
        self.level.value = min(1.0, max(0.0, 1.0 + 20.0 * math.log10(max(rms, 1e-6)) / 60.0))
