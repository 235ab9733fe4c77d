"""`smartgate` command line: one entry point, subcommands import their module lazily
so that `smartgate config check` does not pay for onnxruntime start-up."""

from __future__ import annotations

import argparse
import logging
import sys


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
        from edge.evaluate import main_read

        return main_read(args)
    if args.command == "eval":
        from edge.evaluate import main_eval

        return main_eval(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
