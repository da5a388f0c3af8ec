"""Command line: ``python -m workbench transcribe|enhance ...``."""
import argparse
import json
import signal
import sys
from pathlib import Path

from .asr.stream import StreamConfig
from .cli_args import LIVE_HELP, add_model_options, at_least_zero, dry, listed, positive_seconds, seconds
from .denoise import DEFAULT_DRY
from .errors import WorkbenchError, out_of_memory, printable
from .tuning import DEFAULT_DRYS, best, csv_safe, evaluate, has_live_mode, streams_from, summarize, unreadable


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2, like every other error of the command line."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m workbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    transcribe = commands.add_parser("transcribe", help="stream a transcript of a file or the microphone")
    transcribe.add_argument("path", nargs="?", help="audio file (not needed with --mode microphone)")
    transcribe.add_argument("--mode", choices=("file", "microphone"), default="file")
    transcribe.add_argument("--input-device", help="microphone index or part of its name")
    stream = StreamConfig()
    buffered = "buffered streaming instead of the live mode"
    transcribe.add_argument("--chunk-s", type=positive_seconds, help=f"ASR chunk length ({buffered}; default {stream.chunk_s:g})")
    transcribe.add_argument("--left-s", type=seconds, help=f"ASR left context ({buffered}; default {stream.left_s:g})")
    transcribe.add_argument("--right-s", type=seconds, help=f"ASR right context ({buffered}; default {stream.right_s:g})")
    transcribe.add_argument("--json", action="store_true", help="one JSON object per event (--format json)")
    transcribe.add_argument("--format", choices=("text", "json", "srt", "vtt"), default="text",
                            help="events as text or JSON lines as they come, or subtitles from the finals at the end")

    enhance = commands.add_parser("enhance", help="write the denoised (dry-mixed) audio")
    enhance.add_argument("input")
    enhance.add_argument("output")

    add_evaluate_arguments(commands.add_parser("evaluate", help="CER/WER over a grid of dry values"))

    from .serve.cli import add_arguments as add_serve_arguments

    add_serve_arguments(commands.add_parser("serve", help="run the streaming recognition service (HTTP, websockets)"))

    add_model_options(transcribe)
    add_model_options(enhance, "denoiser", "device", "quantize")
    for command in (transcribe, enhance):
        command.add_argument("--dry", type=dry, default=DEFAULT_DRY, help="share of the raw signal, 0..1")
    return parser


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m workbench evaluate``."""
    parser.add_argument("source", help="JSON-lines manifest (audio_filepath, text) or folder of wav + txt")
    parser.add_argument("--dry", type=listed(dry), default=list(DEFAULT_DRYS), help="dry values, e.g. 0,0.05,0.2,0.5,1")
    parser.add_argument("--chunk-s", type=listed(positive_seconds), help="stream with these chunk lengths (default: offline)")
    parser.add_argument("--left-s", type=listed(seconds), help="left contexts when streaming (default 2)")
    parser.add_argument("--right-s", type=listed(seconds), help="right contexts when streaming (default 0.5)")
    parser.add_argument("--out", help="write the per-file table as CSV")
    parser.add_argument("--plot", help="draw corpus CER against dry into this PNG file")
    parser.add_argument("--lag-plot", help="draw the streams' corpus CER against lag p95 into this PNG file")
    parser.add_argument("--workers", type=at_least_zero, help="local worker processes (default: one per CPU; 0: in this process)")
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    add_model_options(parser, live={"help": f"{LIVE_HELP}; with one, the live mode is a decoding of the grid"})
    parser.add_argument("--decoder", type=lambda text: [name.strip() for name in text.split(",")], default=["lm"],
                        help="decoders of the grid: greedy, lm (beam search with the LM) or greedy,lm")


def _print_event(event, as_json: bool, live: bool) -> None:
    if as_json:
        print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
        return
    text = printable(event.text)
    if event.final:
        print(f"\r\033[K[{event.start_s:6.2f} - {event.end_s:6.2f}] {text}" if live
              else f"[{event.start_s:6.2f} - {event.end_s:6.2f}] {text}", flush=True)
    elif live:
        print(f"\r\033[K… {text}", end="", flush=True)


def _transcribe(args) -> None:
    from .audio import load_audio
    from .live import LiveStream
    from .models import load_models
    from .subtitles import FORMATS, subtitles

    if args.mode == "file" and not args.path:
        raise WorkbenchError("transcribe needs an audio file path (or --mode microphone)")
    source = None
    if args.mode == "microphone":
        from .sources import MicrophoneSource

        source = MicrophoneSource(args.input_device)
    else:
        audio = load_audio(args.path)
    denoiser, transcriber = load_models(args.denoiser if args.dry < 1.0 else None, args.asr, args.device, args.lm,
                                        args.quantize, args.live)
    sizes = (args.chunk_s, args.left_s, args.right_s)
    config = None if sizes == (None, None, None) else streams_from(*([size] if size is not None else None
                                                                     for size in sizes))[0]
    if source is None:
        events = (event for _, new in LiveStream.for_file(audio, transcriber, denoiser, args.dry, config=config).run(audio)
                  for event in new)
    else:
        events = _record(source, LiveStream(transcriber, denoiser, args.dry, config=config))
        signal.signal(signal.SIGINT, lambda *_: source.stop())  # stop, then flush the stream
        print(f"recording from {source.name}; Ctrl-C to stop", file=sys.stderr)
    form = "json" if args.json else args.format
    if form in FORMATS:
        print(subtitles([event for event in events if event.final], form), end="", flush=True)
        return
    live = sys.stdout.isatty() and form == "text"
    for event in events:
        _print_event(event, form == "json", live)


def _record(source, stream):
    """Events of a live source driven through the core :class:`~workbench.live.LiveStream`."""
    for chunk in source:
        yield from stream.feed(chunk)
    yield from stream.finish()


def _enhance(args) -> None:
    """Decode, denoise and write block by block (two decoding passes: the first finds the std that
    the offline denoiser normalises by), so memory stays flat in the file's length."""
    from .audio import audio_blocks, load_audio
    from .denoise import load_denoiser
    from .denoise.denoiser import signal_std

    if Path(args.output).resolve() == Path(args.input).resolve():
        raise WorkbenchError("enhance writes a new file: give an output path other than the input")
    if args.dry == 1.0:
        _write_blocks(args.output, audio_blocks(args.input))
        return
    scale = signal_std(audio_blocks(args.input))  # also checks the whole input before any model loads
    denoiser = load_denoiser(args.denoiser, args.device, args.quantize)
    if denoiser.layers is not None:  # causal: the exact streamer, in blocks
        blocks = denoiser.enhance_blocks(audio_blocks(args.input), args.dry, scale)
    else:
        blocks = [denoiser.enhance(load_audio(args.input), args.dry)]
    _write_blocks(args.output, blocks)


def _write_blocks(path: str, blocks) -> None:
    """Write 16 kHz mono blocks to ``path`` (format from its extension); no partial file is left on error."""
    import soundfile

    from .audio import SAMPLE_RATE

    try:
        with soundfile.SoundFile(path, "w", SAMPLE_RATE, 1) as out:
            for block in blocks:
                out.write(block)
    except (soundfile.LibsndfileError, TypeError, ValueError, OSError) as error:
        Path(path).unlink(missing_ok=True)
        raise WorkbenchError(f"cannot write {path}: {error}") from None
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


def _print_dashboard(link: str | None) -> None:
    if link:
        print(f"Dask dashboard: {link}", file=sys.stderr)


def run_evaluate(args) -> int:
    """``python -m workbench evaluate``: print corpus CER/WER (and a stream's latencies) per grid
    point, and the best dry."""
    try:
        for path in (args.out, args.plot, args.lag_plot):
            if path and not Path(path).resolve().parent.is_dir():
                raise WorkbenchError(f"cannot write {path}: its folder does not exist")
        streams = streams_from(args.chunk_s, args.left_s, args.right_s, has_live_mode(args.asr, args.live))
        results = evaluate(args.source, args.dry, streams, denoiser=args.denoiser, asr=args.asr, lm=args.lm,
                           quantize=args.quantize, live=args.live, device=args.device, scheduler=args.scheduler,
                           workers=args.workers, on_start=_print_dashboard, decoders=args.decoder)
        if args.out:
            csv_safe(results).to_csv(args.out, index=False)
        for file, error in unreadable(results).items():
            print(f"skipped {file}: {error}", file=sys.stderr)
        summary = summarize(results)
        if summary.empty:
            raise WorkbenchError(f"no file of {args.source} could be read")
        if args.plot:
            from .figures import cer_plot

            cer_plot(summary).savefig(args.plot, dpi=100)
        if args.lag_plot:
            from .figures import cer_lag_plot

            if summary.lag_p95_s.isna().all():
                raise WorkbenchError("--lag-plot needs a stream in the grid (the live mode or --chunk-s)")
            cer_lag_plot(summary).savefig(args.lag_plot, dpi=100)
    except WorkbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(summary.dropna(axis=1, how="all").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    top = best(summary)
    print(f"best dry: {top.dry:g} (CER {top.cer:.4f}, WER {top.wer:.4f})")
    return 0


def _terminate(signum, _frame):
    """SIGTERM ends the command as an exception would, so temporary folders are removed."""
    sys.exit(128 + signum)


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = _parser().parse_args(argv)
    if args.command == "evaluate":
        return run_evaluate(args)
    try:
        if args.command == "serve":
            from .serve.cli import run

            return run(args)
        (_transcribe if args.command == "transcribe" else _enhance)(args)
    except WorkbenchError as error:
        print(f"error: {printable(error)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as error:
        if not out_of_memory(error):
            raise
        print(f"error: out of memory ({printable(str(error).splitlines()[0])[:160]})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
