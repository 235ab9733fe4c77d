"""Measure the plate recogniser on a labelled set (../shared/eval format) next to the current plate reader.

Why: the recogniser only reads crops, so on scene photos it needs plate boxes. It gets them two ways: the
current reader's own box (for the verifier/vote combinations) and the text detector alone
(`PlateReader.find_plates`, plus stacked pairs of boxes for two-line plates) for the recogniser on its own.
Crop sets (a whole image is one plate) are read directly. Prints, per task: the current reader, the
recogniser alone, verifier (both must agree) and vote (either, a disagreement is a no-read).

    python -m smartgate_tools.train.plate_rec_eval ../shared/eval/plate_*/labels.csv [--model DIR] [--json OUT]
        [--cache current.json]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from edge.domain.plate_grammar import label_key
from edge.domain.types import Box
from edge.readers.plate_rec import PlateRecogniser, PlateRecRead
from edge.readers.plate_rec_check import plate_crop
from smartgate_tools.evaluate import judge

CROP_SOURCES = ("vitocolerole/label_plate_number",)  # sets whose images are plate crops
MODES = ("current", "rec", "verifier", "vote")


def expand(img: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """A text box grown to roughly the plate's own margin, as the reader's veto crops it (`plate_crop`)."""
    return plate_crop(img, Box(x=x, y=y, w=w, h=h))


def stacked_pairs(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Unions of two (x, y, w, h) boxes one above the other that overlap horizontally: two-line plates."""
    out = []
    for ax, ay, aw, ah in boxes:
        for bx, by, bw, bh in boxes:
            if not ay < by:
                continue
            ov = min(ax + aw, bx + bw) - max(ax, bx)
            gap = by - (ay + ah)
            if ov > 0.5 * min(aw, bw) and -0.5 * ah < gap < 0.8 * max(ah, bh) and bh < 3 * ah:
                x0 = min(ax, bx)
                out.append((x0, ay, max(ax + aw, bx + bw) - x0, by + bh - ay))
    return out


def rec_on_scene(rec: PlateRecogniser, img: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[PlateRecRead]:
    """Accepted recogniser reads on every detector box (and stacked pair), most confident first, one per text."""
    best: dict[str, PlateRecRead] = {}
    for c in [*boxes, *stacked_pairs(boxes)]:
        r = rec.read(expand(img, *c))
        if r.accepted and (r.text not in best or r.confidence > best[r.text].confidence):
            best[r.text] = r
    return sorted(best.values(), key=lambda r: -r.confidence)


def current_reads(csv_paths: list[str], threads: int, cache: Path | None) -> dict[str, dict]:
    """The current reader's reads (text, box) and the detector's plate-shaped boxes per image, cached in a JSON
    file: PP-OCR is the slow part, the recogniser can then be re-measured in seconds."""
    if cache and cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import imread, load_labels

    reader = PlateReader(OcrEngine(rec="v6_small", threads=threads), rec_check=False)
    out: dict[str, dict] = {}
    for sample in load_labels(csv_paths):
        img = imread(sample.path)
        if img is None:
            continue
        reads = [r for r in reader.read_all(img) if r.text]
        out[str(sample.path)] = {
            "reads": [[label_key(r.text), [r.box.x, r.box.y, r.box.w, r.box.h] if r.box else None] for r in reads],
            "boxes": [[b.x, b.y, b.w, b.h] for b in reader.find_plates(img)]}
    if cache:
        cache.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def evaluate(csv_paths: list[str], model_dir: str | None = None, threads: int = 2,
             cache: Path | None = None) -> dict:
    from smartgate_tools.evaluate import imread

    current = current_reads(csv_paths, threads, cache)
    rec = PlateRecogniser(model_dir, threads=1, verify=model_dir is None)
    per_task: dict[str, dict[str, dict[str, int]]] = {}
    rows = []
    for p in csv_paths:
        base = Path(p).parent
        with open(p, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                labels = [label_key(x) for x in row["label"].split("|") if x.strip()]
                key = str(base / row["file"])
                img = imread(base / row["file"])
                if img is None or key not in current:
                    continue
                cur = current[key]["reads"]
                cur_texts = [t for t, _ in cur]
                if row["source_repo"] in CROP_SOURCES:
                    r = rec.read(img)
                    rec_reads = [r] if r.accepted else []
                    # the recogniser's reading of the current reader's plate (raw: threshold not applied)
                    checks = [r for _ in cur]
                else:
                    rec_reads = rec_on_scene(rec, img, [tuple(b) for b in current[key]["boxes"]])
                    checks = [rec.read(expand(img, *box)) if box else None for _, box in cur]
                rec_texts = [r.text for r in rec_reads]
                verified = [t for t, c in zip(cur_texts, checks, strict=True) if c is not None and c.text == t]
                if cur_texts and rec_texts:
                    vote = cur_texts if rec_texts[0] in cur_texts or cur_texts[0] in rec_texts else []
                else:
                    vote = cur_texts or rec_texts
                out = {"current": cur_texts, "rec": rec_texts, "verifier": verified, "vote": vote}
                t = per_task.setdefault(row["task"], {m: {"correct": 0, "wrong": 0, "no_read": 0} for m in MODES})
                res = {m: judge(labels, out[m]) for m in MODES}
                for m in MODES:
                    t[m][res[m]] += 1
                rows.append({"file": row["file"], "task": row["task"], "labels": labels, **out,
                             "rec_raw": [(c.text, round(c.confidence, 3)) if c else None for c in checks],
                             "status": res})
    return {"tasks": per_task, "rows": rows}


def validation(data: str, report: Path, threads: int, cache: Path | None, seed: int = 0) -> dict:
    """The same four modes on the trainer's validation split (held-out source / plate text): the current reader
    on each crop (cached), the recogniser's reads from the training report (`report.json`)."""
    from smartgate_tools.train.plate_rec_data import load_dir, split

    rep = json.loads(report.read_text(encoding="utf-8"))
    rule, thr = rep["manifest"]["confidence_rule"], rep["manifest"]["thresholds"]
    recs = {r["file"]: r for r in rep["validation_reads"]}
    if cache and cache.is_file():
        cur = json.loads(cache.read_text(encoding="utf-8"))
    else:
        from edge.readers.ocr.engine import OcrEngine
        from edge.readers.plate import PlateReader

        reader = PlateReader(OcrEngine(rec="v6_small", threads=threads), rec_check=False)
        crops = [c for name in ("plate_cn", "plate_vn", "plate_other") for c in load_dir(Path(data) / name)]
        _, val = split(crops, seed)
        cur = {c.file: [label_key(r.text) for r in reader.read_all(c.image) if r.text] for c in val}
        if cache:
            cache.write_text(json.dumps(cur, ensure_ascii=False), encoding="utf-8")
    from edge.readers.plate_rec import country_of

    per: dict[str, dict[str, dict[str, int]]] = {}
    for f, cur_texts in cur.items():
        r = recs[f]
        text, conf, _ = r[rule]
        accepted = bool(text) and conf >= thr.get(country_of(text), 1.01)
        rec_texts = [text] if accepted else []
        verified = [t for t in cur_texts[:1] if t == text]
        vote = (cur_texts if text in cur_texts else []) if cur_texts and rec_texts else (cur_texts or rec_texts)
        out = {"current": cur_texts, "rec": rec_texts, "verifier": verified, "vote": vote}
        for g in (r["country"], "all"):
            t = per.setdefault(g, {m: {"correct": 0, "wrong": 0, "no_read": 0} for m in MODES})
            for m in MODES:
                t[m][judge([r["label"]], out[m])] += 1
    return per


def _print(per: dict[str, dict[str, dict[str, int]]]) -> None:
    for task, modes in per.items():
        for m, c in modes.items():
            n = sum(c.values())
            print(f"{task:12s} {m:9s} n={n:4d} accuracy {c['correct'] / n:6.1%} wrong {c['wrong'] / n:6.1%} "
                  f"no-read {c['no_read'] / n:6.1%}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("labels", nargs="*", help="labels.csv files of a dev set (../shared/eval format)")
    p.add_argument("--validation", default=None, metavar="REPORT", help="instead: the trainer's report.json; "
                   "measure on its validation split of --data")
    p.add_argument("--data", default="../shared/train")
    p.add_argument("--model", default=None, help="folder with plate_rec.onnx + manifest.json (default: shipped)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--cache", default=None, help="JSON file caching the current reader's reads and boxes")
    a = p.parse_args(argv)
    cache = Path(a.cache) if a.cache else None
    if a.validation:
        res = {"tasks": validation(a.data, Path(a.validation), a.threads, cache)}
    else:
        res = evaluate(a.labels, a.model, a.threads, cache)
    _print(res["tasks"])
    if a.json:
        Path(a.json).write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
