"""python -m workbench.train prepare|data|denoiser|asr|lm|evaluate|average|curves [--out DIR] [--smoke] ...

``prepare ksponspeech|zeroth|manifest ROOT --out DIR`` turns a corpus into 16 kHz WAV and manifests
(``DIR/manifest.json``, official splits beside it); ``asr --train-manifest ... --val-manifest ...`` trains or
fine-tunes (``--init``) on them, on the hardware ``--accelerator --devices --num-nodes --precision`` name.
Otherwise every step reads and writes under ``--out`` (default ``runs/``):
``data`` -> OUT/data, ``denoiser`` -> OUT/denoiser, ``asr`` -> OUT/asr,
``lm`` -> beside the ASR (OUT/asr/asr.lm.npz), ``evaluate`` -> OUT/eval; ``curves RUN... --png F`` plots
the training curves (OUT/asr/curves.csv) of ASR runs; ``average A B --to C`` averages two ASR models'
weights. ``--smoke`` shrinks everything to seconds (for CI).
"""
import argparse
import sys
import time
from pathlib import Path

from ..cli_args import add_model_options, at_least_zero, dry, positive
from ..denoise import DEFAULT_DRY
from ..errors import WorkbenchError


def _log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _kind_weights(text: str) -> dict[str, float]:
    """``babble=3,cafe=3,white=1`` -> ``{"babble": 3.0, ...}``."""
    try:
        return {kind.strip(): float(weight) for kind, weight in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected kind=weight pairs, got {text!r}") from None


def main(argv=None):
    try:
        return _main(argv)
    except WorkbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _main(argv):
    p = argparse.ArgumentParser(prog="python -m workbench.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)

    def common(sp):
        sp.add_argument("--out", default="runs", help="root folder of all training outputs")
        sp.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--threads", type=positive(int), default=2, help="torch threads")
        return sp

    r = sub.add_parser("prepare", help="a corpus (KsponSpeech, Zeroth-Korean, a NeMo manifest) -> 16 kHz WAV, manifests")
    r.add_argument("corpus", choices=("ksponspeech", "zeroth", "manifest"))
    r.add_argument("root", help="the corpus folder (a manifest file for 'manifest')")
    r.add_argument("--out", required=True, help="folder for DIR/manifest.json, the splits and DIR/wav/")
    r.add_argument("--spelling", action="store_true",
                   help="KsponSpeech dual transcriptions (spelling)/(pronunciation): keep the spelling")
    r.add_argument("--workers", type=positive(int), default=2)

    d = common(sub.add_parser("data", help="sentences, espeak-ng speech, noise, manifests"))
    d.add_argument("--n-train", type=int, default=20000)
    d.add_argument("--n-heldout", type=int, default=300)
    d.add_argument("--n-val", type=int, default=100)
    d.add_argument("--workers", type=positive(int), default=2)
    d.add_argument("--n-generator", type=int, default=8000, help="generator sentences spoken for training")
    d.add_argument("--n-kiwi", type=int, default=2500, help="Kiwi-joined template sentences")
    d.add_argument("--n-faker", type=int, default=3500, help="Faker call-centre and in-car phrases")

    n = common(sub.add_parser("denoiser", help="causal Demucs, L1 + multi-resolution STFT"))
    n.add_argument("--minutes", type=positive(float), default=20.0)
    n.add_argument("--init", help=".th to continue from")
    n.add_argument("--hidden", type=positive(int),
                   help="channels of the first layer (default 16, or the init's); larger than the init's "
                        "widens it, keeping what it computes")
    n.add_argument("--batch-size", type=positive(int), default=16)
    n.add_argument("--segment", type=positive(float), default=2.0, help="seconds per training example")
    n.add_argument("--lr", type=positive(float), default=1e-3)
    n.add_argument("--max-steps", type=int, default=-1)
    n.add_argument("--denoise-share", type=at_least_zero, default=0,
                   help="after training, write this many denoised noisy training utterances for the ASR")
    n.add_argument("--dry", type=dry, default=DEFAULT_DRY, help="dry mix of those denoised utterances")
    n.add_argument("--noise", choices=("fresh", "files"), default="fresh",
                   help="a new noise for every example, or crops of the training noise files")
    n.add_argument("--noise-weights", type=_kind_weights,
                   help="how often each fresh noise kind is drawn, e.g. babble=3,cafe=3,white=1 (default: all equally)")
    n.add_argument("--asr-guide", help=".nemo recogniser whose posteriors on the denoised mix should match clean")
    n.add_argument("--guide-weight", type=float, default=1.0)
    n.add_argument("--clean", help="train on your own pairs: clean speech, a folder or facebook denoiser's clean.json")
    n.add_argument("--noisy", help="the noisy counterparts (same file names), a folder or facebook's noisy.json")

    a = common(sub.add_parser("asr", help="NeMo Conformer-CTC on jamo, or a fine-tune of any CTC .nemo"))
    a.add_argument("--minutes", type=positive(float), default=60.0, help="wall-clock budget; a .nemo is saved regularly")
    a.add_argument("--init", help="CTC .nemo to fine-tune (character or BPE; a BPE model keeps its tokenizer)")
    a.add_argument("--train-manifest", nargs="+", default=[],
                   help="train on these manifests (e.g. from `prepare`) instead of the synthetic data")
    a.add_argument("--val-manifest", help="validation manifest (needed with --train-manifest)")
    a.add_argument("--noise-manifest", help="noise files for augmentation (default: the synthetic data's; "
                                            "none with --train-manifest)")
    a.add_argument("--extra-manifest", action="append", default=[], help="more training manifests (NFC text)")
    a.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto")
    a.add_argument("--devices", type=int, default=1, help="processes (GPUs, or CPU processes) per node; >1: DDP")
    a.add_argument("--num-nodes", type=int, default=1)
    a.add_argument("--precision", choices=("32", "16-mixed", "bf16-mixed"), default="32")
    a.add_argument("--max-steps", type=int, default=-1)
    a.add_argument("--batch-size", type=positive(int), default=16)
    a.add_argument("--d-model", type=int, default=144)
    a.add_argument("--layers", type=int, default=8)
    a.add_argument("--lr-peak", type=float, default=3e-3)
    a.add_argument("--warmup", type=int, default=200)
    a.add_argument("--noise-prob", type=float, default=0.6)
    a.add_argument("--speed-prob", type=float, default=0.3)
    a.add_argument("--rooms", type=int, default=0, help="fresh room impulse responses to reverberate with (0: none)")
    a.add_argument("--room-prob", type=float, default=0.3, help="share of utterances put in one of those rooms")
    a.add_argument("--val-every", type=int, default=1000)
    a.add_argument("--save-every", type=float, default=10.0, help="minutes between .nemo saves")
    a.add_argument("--log-every", type=int, default=50, help="steps between training-loss rows of curves.csv")
    a.add_argument("--num-workers", type=int, default=1)
    a.add_argument("--streaming", action="store_true",
                   help="cache-aware streaming encoder (attention context 70 frames back, 6 ahead; causal)")

    m = common(sub.add_parser("lm", help="label n-gram LM for the ASR, fusion tuned on validation"))
    add_model_options(m, "asr", asr={"default": None, "help": "default OUT/asr/asr.nemo; the LM is written beside it"})
    m.add_argument("--order", type=int, default=6)
    m.add_argument("--text", help="sentences to count, one a line (default: the synthetic data's)")
    m.add_argument("--val-manifest", help="utterances to tune the fusion on (default: the synthetic validation set)")

    e = common(sub.add_parser("evaluate", help="CER grid, SI-SDR per noise kind, examples"))
    add_model_options(e, "denoiser", "asr", denoiser={"default": None, "help": "default OUT/denoiser/denoiser.th"},
                      asr={"default": None, "help": "default OUT/asr/asr.nemo"})
    e.add_argument("--limit", type=int, default=0, help="evaluate at most this many utterances")
    e.add_argument("--examples", help="write the audio examples into this folder")

    v = sub.add_parser("average", help="weight-space average of two ASR models (a model and its fine-tune)")
    v.add_argument("first", help=".nemo whose configuration the average keeps")
    v.add_argument("second", help=".nemo of the same architecture")
    v.add_argument("--weight", type=float, default=0.5, help="share of FIRST's weights")
    v.add_argument("--to", required=True, help=".nemo to write")

    c = sub.add_parser("curves", help="plot training loss and validation CER of ASR runs to PNG")
    c.add_argument("runs", nargs="+", help="run folders (holding curves.csv) or curves CSV files")
    c.add_argument("--png", default="curves.png")

    args = p.parse_args(argv)
    if args.step == "prepare":
        from . import prepare
        prepare.prepare(args.corpus, args.root, args.out, spelling=args.spelling, workers=args.workers, log=_log)
        return 0
    if args.step == "asr" and args.train_manifest and not args.val_manifest:
        p.error("--train-manifest needs --val-manifest")
    if args.step == "denoiser" and bool(args.clean) != bool(args.noisy):
        p.error("--clean and --noisy go together")
    if args.step == "curves":
        from . import curves
        missing = [r for r in args.runs if not (Path(r) / "curves.csv").is_file() and not Path(r).is_file()]
        if missing:
            print(f"error: no curves.csv in {', '.join(missing)}", file=sys.stderr)
            return 2
        _log(f"wrote {curves.plot(args.runs, args.png)}")
        return 0
    if args.step == "average":
        from . import asr
        asr.average(args.first, args.second, args.to, args.weight, log=_log)
        return 0
    out = Path(args.out)
    if args.step == "data":
        from . import data
        sizes = {"n_train": 200, "n_heldout": 12, "n_val": 8, "noise_per_kind": 2, "noise_seconds": 4.0,
                     "recipe": data.SMOKE_RECIPE} if args.smoke else \
            {"n_train": args.n_train, "n_heldout": args.n_heldout, "n_val": args.n_val,
                 "recipe": data.Recipe(n_generator=args.n_generator, n_kiwi=args.n_kiwi, n_faker=args.n_faker)}
        data.build(out / "data", seed=args.seed, workers=args.workers, log=_log, **sizes)
    elif args.step == "denoiser":
        from . import denoiser
        kw = {"minutes": args.minutes, "hidden": args.hidden, "batch_size": args.batch_size, "segment": args.segment,
                  "lr": args.lr, "max_steps": args.max_steps, "denoise_share": args.denoise_share, "dry": args.dry,
                  "init": args.init, "noise": args.noise, "asr_guide": args.asr_guide, "guide_weight": args.guide_weight,
                  "kind_weights": args.noise_weights, "clean": args.clean, "noisy": args.noisy}
        if args.smoke:
            kw.update(minutes=1.0, hidden=args.hidden if args.init else 4, batch_size=4, segment=1.0, max_steps=5,
                      denoise_share=min(args.denoise_share, 8))
        denoiser.train(out / "data", out / "denoiser", threads=args.threads, seed=args.seed, log=_log, **kw)
    elif args.step == "asr":
        from ..asr.config import STREAMING_CONTEXT
        from . import asr
        kw = {"minutes": args.minutes, "max_steps": args.max_steps, "batch_size": args.batch_size,
                  "d_model": args.d_model, "n_layers": args.layers, "lr_peak": args.lr_peak, "warmup": args.warmup,
                  "noise_prob": args.noise_prob, "speed_prob": args.speed_prob, "rooms": args.rooms, "room_prob": args.room_prob,
                  "val_every": args.val_every, "save_every_min": args.save_every, "num_workers": args.num_workers,
                  "log_every": args.log_every,
                  "att_context_size": STREAMING_CONTEXT if args.streaming else None}
        if args.smoke:
            kw.update(minutes=1.5, max_steps=6, batch_size=4, d_model=32, n_layers=1, n_heads=2, val_every=3,
                      num_workers=0, log_every=2)
        asr.train(out / "data", out / "asr", threads=args.threads, init=args.init,
                  extra_manifests=args.extra_manifest, train_manifests=args.train_manifest,
                  val_manifest=args.val_manifest, noise_manifest=args.noise_manifest, accelerator=args.accelerator,
                  devices=args.devices, num_nodes=args.num_nodes, precision=args.precision, seed=args.seed, log=_log,
                  **kw)
    elif args.step == "lm":
        from . import lm
        grid = {"order": 3, "weights": (0.3, 0.5), "bonuses": (0.0, 1.0)} if args.smoke else {"order": args.order}
        lm.train(out / "data", args.asr or out / "asr" / "asr.nemo", threads=args.threads, seed=args.seed,
                 text=args.text, val_manifest=args.val_manifest, log=_log, **grid)
    elif args.step == "evaluate":
        from . import evaluate
        evaluate.run(out / "data", out / "eval",
                     denoiser_path=args.denoiser or out / "denoiser" / "denoiser.th",
                     asr_path=args.asr or out / "asr" / "asr.nemo",
                     limit=(8 if args.smoke else args.limit), smoke=args.smoke, examples=args.examples,
                     threads=args.threads, seed=args.seed, log=_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
