"""Container-reader validation on real gate photos, split by container ID.

The real photos (`../shared/train/container`, labels.csv: file,label,layout,...) show the same container in
several photos (one truck, five cameras). A split by photo would put one container on both sides, so the
split is by ID: the smallest ID of a photo, hashed (sha256), even -> "tune", odd -> "holdout". Develop on
tune; report holdout once.

    python -m smartgate_tools.container_validation ../shared/train/container/labels.csv --split tune
    python -m smartgate_tools.container_validation ../shared/train/container/labels.csv --split holdout

A photo is correct when the reader returns exactly its labelled IDs (every one, and nothing else), wrong when
it returns any ID that is not labelled, a no-read when it returns nothing and no ID is wrong (a photo
with two IDs and one of them read counts as a no-read: a missed container).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

SPLITS = ("tune", "holdout", "all")


def split_of(labels: list[str]) -> str:
    """The fixed side of a photo: by its smallest container ID, so all photos of one ID fall on one side."""
    digest = hashlib.sha256(min(labels).encode()).hexdigest()
    return "tune" if int(digest, 16) % 2 == 0 else "holdout"


def outcome(labels: list[str], codes: list[str]) -> str:
    """'ok', 'wrong' or 'noread' for one photo."""
    if set(codes) - set(labels):
        return "wrong"
    return "ok" if set(labels) <= set(codes) else "noread"


def load_rows(labels_csv: Path, split: str) -> list[dict[str, str]]:
    with open(labels_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if split == "all" or split_of(r["label"].split("|")) == split]


def run(labels_csv: Path, split: str, threads: int = 2) -> list[dict]:
    """Read every photo of the split; one result dict per photo (file, layout, labels, codes, outcome, ms)."""
    from cameras.imageio import load_image
    from edge.readers.container import ContainerReader

    reader = ContainerReader(threads=threads)
    out = []
    for row in load_rows(labels_csv, split):
        img = load_image(labels_csv.parent / row["file"])
        t = time.perf_counter()
        reads = reader.read(img)
        ms = (time.perf_counter() - t) * 1000
        labels, codes = row["label"].split("|"), [r.code for r in reads]
        out.append({"file": row["file"], "layout": row["layout"], "labels": labels, "codes": codes,
                    "outcome": outcome(labels, codes), "ms": round(ms, 1)})
    return out


def table(results: list[dict]) -> str:
    """Per-layout table: photos, accuracy, wrong, no-read, and p50 ms over all photos."""
    by: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by[r["layout"]].append(r)
    by["all"] = list(results)
    lines = ["| layout | photos | accuracy | wrong | no-read |", "|---|---|---|---|---|"]
    for layout in sorted(by, key=lambda k: (k == "all", k)):
        rs = by[layout]
        n = len(rs)
        pct = {o: 100.0 * sum(r["outcome"] == o for r in rs) / n for o in ("ok", "wrong", "noread")}
        ok = sum(r["outcome"] == "ok" for r in rs)
        lines.append(f"| {layout} | {n} | {pct['ok']:.1f} % ({ok}/{n}) | {pct['wrong']:.1f} % | "
                     f"{pct['noread']:.1f} % |")
    if results:
        lines.append(f"\np50 {statistics.median(r['ms'] for r in results):.0f} ms per photo")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labels_csv", type=Path, help="labels.csv of the real container photos")
    ap.add_argument("--split", choices=SPLITS, default="tune")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write per-photo results here")
    ap.add_argument("--misses", action="store_true", help="list the photos not read correctly")
    args = ap.parse_args(argv)
    results = run(args.labels_csv, args.split, args.threads)
    print(table(results))
    if args.misses:
        for r in results:
            if r["outcome"] != "ok":
                print(r["outcome"], r["file"], r["layout"], r["labels"], r["codes"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
