"""`smartgate bench` arguments; argparse only, so building the CLI parser stays cheap."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_SAMPLES = Path(__file__).resolve().parents[3] / "data_samples" / "clips" / "demo"
QUICK_SEARCH = (1, 3)
QUICK_REALTIME_S = 5.0
QUICK_NAIVE_EVERY = 4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--samples", default=str(DEFAULT_SAMPLES), help="folder of <lane>/truth.json + videos")
    p.add_argument("--config", dest="site_config", default=None, metavar="FILE",
                   help="gate config whose camera calibration (read zones, per lane and role) and pipeline settings "
                        "apply (default: the samples' own, clips/demo → data_samples/demo.yaml; 'none': neither)")
    p.add_argument("--cameras", type=int, help="real-time replay with N cameras (default: search 1, 2, 4, 6, 8 …)")
    p.add_argument("--json", dest="json_out", help="write the JSON summary here")
    p.add_argument("--report", help="write report.md and PNG plots into this folder")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op and OpenCV threads")
    p.add_argument("--skip-naive", action="store_true", help="no naive baseline")
    p.add_argument("--skip-realtime", action="store_true", help="no real-time replay")
    p.add_argument("--skip-peer", action="store_true", help="no Tesseract peer")
    p.add_argument("--naive-every", type=int, default=None, help="naive baseline on every Nth frame (default 1)")
    p.add_argument("--realtime-seconds", type=float, default=None, help="cap each real-time replay (default: clip)")
    p.add_argument("--quick", action="store_true",
                   help=f"short run: naive on every {QUICK_NAIVE_EVERY}th frame, real time N in {QUICK_SEARCH} "
                        f"for {QUICK_REALTIME_S:g} s, no peer")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a pipeline setting, e.g. --set read_every_n=2 --set release_empty_s=null "
                        "(YAML values; compares levers against the defaults)")
    p.add_argument("--footage", metavar="DIR", default=None,
                   help="vehicle check instead of the benchmark: rendered lanes (<lane>/truth.json) or clips with a "
                        "<clip>.json of vehicles (plate, t_s); reports vehicles found (at the right time), missed, "
                        "duplicates, merged, start-up and false passages, unread ones (a missed vehicle's passage without "
                        "a plate), extra ones (without a plate, for a vehicle found already) and vehicles with no passage "
                        "at all (docs/benchmarks.md)")
    p.add_argument("--time-tolerance", type=float, default=1.0, metavar="S",
                   help="--footage: a passage is at the right time when its span widened by S holds the vehicle's "
                        "moment (default 1.0)")
    p.add_argument("--no-progress", action="store_true")
