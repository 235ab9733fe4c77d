"""Run the hub benchmark (tools/smartgate_tools/bench/hub.py) on a throw-away PostgreSQL (fsync on) and Mosquitto on this machine.

    .venv/bin/python tests/hub_bench_local.py [--passages 1000000] [--out var/hub_bench.json]

Not a test (no test_ prefix): it takes minutes and writes figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import Mosquitto  # noqa: E402
from pg_server import PostgresServer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def bench(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "smartgate_tools.bench.hub", *args], cwd=REPO, check=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--passages", type=int, default=1_000_000)
    p.add_argument("--out", default=str(REPO / "var" / "hub_bench.json"))
    p.add_argument("--rates", default="0.081,10,50", help="ingest rates, passages/s for the gate")
    args = p.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pg = PostgresServer(fsync=True, extra={"shared_buffers": "512MB", "max_wal_size": "4GB",
                                           "work_mem": "16MB", "effective_cache_size": "4GB"})
    pg.start()
    import tempfile

    broker = Mosquitto(Path(tempfile.mkdtemp(prefix="sg-bench-mq-")), persistence=True)
    broker.start()
    try:
        dsn = pg.create_database("hubbench")
        for rate in filter(None, args.rates.split(",")):
            n = 24 if float(rate) < 1 else int(float(rate) * 60)
            bench("ingest", "--dsn", dsn, "--mqtt", broker.url, "--rate", rate, "--passages", str(n),
                  "--json", args.out)
        bench("load", "--dsn", dsn, "--passages", str(args.passages), "--json", args.out)
        bench("query", "--dsn", dsn, "--json", args.out)
        # Ingest again with the million rows in place (index maintenance on a big table).
        bench("ingest", "--dsn", dsn, "--mqtt", broker.url, "--rate", "10", "--passages", "600", "--json", args.out)
    finally:
        broker.stop()
        pg.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
