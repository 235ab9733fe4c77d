"""The plate reader on worse cameras than the photos at hand: labelled photos compressed, blurred or halved, or the
training crops pasted small into real scenes (`plate_scenes`).

The readers lose 3-60 points on unseen cameras and read wrong there (issue 17) while the dev set shows ~0.5 %
wrong. Degrading photos we have is a cheap stand-in for worse cameras: which wrong reads appear, of what kind,
at what confidence and through which grammar. Prints accuracy / wrong / no-read per condition and set, and
every wrong read with its format and confidence. The scenes made of ../shared/train crops are the set a rule
for worse cameras may be chosen on; the degraded dev photos only check it (they are tuned-on).

    .venv/bin/python -m smartgate_tools.experiments.plate_degraded ../shared/eval/plate_{vn,cn,other}/labels.csv \\
        [--conditions clean jpeg20 half blur] [--json OUT]
    .venv/bin/python -m smartgate_tools.experiments.plate_degraded --crops rec-split --data ../shared/train \\
        --cargo ../shared/cargo/train --conditions scene scene-poor --cache-dir var/scenes [--reader '{"k": v}']
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path


def image_for(key: str, condition: str, backs: list[Path]):
    """The image `key` (a photo's path) under `condition`: a degraded photo, or the crop pasted into a scene."""
    from smartgate_tools.evaluate import imread
    from smartgate_tools.experiments.degrade import degrade
    from smartgate_tools.experiments.plate_scenes import CONDITIONS, load_scene, scene_key

    if condition in CONDITIONS:
        return load_scene(scene_key(key, condition), backs)
    img = imread(Path(key))
    return None if img is None else degrade(img, condition)


def read_condition(reader, images: list[tuple[str, str, list[str]]], condition: str, backs: list[Path],
                   cache: Path | None) -> list[dict]:
    """One row per image: set, file, labels, verdict, reads (text, format, confidence) or the no-read's reason."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from tqdm import tqdm

    from edge.domain.plate_grammar import label_key
    from smartgate_tools.evaluate import judge

    rows = []
    for name, key, labels in tqdm(images, desc=condition, unit="image", mininterval=10):
        img = image_for(key, condition, backs)
        if img is None:
            continue
        got = reader.read_all(img)
        reads = [r for r in got if r.text]
        verdict = judge(labels, [label_key(r.text) for r in reads])
        rows.append({"set": name, "file": Path(key).name, "labels": labels, "verdict": verdict,
                     "reason": None if reads else got[0].reason, "raw": None if reads else got[0].raw,
                     "reads": [{"text": label_key(r.text), "format": r.format, "confidence": r.confidence}
                               for r in reads]})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return rows


def print_rows(condition: str, rows: list[dict]) -> None:
    for name in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == name]
        n, tally = len(mine), Counter(r["verdict"] for r in mine)
        print(f"{condition:10s} {name:14s} n={n:4d} accuracy {tally['correct'] / n:6.1%} "
              f"wrong {tally['wrong'] / n:5.1%} no-read {tally['no_read'] / n:5.1%}", flush=True)
        for r in mine:
            if r["verdict"] == "wrong":
                got = ", ".join(f"{x['text']} ({x['format']}, {x['confidence']:.2f})" for x in r["reads"])
                print(f"    {r['file']} {'|'.join(r['labels'])}: {got}", flush=True)


def main(argv: list[str] | None = None) -> int:
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import load_labels
    from smartgate_tools.experiments.plate_scenes import CONDITIONS, backgrounds
    from smartgate_tools.experiments.plate_sets import plate_images

    p = argparse.ArgumentParser(prog="plate_degraded", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", nargs="*", help="labels.csv files of plate photos or crops (file,task,label,...)")
    p.add_argument("--crops", choices=("validation", "rec-split"), default=None,
                   help="read the training crops of --data instead (rec-split: the plate recogniser's held-out ones)")
    p.add_argument("--data", type=Path, default=Path("../shared/train"))
    p.add_argument("--cargo", type=Path, default=Path("../shared/cargo/train"), help="scene backgrounds")
    p.add_argument("--conditions", nargs="+", default=["clean", "jpeg20", "half"])
    p.add_argument("--reader", type=json.loads, default={}, help="PlateReader keywords (JSON), e.g. a switch")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=None, help="folder caching each condition's reads")
    p.add_argument("--json", type=Path, default=None, help="every read, per condition")
    a = p.parse_args(argv)
    reader = PlateReader(OcrEngine(threads=a.threads), **a.reader)  # as `smartgate eval` builds it
    images = plate_images(a.data, [], a.crops) if a.crops else []
    images += [(s.task, str(s.path), s.labels) for s in load_labels(a.labels)]
    scenes = any(c in CONDITIONS for c in a.conditions)
    backs = backgrounds(a.cargo, a.cache_dir / "backgrounds.json" if a.cache_dir else None,
                        threads=a.threads) if scenes else []
    tag = re.sub(r"[^A-Za-z0-9.]+", "_", json.dumps(a.reader, sort_keys=True)).strip("_") or "shipped"
    out: dict[str, list[dict]] = {}
    for condition in a.conditions:
        cache = a.cache_dir / f"{a.crops or 'labels'}_{condition}_{tag}.json" if a.cache_dir else None
        out[condition] = read_condition(reader, images, condition, backs, cache)
        print_rows(condition, out[condition])
    if a.json:
        a.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
