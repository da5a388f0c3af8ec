"""Transcript panel: finals with their times, the open partial, the models in use and the real-time factor."""
import html

import ipywidgets as widgets

from ..asr import TranscriptEvent
from .panel import Panel, css


def transcript_html(finals: list[TranscriptEvent], partial: TranscriptEvent | None) -> str:
    """Finals as '[start–end s] text' lines; the partial after them in grey italics."""
    lines = [f"<div class='wb-final'><span style='color:#777'>[{e.start_s:.2f}–{e.end_s:.2f} s]</span> "
             f"<span class='wb-final-text'>{html.escape(e.text)}</span></div>" for e in finals]
    if partial is not None:
        lines.append(f"<div class='wb-partial' style='color:#888;font-style:italic'>"
                     f"[{partial.start_s:.2f} s …] {html.escape(partial.text)}</div>")
    return "".join(lines) or "<div style='color:#888'>(no transcript yet)</div>"


class TranscriptPanel(Panel):
    """Live transcript (``.wb-transcript``), its plain text to copy, models/device, RTF, and
    whether the ASR's language model takes part in decoding."""

    def __init__(self):
        self.models = css(widgets.HTML(), "wb-models-info")
        self.use_lm = css(widgets.Checkbox(value=True, indent=False, disabled=True, description="beam search + LM",
                                           layout=widgets.Layout(width="auto")), "wb-use-lm")
        self.rtf = css(widgets.HTML(), "wb-rtf")
        self.state = css(widgets.HTML(), "wb-transcript-dry")
        self.view = css(widgets.HTML(layout=widgets.Layout(min_height="3em", max_height="16em", overflow="auto")),
                        "wb-transcript")
        self.text = css(widgets.Textarea(placeholder="final transcript (select and copy)", rows=3,
                                         layout=widgets.Layout(width="95%")), "wb-transcript-text")
        self.reference = css(widgets.HTML(), "wb-reference")
        super().__init__("transcript-panel", "Transcript",
                         [self.models, self.use_lm, self.rtf, self.state, self.view, self.text, self.reference])
        self.show([], None)

    def show(self, finals: list[TranscriptEvent], partial: TranscriptEvent | None) -> None:
        self.view.value = transcript_html(finals, partial)
        self.text.value = "\n".join(event.text for event in finals)

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
        self.rtf.value = f"real-time factor: {' · '.join(parts)}" if parts else ""
