"""The service's limits, and the count of streams running under them."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server.

    ``max_message_bytes`` bounds an HTTP body and a websocket frame (413 / close 1009);
    ``max_stream_s`` the audio of one request or stream; ``max_streams`` the requests and
    streams served at once (503 / close 1013); ``idle_timeout_s`` the silence of a
    websocket client before the server closes it (1008).
    """

    max_message_bytes: int = 16 * 1024 * 1024
    max_stream_s: float = 3600.0
    max_streams: int = 8
    idle_timeout_s: float = 30.0

    def __post_init__(self):
        for name in ("max_message_bytes", "max_stream_s", "max_streams", "idle_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class StreamSlots:
    """At most ``size`` streams at once; the event loop is the only caller, so no lock is needed."""

    def __init__(self, size: int):
        self.size, self.active = size, 0

    def take(self) -> bool:
        """Take a slot; False when all are in use."""
        if self.active >= self.size:
            return False
        self.active += 1
        return True

    def give_back(self) -> None:
        self.active -= 1
