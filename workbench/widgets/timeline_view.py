"""The timeline view of one stream (:mod:`workbench.timeline`) as a notebook panel: a bundled
example streamed in one of the tuning grid's ways (a :class:`workbench.tuning.GridPoint`'s
stream), at real-time pace on one thread's CPU clock, drawn as a picture."""
import ipywidgets as widgets
from matplotlib import rc_context

from ..asr.stream import StreamConfig
from ..errors import WorkbenchError
from ..figures import png, style
from ..paths import DEFAULT_ASR, EXAMPLES_DIR
from ..timeline import stream_timeline
from ..tuning import LIVE, GridPoint, decoder, stream_source, with_tail
from .ctc_views import message


def timeline_panel(stream: StreamConfig | str = LIVE, example: str = "clean", asr=DEFAULT_ASR, use_lm: bool = True,
                   title: str | None = None) -> widgets.Widget:
    """The timeline of ``example`` (a name in ``audio_example/``, followed by 2 s of faint noise,
    :func:`workbench.tuning.with_tail`) streamed as ``stream`` says (:data:`~workbench.tuning.LIVE`,
    :data:`~workbench.tuning.CACHE_AWARE` or buffered sizes) by ``asr`` (with its LM when ``use_lm``);
    titled with the stream and the decoder it really uses in words unless ``title`` is given. A missing model or example is one
    line instead."""
    from ..audio import load_audio
    from ..models import load_models

    try:
        _, transcriber = load_models(None, str(asr), "cpu")
        audio = load_audio(EXAMPLES_DIR / f"{example}.wav")
        model, config = stream_source(transcriber, stream)
    except WorkbenchError as error:
        return message(str(error))
    with rc_context(style()):
        figure = stream_timeline(model.streamer(config, use_lm=use_lm), with_tail(audio),
                                 title or GridPoint(1.0, decoder(transcriber, stream, use_lm) == "lm", stream).setting)
        image = widgets.Image(value=png(figure), format="png")
    image.add_class("wb-timeline")
    return image
