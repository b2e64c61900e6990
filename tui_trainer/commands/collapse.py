"""`tui-trainer collapse`: reproduce model collapse over generations of synthetic training data (headless)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Reproduce model collapse over generations of synthetic training data."
DESCRIPTION = """\
Reproduce model collapse: generation 0 is fit on real data, each next generation only on samples of the
previous generation's model (or on a mix keeping --real-fraction of fresh real data, or on all data so far
with --accumulate). Prints one line per generation, or --json / --csv.

models:
  gaussian  1-D Gaussian refit each generation (Shumailov et al. 2024, Suppl. 3.1); closed forms in the JSON
  gmm       2-D Gaussian mixture (3 components) fit by EM; sliced W2 and tail mass against the real mixture
  mlp       char-level language model trained by the training engine on shipped text; held-out loss

defaults for --generations/--samples/--repeats: gaussian 50/100/200, gmm 50/200/10, mlp 4/3000/1.
generation g is the model after g + 1 fits (each record also has "fits").
exit codes: 0 done, 2 bad flags.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=("gaussian", "gmm", "mlp"),
        default="gaussian",
        help="what is refit each generation (default gaussian)",
    )
    parser.add_argument(
        "--estimator",
        choices=("mle", "unbiased"),
        default="unbiased",
        help="gaussian variance estimator: mle (ddof=0) or unbiased (ddof=1, default, the paper's)",
    )
    parser.add_argument(
        "--generations", type=int, metavar="G", help="number of generations (fits), at least 1"
    )
    parser.add_argument("--samples", type=int, metavar="N", help="training samples drawn per generation")
    parser.add_argument(
        "--repeats", type=int, metavar="R", help="independent repeats averaged per generation"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed; the same seed gives the same numbers (default 0)",
    )
    parser.add_argument(
        "--real-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="share of each generation's samples drawn fresh from the real distribution, 0..1 (default 0)",
    )
    parser.add_argument(
        "--accumulate",
        action="store_true",
        help="keep every earlier generation's data instead of replacing it",
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help="print JSON: {generations: [...], params: {...}, ...}"
    )
    fmt.add_argument("--csv", action="store_true", help="print CSV, one row per generation")
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the JSON/CSV to FILE (atomically) instead of stdout"
    )


def _text_table(result) -> str:
    lines = [
        f"collapse: model={result.params.model}"
        + (f" estimator={result.params.estimator}" if result.params.model == "gaussian" else "")
        + f" samples={result.params.samples} "
        f"repeats={result.params.repeats} real_fraction={result.params.real_fraction:g} "
        f"accumulate={result.params.accumulate} seed={result.params.seed}",
        f"{'gen':>4} {'fits':>4} {'var mean':>10} {'var median':>10} {'W2 mean':>10} {'tail mass':>10} {'heldout':>9}",
    ]
    for s in result.generations:
        heldout = "-" if s.heldout_loss is None else f"{s.heldout_loss:.4f}"
        lines.append(
            f"{s.generation:>4} {s.fits:>4} {s.variance_mean:>10.4f} {s.variance_median:>10.4f} "
            f"{s.w2_mean:>10.4f} {s.tail_mass_mean:>10.4f} {heldout:>9}"
        )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from tui_trainer.atomic import atomic_write_text
    from tui_trainer.collapse import report
    from tui_trainer.collapse.experiment import CollapseParams, run_experiment
    from tui_trainer.errors import UserError

    params = CollapseParams.for_model(
        args.model,
        estimator=args.estimator,
        generations=args.generations,
        samples=args.samples,
        repeats=args.repeats,
        seed=args.seed,
        real_fraction=args.real_fraction,
        accumulate=args.accumulate,
    ).validate()
    if args.out is not None and args.out.is_dir():
        raise UserError(f"--out {args.out} is a directory; give a file name")
    result = run_experiment(params)
    if args.json or (args.out is not None and not args.csv and args.out.suffix.lower() != ".csv"):
        text = report.to_json(result)
    elif args.csv or args.out is not None:
        text = report.to_csv(result)
    else:
        text = _text_table(result)
    if args.out is not None:
        try:
            atomic_write_text(args.out, text)
        except OSError as exc:
            raise UserError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from exc
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
