"""``python -m workbench serve``: load the models once and run the service on uvicorn."""
import argparse
import ipaddress
import logging
import os

from ..cli_args import LIVE_HELP, LM_HELP, QUANTIZE_HELP, live_choice, lm_choice
from ..denoise import DEFAULT_DRY
from ..errors import WorkbenchError
from ..paths import DEFAULT_ASR, DEFAULT_DENOISER
from .limits import Limits
from .protocols import MAX_RATE, MIN_RATE

LOOPBACK_NAMES = ("localhost",)
WS_MAX_QUEUE = 4  # frames waiting unread per websocket (uvicorn's 32 let one client park 32 x 16 MiB)
UVICORN_HANDSHAKE_LINES = ('%s - "WebSocket %s" [accepted]', '%s - "WebSocket %s" 403',
                           "connection open", "connection closed")


def _rate(value: str) -> int:
    rate = int(value)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise argparse.ArgumentTypeError(f"must be between {MIN_RATE} and {MAX_RATE}")
    return rate


def _positive(kind):
    def parse(value: str):
        number = kind(value)
        if not number > 0:
            raise argparse.ArgumentTypeError("must be positive")
        return number
    return parse


def add_arguments(parser: argparse.ArgumentParser, dry_type) -> None:
    defaults = Limits()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--denoiser", default=str(DEFAULT_DENOISER), help="Demucs .th checkpoint")
    parser.add_argument("--asr", default=str(DEFAULT_ASR), help="NeMo CTC .nemo file")
    parser.add_argument("--lm", type=lm_choice, default=True, help=LM_HELP)
    parser.add_argument("--live", type=live_choice, default=True, help=LIVE_HELP)
    parser.add_argument("--dry", type=dry_type, default=DEFAULT_DRY, help="default share of the raw signal, 0..1")
    parser.add_argument("--sample-rate", type=_rate, default=16000,
                        help="rate of PCM that names none (?sample_rate= overrides it per request)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quantize", action="store_true", help=QUANTIZE_HELP)
    parser.add_argument("--max-streams", type=_positive(int), default=defaults.max_streams,
                        help="requests and streams served at once (then 503 / close 1013)")
    parser.add_argument("--max-message-bytes", type=_positive(int), default=defaults.max_message_bytes,
                        help="largest HTTP body or websocket frame (then 413 / close 1009)")
    parser.add_argument("--max-stream-s", type=_positive(float), default=defaults.max_stream_s,
                        help="longest audio of one request or stream")
    parser.add_argument("--idle-timeout-s", type=_positive(float), default=defaults.idle_timeout_s,
                        help="a silent websocket client is closed after this long")
    parser.add_argument("--min-body-bytes-per-s", type=_positive(float),
                        default=os.environ.get("WORKBENCH_MIN_BODY_BYTES_PER_S", str(defaults.min_body_bytes_per_s)),
                        help="an HTTP body slower than this (after a 2 s grace) is cut off with 408; "
                             "default: $WORKBENCH_MIN_BODY_BYTES_PER_S, else %(default)s")
    parser.add_argument("--max-queued-s", type=_positive(float), default=defaults.max_queued_s,
                        help="a stream this far ahead of inference is not read from until it catches up")
    parser.add_argument("--ping-interval-s", type=_positive(float), default=defaults.ping_interval_s,
                        help="websocket keepalive ping interval")
    parser.add_argument("--ping-timeout-s", type=_positive(float), default=defaults.ping_timeout_s,
                        help="a websocket client whose pong is this late (not counting back-pressure) "
                             "is closed with 1011")
    parser.add_argument("--token", default=os.environ.get("WORKBENCH_TOKEN"),
                        help="require this token (Authorization: Bearer, or ?token= on websockets); "
                             "default: $WORKBENCH_TOKEN")
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback host without a token")
    parser.add_argument("--ssl-certfile", help="serve https/wss with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="... and this private key (PEM)")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(args) -> None:
    """Refuse to serve other machines without a token, unless ``--insecure``; certificate and key go together."""
    if not is_loopback(args.host) and not args.token and not args.insecure:
        raise WorkbenchError(f"refusing to serve {args.host} without --token (anyone who reaches it could "
                             "use it); give --token T, or --insecure if the network is trusted")
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise WorkbenchError("--ssl-certfile and --ssl-keyfile go together")
    for path in (args.ssl_certfile, args.ssl_keyfile):
        if path and not os.path.isfile(path):
            raise WorkbenchError(f"file not found: {path}")


class _OneLinePerStream(logging.Filter):
    """Drop uvicorn's own websocket handshake lines: the service logs one line per stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in UVICORN_HANDSHAKE_LINES


def run(args) -> int:
    import uvicorn

    from ..models import load_models
    from .app import Service, log
    from .engine import Engine, configure_allocator

    check_exposure(args)
    configure_allocator()
    limits = Limits(args.max_message_bytes, args.max_stream_s, args.max_streams, args.idle_timeout_s,
                    args.min_body_bytes_per_s, args.max_queued_s, args.ping_interval_s, args.ping_timeout_s)
    handler = logging.StreamHandler(private_stderr())
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    denoiser, transcriber = load_models(args.denoiser, args.asr, args.device, args.lm, args.quantize, args.live)
    engine = Engine(transcriber, denoiser, args.dry, args.sample_rate)
    config = uvicorn_config(Service(engine, limits, args.token), args.host, args.port,
                            ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    try:
        uvicorn.Server(config).run()
    finally:
        engine.close()
    return 0


def private_stderr():
    """A text stream on a copy of fd 2: the log goes on even while a decoder silences fd 2."""
    return open(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")


def uvicorn_config(service, host: str, port: int, **options):
    """uvicorn on the websockets implementation, with the limits' keepalive (see :mod:`.keepalive`);
    frames over the message limit are closed with 1009, and at most ``WS_MAX_QUEUE`` frames wait
    unread per connection."""
    import uvicorn

    from .keepalive import PatientWebSocketProtocol

    limits = service.limits
    config = uvicorn.Config(service.app(), host=host, port=port, ws=PatientWebSocketProtocol,
                            ws_max_size=limits.max_message_bytes, ws_max_queue=WS_MAX_QUEUE,
                            ws_ping_interval=limits.ping_interval_s, ws_ping_timeout=limits.ping_timeout_s,
                            access_log=False, **options)
    logging.getLogger("uvicorn.error").addFilter(_OneLinePerStream())
    return config
