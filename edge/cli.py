"""`smartgate` command line: one entry point, subcommands import their module lazily
so that `smartgate config check` does not pay for onnxruntime start-up."""

from __future__ import annotations

import argparse
import logging
import os
import sys

# OpenCV reads its own decoder pixel cap once, when cv2 is imported: set it before any subcommand imports
# cv2. The same value as cameras.imageio.OPENCV_MAX_PIXELS (a backstop; the header check there is the guard).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "160000000")


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smartgate", description="Smart border gate edge inspection pipeline")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the edge daemon")
    src = run.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="YAML config file")
    src.add_argument("--demo", action="store_true", help="built-in demo config on data_samples/")
    run.add_argument("--until-done", action="store_true", help="exit when every file source has ended (default: keep serving the API)")

    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfg_sub.add_parser("check", help="validate a config file")
    chk.add_argument("file")

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

    from smartgate_tools.train.args import (  # argparse only
        add_cargo_arguments,
        add_cargo_eval_arguments,
        add_dataset_arguments,
        add_model_arguments,
    )

    tr = sub.add_parser("train", help="train a model (needs: pip install -e '.[train]')")
    tr_sub = tr.add_subparsers(dest="train_command", required=True)
    add_cargo_arguments(tr_sub.add_parser("cargo", help="grouped CV of cargo recipes, then ONNX + thresholds + card"))
    add_cargo_eval_arguments(sub.add_parser(
        "cargo-eval", help="per-class figures of the cargo classifier (onnxruntime) on labelled images"))
    add_dataset_arguments(sub)  # dataset export --since DATE OUT/
    add_model_arguments(sub)  # model promote NEW.onnx --eval DIR

    from smartgate_tools.bench.args import add_arguments as add_bench_arguments  # argparse only

    add_bench_arguments(sub.add_parser("bench", help="pipeline vs naive baseline on sample footage: speed, accuracy"))

    from calibration.cli import add_parser as add_calibrate_parser  # argparse only

    add_calibrate_parser(sub)  # calibrate intrinsics --images DIR … | calibrate preview --config FILE …

    hub = sub.add_parser("hub", help="the gate hub: every box's passages in PostgreSQL, declarations, review queue")
    hub.add_argument("--config", required=True, help="the hub's YAML config (docs/hub.md)")
    from edge.hub.report import add_arguments as add_report_arguments  # argparse only

    add_report_arguments(sub.add_parser("report", help="gate figures over a date range from the hub's database"))

    from edge.api.review.users import add_parser as add_user_parser  # argparse only

    add_user_parser(sub)  # user add NAME --role ROLE | user list | user token NAME …
    return p


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "config":
        from edge.config import ConfigError, load_config

        try:
            cfg = load_config(args.file)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{args.file}: OK — gate {cfg.gate.id}, {len(cfg.lanes)} lane(s), {len(cfg.cameras)} camera(s)")
        return 0
    if args.command == "run":
        from edge.daemon import main_run

        return main_run(args)
    if args.command == "read":
        from smartgate_tools.evaluate import main_read

        return main_read(args)
    if args.command == "eval":
        from smartgate_tools.evaluate import main_eval

        return main_eval(args)
    if args.command == "train":
        try:
            import torch  # noqa: F401
        except ImportError:
            print("error: training needs torch, torchvision and ultralytics: pip install -e '.[train]'", file=sys.stderr)
            return 2
        from smartgate_tools.train.train_cargo import main_train

        return main_train(args)
    if args.command == "cargo-eval":
        from smartgate_tools.cargo_eval import main_cargo_eval

        return main_cargo_eval(args)
    if args.command == "dataset":
        from smartgate_tools.dataset_export import main_dataset

        return main_dataset(args)
    if args.command == "model":
        from smartgate_tools.model_promote import main_model

        return main_model(args)
    if args.command == "bench":
        from smartgate_tools.bench.main import main_bench

        return main_bench(args)
    if args.command == "calibrate":
        from calibration.cli import main_calibrate

        return main_calibrate(args)
    if args.command == "hub":
        from edge.hub.main import main_hub

        return main_hub(args)
    if args.command == "report":
        from edge.hub.report import main_report

        return main_report(args)
    if args.command == "user":
        from edge.api.review.users import main_user

        return main_user(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
