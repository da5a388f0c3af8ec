"""Speech recognition with NeMo CTC models: offline and buffered streaming."""
from .stream import CTCStream, TranscriptEvent
from .transcriber import Transcriber, load_transcriber
from .words import Word

__all__ = ["CTCStream", "Transcriber", "TranscriptEvent", "Word", "load_transcriber"]
