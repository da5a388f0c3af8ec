"""The transcript as words you can click and hear, and its downloads (``transcript_view.js``).

Each word of a final event is a button that plays its span ``[start_s, end_s)``
of the raw or the denoised-and-mixed audio; the word being played is
highlighted. The transcript (TXT, SRT, VTT, JSON) and the mix (WAV) download
in the browser from what this widget already holds: nothing is written on the
server.
"""
import json
from pathlib import Path

import anywidget
import traitlets

from .. import subtitles
from ..asr import TranscriptEvent
from ..serve.app import joined, segments

CSS = """
.wb-words .wb-word { border: none; background: transparent; padding: 0 2px; margin: 0; font: inherit;
  color: inherit; cursor: pointer; border-radius: 3px; border-bottom: 1px dotted #9ab; }
.wb-words .wb-word:hover { background: #e3ecfa; }
.wb-words .wb-word.wb-word-playing { background: #ffd54f; }
.wb-words .wb-time { color: #777; }
.wb-words .wb-partial { color: #888; font-style: italic; }
.wb-words .wb-placeholder { color: #888; }
.wb-words .wb-transcript { min-height: 3em; max-height: 16em; overflow: auto; margin: 4px 0; font-size: 125%;
  line-height: 1.6; }
.wb-words .wb-words-bar { display: flex; flex-wrap: wrap; gap: 4px 24px; font-size: 90%; }
.wb-words .wb-download { margin: 0 2px; padding: 0 8px; height: 24px; }
.wb-words .wb-word-audio { height: 32px; width: 50%; }
"""


def transcript_files(finals: list[TranscriptEvent], duration_s: float) -> dict[str, str]:
    """The transcript as ``txt`` (one final a line), ``srt``, ``vtt`` and ``json`` (the same
    ``{text, segments, duration_s}`` as the service's ``POST /v1/recognize``)."""
    answer = {"text": joined(finals), "segments": segments(finals), "duration_s": duration_s}
    return {"txt": "\n".join(event.text for event in finals if event.text) + "\n",
            "srt": subtitles.srt(finals), "vtt": subtitles.vtt(finals),
            "json": json.dumps(answer, ensure_ascii=False, indent=1) + "\n"}


class TranscriptView(anywidget.AnyWidget):
    """Finals as word buttons, the open partial, a player for word spans, and download buttons."""

    _esm = Path(__file__).with_name("transcript_view.js")
    _css = CSS
    lines = traitlets.List().tag(sync=True)
    partial = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("(no transcript yet)").tag(sync=True)
    raw = traitlets.Bytes(b"").tag(sync=True)        # WAV of the raw audio
    mixed = traitlets.Bytes(b"").tag(sync=True)      # WAV of the mix at the current dry
    play_from = traitlets.Unicode("denoised").tag(sync=True)
    files = traitlets.Dict().tag(sync=True)
    basename = traitlets.Unicode("transcript").tag(sync=True)

    def show(self, finals: list[TranscriptEvent], partial: TranscriptEvent | None, duration_s: float) -> None:
        """Finals with their words, the partial after them."""
        with self.hold_sync():
            self.lines = [{"text": event.text, "start_s": event.start_s, "end_s": event.end_s,
                           "words": [{"text": word.text, "start_s": word.start_s, "end_s": word.end_s}
                                     for word in event.words]} for event in finals if event.text]
            self.partial = "" if partial is None else f"[{partial.start_s:.2f} s …] {partial.text}"
            self.files = transcript_files(finals, duration_s)
