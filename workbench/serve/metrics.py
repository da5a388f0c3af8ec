"""``GET /metrics``: the service's figures in Prometheus text format, one registry per app.

| metric | type | what |
|---|---|---|
| ``workbench_active_streams`` | gauge | requests and streams being served (they share ``--max-streams``) |
| ``workbench_audio_seconds_total`` | counter | seconds of audio received for recognition or enhancement |
| ``workbench_real_time_factor`` | histogram | per request or stream: inference compute seconds / audio seconds |
| ``workbench_text_lag_seconds`` | histogram | per websocket event: from the arrival of the audio at the event's end (``end_s``) to the event's send; label ``event`` = partial or final |
| ``workbench_refusals_total`` | counter | refused requests and streams, label ``reason`` |

Refusal reasons: ``unauthorized`` (401 / 1008), ``busy`` (503 / 1013), ``too_large`` (413 / 1009),
``too_long`` (audio over ``--max-stream-s``), ``slow_body`` (408), ``idle`` (1008), ``invalid``
(other 400s / 1003 / 1007), ``no_denoiser`` (409).
"""
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
LAG_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """The figures of one app; ``active()`` counts the streams being served."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, active: Callable[[], int]):
        self.registry = registry = CollectorRegistry()
        Gauge("workbench_active_streams", "Requests and streams being served (they share --max-streams)",
              registry=registry).set_function(active)
        self.audio_s = Counter("workbench_audio_seconds", "Seconds of audio received for recognition or enhancement",
                               registry=registry)
        self.rtf = Histogram("workbench_real_time_factor",
                             "Per request or stream: inference compute seconds over audio seconds",
                             buckets=RTF_BUCKETS, registry=registry)
        self.lag = Histogram("workbench_text_lag_seconds",
                             "Per websocket event: seconds from the arrival of the audio at the event's end "
                             "to the event's send", ["event"], buckets=LAG_BUCKETS, registry=registry)
        self.refusals = Counter("workbench_refusals", "Refused requests and streams", ["reason"], registry=registry)

    def finished(self, note: dict) -> None:
        """Count the real-time factor of one request or stream from its ``note`` (``audio_s``, ``compute_s``)."""
        if note.get("audio_s") and "compute_s" in note:
            self.rtf.observe(note["compute_s"] / note["audio_s"])

    def text(self) -> bytes:
        return generate_latest(self.registry)
