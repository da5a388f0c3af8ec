"""Transcript panel: words you can click and hear, the open partial, the models in use, the real-time
factor, what the bundled models know, and the diff against a reference."""
import html

import ipywidgets as widgets

from ..asr import TranscriptEvent
from .panel import Panel, css
from .reference import diff_html
from .transcript_view import TranscriptView

MODELS_NOTE = ("<small>&#9432; The bundled models learnt only synthetic Korean speech (espeak-ng voices): a real "
               "voice on the microphone will come out poorly. Load your own denoiser (.th) and recogniser (.nemo) "
               "in the Models panel below.</small>")
RTF_TIP = ("real-time factor = processing time ÷ audio duration; below 1 keeps up with live audio "
           "(0.1 = ten times faster than real time)")


class TranscriptPanel(Panel):
    """Live transcript (:class:`TranscriptView`), its plain text to copy, models/device, RTF, and
    whether the ASR's language model takes part in decoding."""

    def __init__(self):
        self.models = css(widgets.HTML(), "wb-models-info")
        self.use_lm = css(widgets.Checkbox(value=True, indent=False, disabled=True, description="beam search + LM",
                                           tooltip="Beam search keeps several spellings and lets the language model "
                                                   "pick likely ones; greedy decoding takes the best letter each frame",
                                           layout=widgets.Layout(width="auto")), "wb-use-lm")
        self.rtf = css(widgets.HTML(), "wb-rtf")
        self.state = css(widgets.HTML(), "wb-transcript-dry")
        self.view = css(TranscriptView(), "wb-transcript-view")
        self.note = css(widgets.HTML(MODELS_NOTE), "wb-models-note")
        self.text = css(widgets.Textarea(placeholder="final transcript (select and copy)", rows=3,
                                         layout=widgets.Layout(width="95%")), "wb-transcript-text")
        self.reference = css(widgets.HTML(), "wb-reference")
        super().__init__("transcript-panel", "Transcript",
                         [self.state, self.view, self.note, self.reference, self.text, self.models, self.use_lm,
                          self.rtf])
        self.show([], None)

    def show(self, finals: list[TranscriptEvent], partial: TranscriptEvent | None, duration_s: float = 0.0) -> None:
        self.view.show(finals, partial, duration_s)
        self.text.value = "\n".join(event.text for event in finals)

    def show_reference(self, reference: str | None, hypothesis: str) -> None:
        """The diff of ``hypothesis`` against ``reference`` (None: no reference, nothing shown)."""
        self.reference.value = "" if reference is None else diff_html(reference, hypothesis)

    def show_lm(self, transcriber) -> None:
        """Offer the LM switch when the loaded ASR has an LM; otherwise say decoding is greedy."""
        lm = getattr(transcriber, "lm", None)
        self.use_lm.disabled = lm is None
        self.use_lm.description = (f"beam search + {lm.order}-gram LM (off: greedy)" if lm
                                   else "greedy decoding (no LM beside this ASR)")

    def show_state(self, dry: float | None, stage: str) -> None:
        """Which mix the transcript below comes from, and whether it is complete."""
        self.state.value = "" if dry is None else f"<small>transcript of the mix at dry {dry:.2f} · {stage}</small>"

    def show_rtf(self, denoiser: float | None, asr: float | None) -> None:
        parts = [f"{name} {value:.3f}" for name, value in (("denoiser", denoiser), ("ASR", asr)) if value is not None]
        self.rtf.value = (f"<span title='{html.escape(RTF_TIP)}'>real-time factor &#9432;: {' · '.join(parts)}</span>"
                          if parts else "")
