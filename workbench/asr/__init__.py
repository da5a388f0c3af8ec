"""Speech recognition with NeMo CTC models: offline and buffered streaming."""
from .stream import CTCStream, TranscriptEvent
from .transcriber import Transcriber, load_transcriber

__all__ = ["CTCStream", "Transcriber", "TranscriptEvent", "load_transcriber"]
