"""Our exact Demucs streamer vs facebook's ``DemucsStreamer`` on the same dns48 weights and input.

    python benchmarks/demucs_streaming.py [--seconds 10] [--hops 16,64] [--threads 1,2] [--repeats 3] [--hidden 48]

For each thread count and hop: the real-time factor of the model's offline
``forward``, of our offline pass (``Denoiser.denoise``: the streaming layers
over the whole signal at once), of our streamer (float, and int8 with ``quantize=True``),
facebook's streamer, and facebook's streamer with oneDNN switched off (its
LSTM then skips oneDNN's weight reorder on every call, which is most of its
cost at small hops); the ratios facebook / ours and ours / our offline pass;
and each output's deviation from ``forward`` (max abs, relative L2). Ours is given
the offline normaliser (the input's std); facebook's always uses a running
std. Every RTF is the best of ``--repeats`` runs taken in turn, as wall-clock
time and, in brackets, as CPU time of this process per audio second (which
other jobs on a shared machine disturb far less); ratios come from the same
run. Last, a per-stage profile of our float streamer (1 thread) at each hop
and in the offline pass: time per second of audio in each resampler, encoder
and decoder layer, the LSTM, and the rest (Python, numpy, the dry mix).
``--hidden`` changes dns48's width (48) to another, so the weights' size can be set below or
above the CPU's last-level cache.
facebook's package is read from .venv/reference (installed by setup.sh).
"""
import argparse
import collections
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(sys.prefix) / "reference"))
from workbench.audio import SAMPLE_RATE
from workbench.denoise import Demucs, Denoiser
from workbench.denoise.denoiser import FILE_BLOCK_S


def deviation(streamed: np.ndarray, offline: np.ndarray) -> str:
    n = min(len(streamed), len(offline))
    diff = streamed[:n] - offline[:n]
    return f"{np.abs(diff).max():.1e}, {np.linalg.norm(diff) / np.linalg.norm(offline[:n]):.1e}"


@torch.inference_mode()
def forward(model, audio):
    return model(torch.from_numpy(audio).view(1, 1, -1))[0, 0].numpy()


def ours(denoiser, audio, hop_ms, scale):
    stream = denoiser.stream(dry=0.0, hop_ms=hop_ms, scale=scale)
    pieces = [stream.feed(c) for c in np.array_split(audio, len(audio) // 256)]
    return np.concatenate(pieces + [stream.flush()])


def facebooks(model, audio, hop_ms, onednn=True):
    from denoiser.demucs import DemucsStreamer

    streamer = DemucsStreamer(model, num_frames=max(1, round(hop_ms * 16 / model.total_stride)))
    x = torch.from_numpy(audio)[None]
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=onednn):
        pieces = [streamer.feed(c) for c in x.split(256, dim=-1)] + [streamer.flush()]
    return torch.cat(pieces, -1)[0].numpy()


def best_of(runs: dict, repeats: int, seconds: float) -> tuple[dict, dict, dict]:
    """Run each named function ``repeats`` times in turn; best wall-clock RTF, best CPU-time RTF
    (CPU seconds of this process per audio second) and last output of each."""
    rtf, cpu, output = {name: float("inf") for name in runs}, {name: float("inf") for name in runs}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            output[name] = run()
            rtf[name] = min(rtf[name], (time.perf_counter() - start) / seconds)
            cpu[name] = min(cpu[name], (time.process_time() - start_cpu) / seconds)
    return rtf, cpu, output


class Timed:
    """Wraps a stage of the streamer and adds its time to ``totals[name]``."""

    def __init__(self, name, stage, totals):
        self.name, self.stage, self.totals = name, stage, totals

    def __call__(self, *args):
        start = time.perf_counter()
        result = self.stage(*args)
        self.totals[self.name] += time.perf_counter() - start
        return result


def profile(model, audio, hop_ms, scale, seconds, piece=256):
    """Milliseconds per audio second in each stage of our float streamer at ``hop_ms`` and in all
    (``total``), fed ``piece`` samples at a time."""
    stream = Denoiser(model).stream(dry=0.0, hop_ms=hop_ms, scale=scale)
    totals = collections.defaultdict(float)
    for kind in ("_up", "_encode", "_decode", "_down"):
        stages = getattr(stream, kind)
        stages[:] = [Timed(f"{kind[1:]} {i}", stage, totals) for i, stage in enumerate(stages)]
    layers = stream.layers
    layers.recur = Timed("lstm", layers.recur, totals)
    start = time.perf_counter()
    for chunk in np.array_split(audio, max(1, len(audio) // piece)):
        stream.feed(chunk)
    stream.flush()
    elapsed = time.perf_counter() - start
    del layers.recur
    totals["rest (python, numpy, mix)"] = elapsed - sum(totals.values())
    totals["total"] = elapsed
    return {name: value / seconds * 1e3 for name, value in totals.items()}


def print_profiles(model, audio, hops, scale, seconds, repeats):
    """Per-stage profile (best of ``repeats``) at each streaming hop and in the offline pass's blocks."""
    columns = [*hops, 1000 * FILE_BLOCK_S]
    pieces = [256] * len(hops) + [round(FILE_BLOCK_S * SAMPLE_RATE)]  # 16 ms as from a microphone; whole blocks
    best = {hop: {} for hop in columns}
    for _ in range(repeats):
        for hop, piece in zip(columns, pieces):
            for name, value in profile(model, audio, hop, scale, seconds, piece).items():
                best[hop][name] = min(value, best[hop].get(name, value))
    names = [f"{hop:.0f} ms hop" for hop in hops] + ["offline pass"]
    print(f"\nper-stage profile, ours, float, {torch.get_num_threads()} thread(s), ms per audio second "
          f"(best of {repeats}; the offline pass is the streamer at a {FILE_BLOCK_S:.0f} s hop):")
    print(f"  {'stage':28s} " + " ".join(f"{name:>13s}" for name in names))
    for stage in best[columns[0]]:
        print(f"  {stage:28s} " + " ".join(f"{best[hop][stage]:13.1f}" for hop in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hops", default="16,64", help="hop sizes in ms")
    parser.add_argument("--threads", default="1,2", help="torch intra-op thread counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=48, help="the model's width: 48 is dns48")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="TF32")  # printed when oneDNN is switched off
    torch.manual_seed(0)
    from denoiser.demucs import Demucs as FacebookDemucs

    reference = FacebookDemucs(hidden=args.hidden).eval()
    model = Demucs.preset("dns48", hidden=args.hidden).eval()
    model.load_state_dict(reference.state_dict())
    exact, quantized = Denoiser(model), Denoiser(model, quantize=True)
    audio = (np.random.default_rng(0).standard_normal(int(args.seconds * 16000)) * 0.1).astype(np.float32)
    scale = Denoiser.offline_scale(audio)
    parameters = sum(weight.numel() for weight in model.parameters())
    name = "dns48" if args.hidden == 48 else f"dns48 at hidden {args.hidden}"
    print(f"{name} ({parameters / 1e6:.1f} M parameters, {parameters * 4 / 2**20:.0f} MiB, random weights), "
          f"{args.seconds:.0f} s of noise, torch {torch.__version__}, best of {args.repeats}")
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"\n{threads} thread(s)")
        print("hop | Demucs.forward RTF | offline (Denoiser.denoise) RTF | ours RTF | int8 RTF | facebook RTF | "
              "facebook, oneDNN off | facebook / ours | ours / offline | deviation from forward: ours; int8; facebook")
        for hop in map(float, args.hops.split(",")):
            rtf, cpu, output = best_of({
                "forward": lambda: forward(model, audio),
                "offline": lambda: exact.denoise(audio),
                "ours": lambda hop=hop: ours(exact, audio, hop, scale),
                "int8": lambda hop=hop: ours(quantized, audio, hop, scale),
                "facebook": lambda hop=hop: facebooks(reference, audio, hop),
                "facebook, oneDNN off": lambda hop=hop: facebooks(reference, audio, hop, onednn=False),
            }, args.repeats, args.seconds)
            offline = output["forward"]
            both = {name: f"{rtf[name]:.3f} ({cpu[name]:.3f})" for name in rtf}
            print(f"{hop:3.0f} ms | {both['forward']} | {both['offline']} | {both['ours']} | {both['int8']} | "
                  f"{both['facebook']} | {both['facebook, oneDNN off']} | "
                  f"{rtf['facebook'] / rtf['ours']:.2f} ({cpu['facebook'] / cpu['ours']:.2f}) | "
                  f"{rtf['ours'] / rtf['offline']:.2f} ({cpu['ours'] / cpu['offline']:.2f}) | "
                  f"{deviation(output['ours'], offline)}; "
                  f"{deviation(output['int8'], offline)}; {deviation(output['facebook'], offline)}")
    torch.set_num_threads(1)
    print_profiles(model, audio, [float(hop) for hop in args.hops.split(",")], scale, args.seconds, args.repeats)


if __name__ == "__main__":
    main()
