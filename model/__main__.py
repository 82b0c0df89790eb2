"""Command line: ``python -m model train|evaluate|score|check``."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from model.errors import ModelError
from model.paths import DEFAULT_DATA
from model.scoring import cli as score_cli
from model.serving import artifacts
from model.training.data import TRAIN_PER_CLASS
from model.training.evaluate import Evaluation, evaluate
from model.training.metrics import SCORES
from model.training.train import RECIPES, train


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("train", "train and write artifacts"), ("evaluate", "score every saved model")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--data", default=str(DEFAULT_DATA), help="labelled CSV (id,date,text,target)")
        command.add_argument("--artifacts", default=str(artifacts.DEFAULT_DIR), help="artifact folder")
        command.add_argument(
            "--train-per-class",
            type=int,
            default=TRAIN_PER_CLASS,
            help="rows of each class, in file order, that train; the rest are held out",
        )
    train = commands.choices["train"]
    train.add_argument("--models", default=",".join(RECIPES), help="comma-separated models to train")
    train.add_argument("--alpha", type=float, default=None, help="freqlr smoothing (default: chosen by CV)")
    train.add_argument("--nblr-C", type=float, default=None, help="nblr regularisation (default: by CV)")
    train.add_argument("--created", default=None, help="timestamp to record (default: now)")
    train.add_argument(
        "--feedback",
        default=None,
        help="CSV of id,text,label (Positive/Negative) to add to the training part",
    )
    commands.choices["evaluate"].add_argument("--out", default="reports", help="folder for the report")
    score_cli.add_parser(commands)
    check = commands.add_parser("check", help="load and verify every artifact (the server's start-up check)")
    check.add_argument("--artifacts", default=str(artifacts.DEFAULT_DIR), help="artifact folder")
    check.add_argument("--model", default=None, help="the model to be served (default: the manifest's)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            settings = {"freqlr": args.alpha, "nblr": args.nblr_C}
            entries = train(
                args.data,
                args.artifacts,
                train_per_class=args.train_per_class,
                models=[name.strip() for name in args.models.split(",") if name.strip()],
                settings={name: value for name, value in settings.items() if value is not None},
                created=args.created,
                feedback=args.feedback,
            )
            for name, entry in entries.items():
                print(f"{name} {entry['version']}: held-out accuracy {entry['metrics']['accuracy']:.4f}")
        elif args.command == "score":
            return score_cli.run(args)
        elif args.command == "check":
            print(artifacts.check(args.artifacts, args.model))
        else:
            # Imported here: the report's matplotlib is slow to import, and only this command needs it.
            from model.training.report import write_report

            evaluation = evaluate(args.data, args.artifacts, train_per_class=args.train_per_class)
            _print_metrics(evaluation, write_report(evaluation, args.out))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_metrics(evaluation: Evaluation, report_path: Path) -> None:
    """Print every model's held-out metrics as a short table, then where the full report is."""
    keys = [key for key, _ in SCORES]
    print(f"held-out n={len(evaluation.split.test_texts)}; * marks the default model")
    print(f"  {'model':<10} {'version':<16} " + " ".join(f"{key:>9}" for key in keys))
    for name, result in evaluation.results.items():
        mark = "*" if name == evaluation.default_name else " "
        values = " ".join(f"{result.metrics[key]:>9.4f}" for key in keys)
        print(f"{mark} {name:<10} {result.entry['version']:<16} {values}")
    print(f"report: {report_path}")


if __name__ == "__main__":
    sys.exit(main())
