"""`smartgate model promote NEW.onnx --eval DIR`: make a retrained cargo model the gate's model, only when it is
not worse than the current one on the same labelled photos.

Both models are scored through onnxruntime on every `--eval` folder together (`smartgate_tools.cargo_eval`): accuracy and
balanced accuracy of the top class, and the precision of the reads each accepts at its own shipped thresholds
(the reads inspectors do not look at). NEW must reach each of the three within `--tolerance` of the current
model, else nothing changes and the command exits 3 naming the figures that got worse. On success NEW is copied
over the manifest's cargo model (`models/cargo/cargo_cls.onnx`; the old file is kept as
`cargo_cls.onnx.previous`), its model card (and `cv/` report) come along when they sit next to NEW and the card
names NEW's sha256, and the manifest entry gets
the new sha256, size, thresholds and a `promoted` record (when, on what, both models' figures) — the runtime
refuses any file whose sha256 is not the one recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from edge.readers.cargo import CARGO_CLASSES, MANIFEST_NAME, CargoClassifier, CargoModelError
from smartgate_tools.cargo_eval import evaluate, list_labelled, metrics, thresholded, with_coverage

REFUSED = 3
CRITERIA = ("accuracy", "balanced_accuracy", "accepted_precision")


def score(clf: CargoClassifier, dirs: list[str]) -> dict:
    """Figures of one model on all `dirs` together."""
    rows: list[dict] = []
    for d in dirs:
        rows += evaluate(clf, list_labelled(d))[1]
    top = metrics([r["label"] for r in rows], [r["pred"] for r in rows], clf.classes)
    at = with_coverage(thresholded(clf, rows))
    return {"n": top["n"], "accuracy": top["accuracy"], "balanced_accuracy": top["balanced_accuracy"],
            "accepted_precision": at["accepted_accuracy"] if at["accepted_accuracy"] is not None else 0.0,
            "coverage": at["coverage"], "per_class": top["per_class"]}


def worse(old: dict, new: dict, tolerance: float) -> list[str]:
    return [f"{k} {new[k]:.4f} < {old[k]:.4f}" for k in CRITERIA
            if old[k] is not None and (new[k] is None or new[k] < old[k] - tolerance)]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def promote(new_path: str | Path, eval_dirs: list[str], manifest_path: str | Path | None = None,
            tolerance: float = 0.0, threads: int = 2, force: bool = False, log=print) -> int:
    """0: promoted; REFUSED (3): not promoted because NEW is worse; 2: bad input."""
    from models import MANIFEST_PATH, sha256_file

    manifest_path = Path(manifest_path or MANIFEST_PATH)
    new_path = Path(new_path)
    doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    entry = doc["files"].get(MANIFEST_NAME)
    if entry is None or entry.get("package") != "models":
        log(f"error: {manifest_path} has no {MANIFEST_NAME!r} entry of package 'models'")
        return 2
    dest = manifest_path.parent / entry["path"]
    try:
        new = CargoClassifier(new_path, threads=threads, verify=False)
    except (CargoModelError, OSError, RuntimeError) as e:
        log(f"error: {new_path} is not a usable cargo model: {e}")
        return 2
    if sorted(new.classes) != sorted(CARGO_CLASSES):
        log(f"error: {new_path} classifies {new.classes}, the gate needs {CARGO_CLASSES}")
        return 2
    if not eval_dirs or not any(list_labelled(d) for d in eval_dirs):
        log("error: name at least one labelled --eval folder to compare the models on")
        return 2
    new_sha = sha256_file(new_path)
    if new_sha == entry["sha256"]:
        log(f"{new_path} is the current model already (sha256 {new_sha[:12]}…); nothing to do")
        return 0
    try:
        old = CargoClassifier(dest, threads=threads, expected_sha256=entry["sha256"])
    except CargoModelError as e:
        if not force:
            log(f"error: the current model cannot be loaded ({e}); --force promotes without a comparison")
            return 2
        old = None
    s_new = score(new, eval_dirs)
    s_old = score(old, eval_dirs) if old is not None else None
    log(f"{'':<22}{'current':>10}{'new':>10}   ({s_new['n']} photos in {', '.join(eval_dirs)})")
    for k in (*CRITERIA, "coverage"):
        o = "-" if s_old is None or s_old[k] is None else f"{s_old[k]:.4f}"
        n = "-" if s_new[k] is None else f"{s_new[k]:.4f}"
        log(f"{k:<22}{o:>10}{n:>10}")
    bad = worse(s_old, s_new, tolerance) if s_old is not None else []
    if bad and not force:
        log(f"refused: {new_path} is worse than the current model on {', '.join(eval_dirs)}: {'; '.join(bad)} "
            f"(tolerance {tolerance}); the manifest and {dest} are unchanged")
        return REFUSED
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and dest.resolve() != new_path.resolve():
        shutil.copyfile(dest, dest.with_name(dest.name + ".previous"))
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(new_path, tmp)
    if sha256_file(tmp) != new_sha:
        tmp.unlink()
        log(f"error: copying {new_path} changed it; nothing promoted")
        return 2
    os.replace(tmp, dest)
    card_path = new_path.with_name("model_card.json")
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
    if card.get("onnx", {}).get("sha256") == new_sha:
        rec, pre = card.get("recipe", {}), card.get("preprocessing", {})
        entry["description"] = (f"cargo classifier ({len(new.classes)} classes), {rec.get('title', rec.get('arch', ''))}; "
                                f"1x3x{pre.get('imgsz', new.size)}x{pre.get('imgsz', new.size)} RGB, softmax output, "
                                "per-class abstention thresholds in the ONNX metadata; trained by `smartgate train "
                                "cargo`, see models/cargo/model_card.md")
        for suffix in (".json", ".md"):
            src = new_path.with_name("model_card" + suffix)
            if src.is_file() and src.resolve() != dest.with_name("model_card" + suffix).resolve():
                shutil.copyfile(src, dest.with_name("model_card" + suffix))
        cv_src, cv_dest = new_path.parent / "cv", dest.parent / "cv"
        if (cv_src / "report.md").is_file() and cv_src.resolve() != cv_dest.resolve():
            # the card's grouped-CV report (figures, confusion PNGs); per-image predictions stay with the run
            shutil.rmtree(cv_dest, ignore_errors=True)
            cv_dest.mkdir(parents=True)
            for f in [cv_src / "report.md", cv_src / "cv.json", *sorted(cv_src.glob("*.png"))]:
                if f.is_file():
                    shutil.copyfile(f, cv_dest / f.name)
    previous = entry["sha256"]
    entry.update({"sha256": new_sha, "size": new_path.stat().st_size})
    if new.model_thresholds:
        entry["thresholds"] = new.model_thresholds
    else:
        entry.pop("thresholds", None)
    entry["promoted"] = {"at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "from": str(new_path),
                         "previous_sha256": previous, "eval": [str(d) for d in eval_dirs], "forced": bool(bad),
                         "new": {k: s_new[k] for k in (*CRITERIA, "coverage", "n")},
                         "current": {k: s_old[k] for k in (*CRITERIA, "coverage", "n")} if s_old else None}
    _write_json(manifest_path, doc)
    log(f"promoted {new_path} -> {dest} (sha256 {new_sha}); previous model kept as {dest.name}.previous; "
        f"{manifest_path} updated")
    return 0


def main_model(args) -> int:
    if args.model_command != "promote":
        return 2
    return promote(args.new, args.eval or [], args.manifest, args.tolerance, args.threads, args.force,
                   log=lambda m: print(m, file=sys.stderr if m.startswith(("error", "refused")) else sys.stdout))
