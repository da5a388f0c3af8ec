"""Source panel: bundled example, upload, path, kernel microphone, browser microphone; progress and stop."""
import math

import ipywidgets as widgets

from .panel import Panel, css
from .recorder import BrowserRecorder

AUDIO_TYPES = ".wav,.flac,.ogg,.mp3,.m4a,audio/*"


class SourcePanel(Panel):
    """Where the audio comes from; also shows recording time, input level and progress."""

    def __init__(self, examples: list[str], recorder: BrowserRecorder, kernel_microphone: str | None):
        self.example = css(widgets.Dropdown(options=examples, value=examples[0] if examples else None,
                                            description="example", disabled=not examples), "wb-example")
        self.upload = css(widgets.FileUpload(accept=AUDIO_TYPES, multiple=False, description="Upload"),
                          "wb-upload")
        self.path = css(widgets.Text(placeholder="/path/to/audio.wav", description="path",
                                     layout=widgets.Layout(width="50%")), "wb-path")
        self.open_path = css(widgets.Button(description="Open"), "wb-open")
        self.record = css(widgets.Button(description="Record (kernel mic)", icon="microphone",
                                         disabled=kernel_microphone is None, layout=widgets.Layout(width="auto")),
                          "wb-record-kernel")
        self.recorder = css(recorder, "wb-record-browser")
        self.microphone = css(widgets.HTML(), "wb-mic-status")
        self.elapsed = css(widgets.Label("0.0 s"), "wb-elapsed")
        self.level = css(widgets.FloatProgress(0.0, min=0.0, max=1.0, description="level",
                                               layout=widgets.Layout(width="30%")), "wb-level")
        self.progress = css(widgets.FloatProgress(0.0, min=0.0, max=1.0, description="progress",
                                                  layout=widgets.Layout(width="50%")), "wb-progress")
        self.stop = css(widgets.Button(description="Stop", icon="stop", button_style="warning"), "wb-stop")
        if kernel_microphone is None:
            self.microphone.value = ("<small>No microphone on the kernel's machine; "
                                     "record in the browser, upload a file or type a path.</small>")
        else:
            self.microphone.value = f"<small>kernel microphone: {kernel_microphone}</small>"
        super().__init__("source", "Source", [
            widgets.HBox([self.example, self.upload]),
            widgets.HBox([self.path, self.open_path]),
            widgets.HBox([self.record, self.recorder]),
            self.microphone,
            widgets.HBox([self.elapsed, self.level]),
            widgets.HBox([self.progress, self.stop]),
        ])

    def show_recording(self, recording: bool) -> None:
        self.record.description = "Stop recording" if recording else "Record (kernel mic)"
        self.record.icon = "stop" if recording else "microphone"

    def show_level(self, seconds: float, rms: float) -> None:
        """Elapsed time and the input level (RMS mapped from -60..0 dBFS to 0..1)."""
        self.elapsed.value = f"{seconds:.1f} s"
        self.level.value = min(1.0, max(0.0, 1.0 + 20.0 * math.log10(max(rms, 1e-6)) / 60.0))
