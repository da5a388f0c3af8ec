"""Our exact Demucs streamer vs facebook's ``DemucsStreamer`` on the same dns48 weights and input.

    python benchmarks/demucs_streaming.py [--seconds 10] [--hops 16,32,64,128]

For each hop: real-time factor (2 threads) and the deviation of the streamed
output from the offline model (max abs and relative L2). Ours is given the
offline normaliser (the input's std); facebook's streamer always uses a
running std, which settles quickly on the stationary noise used here.
facebook's package is read from .venv/reference (installed by setup.sh).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(sys.prefix) / "reference"))
from workbench.denoise import Demucs, Denoiser  # noqa: E402


def deviation(streamed: np.ndarray, offline: np.ndarray) -> tuple[float, float]:
    n = min(len(streamed), len(offline))
    diff = streamed[:n] - offline[:n]
    return float(np.abs(diff).max()), float(np.linalg.norm(diff) / np.linalg.norm(offline[:n]))


def ours(model, audio, hop_ms, scale):
    stream = Denoiser(model).stream(dry=0.0, hop_ms=hop_ms, scale=scale)
    pieces = [stream.feed(c) for c in np.array_split(audio, len(audio) // 256)]
    return np.concatenate(pieces + [stream.flush()])


def facebooks(model, audio, hop_ms):
    from denoiser.demucs import DemucsStreamer

    streamer = DemucsStreamer(model, num_frames=max(1, round(hop_ms * 16 / model.total_stride)))
    x = torch.from_numpy(audio)[None]
    pieces = [streamer.feed(c) for c in x.split(256, dim=-1)] + [streamer.flush()]
    return torch.cat(pieces, -1)[0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hops", default="16,32,64,128", help="hop sizes in ms")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from denoiser.demucs import Demucs as FacebookDemucs

    reference = FacebookDemucs(hidden=48).eval()
    model = Demucs(hidden=48).eval()
    model.load_state_dict(reference.state_dict())
    audio = (np.random.default_rng(0).standard_normal(int(args.seconds * 16000)) * 0.1).astype(np.float32)
    with torch.no_grad():
        start = time.perf_counter()
        offline = model(torch.from_numpy(audio)[None, None])[0, 0].numpy()
        offline_rtf = (time.perf_counter() - start) / args.seconds
    print(f"dns48 (18.9 M), {args.seconds:.0f} s input, {args.threads} threads; offline RTF {offline_rtf:.3f}")
    print("hop ms | ours: RTF, max |diff|, rel L2 | facebook: RTF, max |diff|, rel L2")
    scale = float(torch.from_numpy(audio).std())
    for hop in map(float, args.hops.split(",")):
        with torch.no_grad():
            start = time.perf_counter()
            mine = ours(model, audio, hop, scale)
            mine_rtf = (time.perf_counter() - start) / args.seconds
            start = time.perf_counter()
            theirs = facebooks(reference, audio, hop)
            their_rtf = (time.perf_counter() - start) / args.seconds
        m_max, m_rel = deviation(mine, offline)
        t_max, t_rel = deviation(theirs, offline)
        print(f"{hop:6.0f} | {mine_rtf:.3f}, {m_max:.1e}, {m_rel:.1e} | {their_rtf:.3f}, {t_max:.1e}, {t_rel:.1e}")


if __name__ == "__main__":
    main()
