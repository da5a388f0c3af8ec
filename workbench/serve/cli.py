"""``python -m workbench serve``: the app of :func:`~workbench.serve.create_app` on uvicorn, with what
the app cannot set itself: the websocket implementation, its frame size and queue, its keepalive,
no uvicorn access log (the app logs one line per request or stream), https; and no bind beyond
loopback without a token."""
import argparse
import ipaddress
import logging
import os

from ..errors import WorkbenchError
from .limits import Limits
from .settings import Listen, Settings, from_args
from .settings import add_arguments as add_settings

LOOPBACK_NAMES = ("localhost",)
WS_MAX_QUEUE = 4  # frames waiting unread per websocket (uvicorn's 32 let one client park 32 x 16 MiB)
UVICORN_HANDSHAKE_LINES = ('%s - "WebSocket %s" [accepted]', '%s - "WebSocket %s" 403',
                           "connection open", "connection closed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options: every setting of :class:`Settings` and :class:`Listen`, each also a
    ``WORKBENCH_*`` variable."""
    add_settings(parser, Listen)
    add_settings(parser, Settings)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(listen: Listen, token: str | None) -> None:
    """Refuse to serve other machines without a token, unless ``--insecure``; certificate and key go together."""
    if not is_loopback(listen.host) and not token and not listen.insecure:
        raise WorkbenchError(f"refusing to serve {listen.host} without --token (anyone who reaches it could "
                             "use it); give --token T, or --insecure if the network is trusted")
    if bool(listen.ssl_certfile) != bool(listen.ssl_keyfile):
        raise WorkbenchError("--ssl-certfile and --ssl-keyfile go together")
    for path in (listen.ssl_certfile, listen.ssl_keyfile):
        if path and not os.path.isfile(path):
            raise WorkbenchError(f"file not found: {path}")


class _OneLinePerStream(logging.Filter):
    """Drop uvicorn's own websocket handshake lines: the service logs one line per stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in UVICORN_HANDSHAKE_LINES


def run(args) -> int:
    import uvicorn

    from .app import create_app

    settings, listen = from_args(Settings, args), from_args(Listen, args)
    check_exposure(listen, settings.token)
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings.limits, listen.host, listen.port,
                                           ssl_certfile=listen.ssl_certfile, ssl_keyfile=listen.ssl_keyfile))
    try:
        server.run()
    except SystemExit:  # uvicorn's exit when the app did not start (its one-line error is logged)
        return 2
    return 0


def uvicorn_config(app, limits: Limits, host: str, port: int, **options):
    """uvicorn on the websockets implementation, with the limits' keepalive (see :mod:`.keepalive`);
    frames over the message limit are closed with 1009, and at most ``WS_MAX_QUEUE`` frames wait
    unread per connection."""
    import uvicorn

    from .keepalive import PatientWebSocketProtocol

    config = uvicorn.Config(app, host=host, port=port, ws=PatientWebSocketProtocol,
                            ws_max_size=limits.max_message_bytes, ws_max_queue=WS_MAX_QUEUE,
                            ws_ping_interval=limits.ping_interval_s, ws_ping_timeout=limits.ping_timeout_s,
                            access_log=False, **options)
    logging.getLogger("uvicorn.error").addFilter(_OneLinePerStream())
    return config
