"""`smartgate dataset export --since DATE OUT/`: inspectors' corrections become training data.

Every correction an inspector makes on the review page is an audit record (`edge.api.review.audit`); the passage
keeps the evidence JPEGs the cameras took (`edge.storage.evidence`). This joins the two, offline, on the gate box:

- cargo: each passage whose cargo class was corrected (action `correct`, field `cargo`) since DATE gives its
  cargo-camera evidence image, labelled with the corrected class as it stands after all corrections, into
  `OUT/train/<class>/` and a row of `OUT/labels.csv` in the format of `shared/cargo`
  (`file,split,label,source_repo,source_commit,source_path,label_origin`, plus `group`, `passage_id`,
  `decision_id`). `source_repo` is `gate:<gate id>`, `group` the passage, so `smartgate train cargo --cv`
  holds out a gate's photos together. A correction to `unknown` is no label and is skipped.
- plates and containers: the plate crop, or the container camera's frame cropped around the container's box,
  with the corrected text, into `OUT/ocr/` and `OUT/ocr/labels.csv` in the format of `shared/eval`
  (`file,task,label,...`; task `plate_vn`, `plate_cn`, `plate_other` or `container`), which
  `smartgate eval OUT/ocr/labels.csv` reads.

Exporting again into the same OUT adds new rows and replaces rows of the same file; nothing leaves the box.
"""

from __future__ import annotations

import csv
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import cv2

from edge.comms.payload import iso_utc
from edge.readers.cargo import CARGO_CLASSES

CARGO_COLUMNS = ["file", "split", "label", "source_repo", "source_commit", "source_path", "label_origin", "group",
                 "passage_id", "decision_id"]
OCR_COLUMNS = ["file", "task", "label", "source_repo", "source_commit", "source_path", "label_origin", "passage_id",
               "decision_id"]


@dataclass
class ExportResult:
    cargo: int = 0
    plates: int = 0
    containers: int = 0
    skipped: list[str] = field(default_factory=list)


def parse_date(text: str) -> datetime:
    """`2025-06-01` (midnight UTC) or a full ISO time; naive times are UTC."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        t = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _merge(csv_path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write rows into csv_path, keeping earlier rows of other files (re-export replaces a file's row)."""
    old: dict[str, dict] = {}
    if csv_path.is_file():
        with csv_path.open(encoding="utf-8", newline="") as f:
            old = {r["file"]: r for r in csv.DictReader(f)}
    for r in rows:
        old[r["file"]] = r
    tmp = csv_path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for k in sorted(old):
            w.writerow({c: old[k].get(c, "") for c in columns})
    tmp.replace(csv_path)


def _plate_task(text: str) -> str:
    from edge.domain.plate_grammar import match

    m = match(text, max_corrections=0)
    country = m[0].country if m else ""
    return {"VN": "plate_vn", "CN": "plate_cn"}.get(country, "plate_other")


def export(store, evidence, out: str | Path, since: datetime, until: datetime | None = None,
           ocr: bool = True) -> ExportResult:
    """Export the corrections recorded in [since, until) (see the module docstring)."""
    from edge.api.review.audit import AuditLog, effective_readings
    from edge.decision.finalize import crop_box

    out = Path(out)
    audit = AuditLog(store)
    res = ExportResult()
    corrected: dict[str, list] = {}
    offset = 0
    while True:
        total, page = audit.query(action="correct", since=since, until=until, limit=500, offset=offset)
        for d in page:
            corrected.setdefault(d.passage_id, []).append(d)
        offset += len(page)
        if not page or offset >= total:
            break
    cargo_rows, ocr_rows = [], []
    for pid in sorted(corrected):
        p = store.get_passage(pid)
        if p is None:
            res.skipped.append(f"{pid}: passage no longer in the database")
            continue
        decisions = audit.for_passage(pid)
        eff = effective_readings(p, decisions)
        mine = corrected[pid]
        ev_by_kind: dict[str, list] = {}
        for e in p.evidence:
            ev_by_kind.setdefault(e.kind, []).append(e)

        def image_of(kind: str, n: int = 0, pid: str = pid, ev_by_kind: dict = ev_by_kind):
            evs = ev_by_kind.get(kind, [])
            if len(evs) <= n:
                res.skipped.append(f"{pid}: no {kind} evidence image")
                return None, None
            try:
                path = evidence.resolve(evs[n].path)
            except ValueError:
                res.skipped.append(f"{pid}: bad evidence path {evs[n].path!r}")
                return None, None
            if not path.is_file():
                res.skipped.append(f"{pid}: {kind} evidence {evs[n].path} was purged")
                return None, None
            return path, evs[n]

        def origin(ds: list) -> str:
            last = ds[-1]
            text = "; ".join(f"#{d.id} {d.user} {iso_utc(d.at)}: {d.previous} -> {d.new}" for d in ds)
            return f"inspector correction ({text})" + (f"; comment: {last.comment}" if last.comment else "")

        cargo_ds = [d for d in mine if d.field == "cargo"]
        label = eff["cargo"]["value"]
        if cargo_ds and label in CARGO_CLASSES:
            src, ev = image_of("cargo")
            if src is not None:
                rel = f"train/{label}/{p.gate}_{pid}_cargo{src.suffix.lower()}"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / rel)
                cargo_rows.append({"file": rel, "split": "train", "label": label, "source_repo": f"gate:{p.gate}",
                                   "source_commit": "", "source_path": f"evidence/{ev.path}",
                                   "label_origin": origin(cargo_ds), "group": pid, "passage_id": pid,
                                   "decision_id": cargo_ds[-1].id})
                res.cargo += 1
        elif cargo_ds:
            res.skipped.append(f"{pid}: cargo corrected to {label!r}, which is no training label")
        if not ocr:
            continue
        plate_ds = [d for d in mine if d.field == "plate"]
        if plate_ds and eff["plate"]["value"]:
            src, ev = image_of("plate")
            if src is not None:
                text = eff["plate"]["value"]
                rel = f"ocr/plate_{p.gate}_{pid}{src.suffix.lower()}"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / rel)
                ocr_rows.append({"file": rel.removeprefix("ocr/"), "task": _plate_task(text), "label": text,
                                 "source_repo": f"gate:{p.gate}", "source_path": f"evidence/{ev.path}",
                                 "label_origin": origin(plate_ds), "passage_id": pid,
                                 "decision_id": plate_ds[-1].id})
                res.plates += 1
        for item in sorted({d.item for d in mine if d.field == "container" and d.item is not None}):
            ds = [d for d in mine if d.field == "container" and d.item == item]
            code = eff["containers"][item]["value"] if item < len(eff["containers"]) else None
            if not code:
                continue
            # container evidence is saved in the order of the passage's containers; a missed one has none
            src, ev = image_of("container", item if item < len(p.containers) else len(p.containers))
            if src is None:
                continue
            img = cv2.imread(str(src), cv2.IMREAD_COLOR)
            if img is None:
                res.skipped.append(f"{pid}: container evidence {ev.path} is not a readable image")
                continue
            box = p.containers[item].box if item < len(p.containers) else None
            crop = crop_box(img, box) if box is not None else img
            rel = f"ocr/container_{p.gate}_{pid}_{item}.jpg"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / rel), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            ocr_rows.append({"file": rel.removeprefix("ocr/"), "task": "container", "label": code,
                             "source_repo": f"gate:{p.gate}", "source_path": f"evidence/{ev.path}",
                             "label_origin": origin(ds) + ("" if box is not None else "; whole frame (no box)"),
                             "passage_id": pid, "decision_id": ds[-1].id})
            res.containers += 1
    out.mkdir(parents=True, exist_ok=True)
    if cargo_rows or not (out / "labels.csv").is_file():
        _merge(out / "labels.csv", CARGO_COLUMNS, cargo_rows)
    if ocr_rows:
        (out / "ocr").mkdir(parents=True, exist_ok=True)
        _merge(out / "ocr" / "labels.csv", OCR_COLUMNS, ocr_rows)
    return res


def main_dataset(args) -> int:
    if args.dataset_command != "export":
        return 2
    from edge.storage.evidence import EvidenceStore
    from edge.storage.store import Store

    db, ev_dir = args.db, args.evidence
    if args.config:
        from edge.config import ConfigError, load_config

        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        db = db or cfg.storage.database
        ev_dir = ev_dir or cfg.storage.evidence_dir
    db = db or "var/smartgate.db"
    ev_dir = ev_dir or "var/evidence"
    if not Path(db).is_file():
        print(f"error: database {db} not found (--config gate.yaml or --db PATH)", file=sys.stderr)
        return 2
    try:
        since = parse_date(args.since)
        until = parse_date(args.until) if args.until else None
    except ValueError as e:
        print(f"error: --since/--until: {e}", file=sys.stderr)
        return 2
    with Store(db) as store:
        res = export(store, EvidenceStore(ev_dir), args.out, since, until, ocr=not args.no_ocr)
    print(f"{args.out}: {res.cargo} cargo image(s) -> labels.csv; {res.plates} plate and {res.containers} "
          f"container crop(s) -> ocr/labels.csv; {len(res.skipped)} skipped")
    for s in res.skipped:
        print(f"  skipped {s}", file=sys.stderr)
    return 0
