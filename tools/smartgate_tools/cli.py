"""The developer tools' subcommands of `smartgate` (read, eval, train, cargo-eval, dataset, model, bench).

edge/cli.py loads this module by name when the tools are installed, so the runtime wheel holds none of it and
a gate box without the tools says which install brings them.
"""

from __future__ import annotations

import argparse
import importlib
import sys


def add_commands(sub: argparse._SubParsersAction) -> None:
    rd = sub.add_parser("read", help="read plates or container codes in images; one JSON line per image")
    rd.add_argument("kind", choices=["plate", "container"])
    rd.add_argument("images", nargs="+")
    rd.add_argument("--threads", type=int, default=2)

    ev = sub.add_parser("eval", help="measure the readers on a labels CSV (file,task,label)")
    ev.add_argument("labels", nargs="+", help="one or more labels.csv files")
    ev.add_argument("--json", dest="json_out", help="write the summary as JSON")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--misses", help="write every miss (file, label, read, reason) as CSV")
    ev.add_argument("--engine", default="smartgate", choices=["smartgate", "raw"],
                    help="raw: the shipped PP-OCR models end to end, for the baseline")

    from smartgate_tools.bench.args import add_arguments as add_bench_arguments
    from smartgate_tools.train.args import (
        add_cargo_arguments,
        add_cargo_eval_arguments,
        add_dataset_arguments,
        add_model_arguments,
    )

    tr = sub.add_parser("train", help="train a model (needs: pip install -e '.[train]')")
    tr_sub = tr.add_subparsers(dest="train_command", required=True)
    add_cargo_arguments(tr_sub.add_parser("cargo", help="grouped CV of cargo recipes, then ONNX + thresholds + card"))
    tr_sub.add_parser("plate", help="CTC plate recogniser on real crops + synthetic plates (options: "
                      "smartgate train plate --help)", add_help=False)
    add_cargo_eval_arguments(sub.add_parser(
        "cargo-eval", help="per-class figures of the cargo classifier (onnxruntime) on labelled images"))
    add_dataset_arguments(sub)  # dataset export --since DATE OUT/
    add_model_arguments(sub)  # model promote NEW.onnx --eval DIR
    add_bench_arguments(sub.add_parser("bench", help="pipeline vs naive baseline on sample footage: speed, accuracy"))


# command → (module, function): each imported only when its command runs, so `smartgate run` pays for none.
HANDLERS = {
    "read": ("smartgate_tools.evaluate", "main_read"),
    "eval": ("smartgate_tools.evaluate", "main_eval"),
    "train": ("smartgate_tools.train.train_cargo", "main_train"),
    "cargo-eval": ("smartgate_tools.cargo_eval", "main_cargo_eval"),
    "dataset": ("smartgate_tools.dataset_export", "main_dataset"),
    "model": ("smartgate_tools.model_promote", "main_model"),
    "bench": ("smartgate_tools.bench.main", "main_bench"),
}


def run(args: argparse.Namespace) -> int:
    """Run one of the tools' commands (edge/cli.py TOOL_COMMANDS)."""
    if args.command == "train":
        try:
            import torch  # noqa: F401
        except ImportError:
            print("error: training needs torch, torchvision and ultralytics: pip install -e '.[train]'", file=sys.stderr)
            return 2
        if args.train_command == "plate":
            from smartgate_tools.train.plate_rec import main as train_plate

            return train_plate(args.extra_args)  # its own parser takes them (edge/cli.py)
    module, function = HANDLERS[args.command]
    return int(getattr(importlib.import_module(module), function)(args))
