"""What one switch of the plate reader (a `PlateReader` keyword, off/on or two values) does, on real photos nothing
was tuned on.

Reads the plate validation crops of ../shared/train (every VN and Argentine crop, the 600 CN crops of
`smartgate_tools.plate_validation`, audited labels) and, optionally, the dev photos of ../shared/eval, once with
the switch off and once on (each run cached), and prints accuracy / wrong / no-read per set for both and every
image whose outcome changed. The crops are the validation (the readers' rules were not tuned there); the dev
figures are tuned-on and shown to check that nothing there is lost.

    .venv/bin/python -m smartgate_tools.experiments.plate_reader_switch plate_text --data ../shared/train \\
        --dev ../shared/eval/plate_*/labels.csv --cache-dir var/switch [--crops rec-split]
    ... plate_reader_switch calibration --off '{}' --on '{"OTHER": 0.97}' ...   # two values of a keyword (JSON)
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def run(switch: str, on: object, images: list[tuple[str, str, list[str]]], cache: Path | None,
        threads: int = 2) -> dict[str, list[str]]:
    """{path: texts read (label_key), best first} with the keyword `switch` set to `on` (cached)."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from tqdm import tqdm

    from edge.domain.plate_grammar import label_key
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import imread

    reader = PlateReader(OcrEngine(threads=threads), **{switch: on})
    out: dict[str, list[str]] = {}
    for _, path, _ in tqdm(images, desc=f"{switch}={on}", unit="image"):
        img = imread(Path(path))
        if img is not None:
            out[path] = [label_key(r.text) for r in reader.read_all(img) if r.text]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    from smartgate_tools.evaluate import judge
    from smartgate_tools.experiments.plate_sets import plate_images
    from smartgate_tools.experiments.tally import Tally, count, print_tally

    p = argparse.ArgumentParser(prog="plate_reader_switch", description=__doc__.split("\n\n")[0])
    p.add_argument("switch", help="PlateReader keyword, e.g. plate_text, rec_check, rec_answer, calibration")
    p.add_argument("--off", type=json.loads, default=False, help="its first value, JSON (default false)")
    p.add_argument("--on", type=json.loads, default=True, help="its second value, JSON (default true)")
    p.add_argument("--data", type=Path, default=Path("../shared/train"))
    p.add_argument("--dev", nargs="*", default=[], help="labels.csv files of ../shared/eval plate sets")
    p.add_argument("--crops", choices=("validation", "rec-split"), default="validation",
                   help="which real crops: the plate validation's, or the plate recogniser's validation split")
    p.add_argument("--cache-dir", type=Path, default=None, help="folder caching each run's reads")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    images = plate_images(a.data, a.dev, a.crops)
    values = {False: a.off, True: a.on}

    def cache(on: bool) -> Path | None:
        tag = str(on) if values[on] is on else re.sub(r"[^A-Za-z0-9.]+", "_", json.dumps(values[on])).strip("_")
        return a.cache_dir / f"{a.crops}_{a.switch}_{tag}.json" if a.cache_dir else None

    reads = {on: run(a.switch, values[on], images, cache(on), a.threads) for on in (False, True)}
    tally: Tally = {}
    for name, path, labels in images:
        if path not in reads[False] or path not in reads[True]:
            continue
        outcome = {on: judge(labels, reads[on][path]) for on in (False, True)}
        for on in (False, True):
            count(tally, name, on, outcome[on])
        if reads[False][path] != reads[True][path]:
            print(f"  {name:18s} {Path(path).name:28s} label {'|'.join(labels):12s} "
                  f"off {'|'.join(reads[False][path]) or '-':14s} ({outcome[False]}) -> "
                  f"on {'|'.join(reads[True][path]) or '-':14s} ({outcome[True]})")
    print_tally(tally, lambda on: f"{a.switch}={json.dumps(values[on])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
