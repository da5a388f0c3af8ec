"""The service's limits, and the counts of bodies and streams running under them."""
from dataclasses import dataclass, field, fields

BODY_GRACE_S = 2.0  # a body may start this late; after that it must keep up with min_body_bytes_per_s


def limit(default, help: str):
    """A field of :class:`Limits`, with the ``--flag`` help its option shows (see :mod:`.settings`)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server.

    ``max_message_bytes`` bounds an HTTP body and a websocket frame (413 / close 1009);
    ``max_stream_s`` the audio of one request or stream (413 / close 1008); ``max_streams``
    the requests and streams served at once (503 / close 1013), while at most twice as many
    request bodies are received at once (503); a body must arrive at ``min_body_bytes_per_s``
    after a grace of ``BODY_GRACE_S`` (408). ``idle_timeout_s`` is how long a websocket client
    may send no audio samples before the server closes it (1008). A client ``max_queued_s`` of
    audio ahead of inference is not read from until inference catches up (back-pressure);
    the server pings every ``ping_interval_s`` and closes a client whose pong takes longer
    than ``ping_timeout_s`` of the time the server was reading (1011).
    """

    max_message_bytes: int = limit(16 * 1024 * 1024, "largest HTTP body or websocket frame (then 413 / close 1009)")
    max_stream_s: float = limit(3600.0, "longest audio of one request or stream")
    max_streams: int = limit(8, "requests and streams served at once (then 503 / close 1013)")
    idle_timeout_s: float = limit(30.0, "a silent websocket client is closed after this long")
    min_body_bytes_per_s: float = limit(16384.0, "an HTTP body slower than this (after a 2 s grace) "
                                                 "is cut off with 408")  # 128 kbit/s
    max_queued_s: float = limit(60.0, "a stream this far ahead of inference is not read from until it catches up")
    ping_interval_s: float = limit(20.0, "websocket keepalive ping interval")
    ping_timeout_s: float = limit(20.0, "a websocket client whose pong is this late (not counting "
                                        "back-pressure) is closed with 1011")

    def __post_init__(self):
        for name in (spec.name for spec in fields(self)):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class Slots:
    """At most ``size`` holders at once; the event loop is the only caller, so no lock is needed."""

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
