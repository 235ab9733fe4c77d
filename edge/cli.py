"""`smartgate` command line: one entry point, subcommands import their module lazily
so that `smartgate config check` does not pay for onnxruntime start-up."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from types import ModuleType

# OpenCV reads its own decoder pixel cap once, when cv2 is imported: set it before any subcommand imports
# cv2. The same value as cameras.imageio.OPENCV_MAX_PIXELS (a backstop; the header check there is the guard).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "160000000")


# Developer tools (tools/smartgate_tools): a distribution of their own, not in the runtime wheel. Loaded by name
# so that a gate box without them still parses these commands and says which install brings them.
TOOLS_MODULE = "smartgate_tools.cli"
TOOL_COMMANDS = ("read", "eval", "train", "cargo-eval", "dataset", "model", "bench")
TOOLS_MISSING = ("error: `smartgate {cmd}` is a developer tool, not installed on this box: "
                 "pip install -e tools/ from a smartgate checkout (`make venv` does it)")


def _tools_module() -> ModuleType | None:
    try:
        return importlib.import_module(TOOLS_MODULE)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == TOOLS_MODULE.split(".")[0]:
            return None
        raise


def _add_tool_commands(sub: argparse._SubParsersAction) -> None:
    tools = _tools_module()
    if tools is not None:
        tools.add_commands(sub)
        return
    for cmd in TOOL_COMMANDS:
        sub.add_parser(cmd, help="developer tool (not installed)", add_help=False)


def _run_tool(args: argparse.Namespace) -> int:
    tools = _tools_module()
    if tools is None:
        print(TOOLS_MISSING.format(cmd=args.command), file=sys.stderr)
        return 2
    return int(tools.run(args))


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

    _add_tool_commands(sub)

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
    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train" and getattr(args, "train_command", None) == "plate":
        args.extra_args = extra  # `smartgate train plate` passes its options to the trainer's own parser
    elif extra and not (args.command in TOOL_COMMANDS and _tools_module() is None):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
    if args.command in TOOL_COMMANDS:
        return _run_tool(args)
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
        from edge.config import load_config

        return main_user(args, lambda path: load_config(path).storage.database)
    return 1


if __name__ == "__main__":
    sys.exit(main())
