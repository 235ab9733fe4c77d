"""The shipped cargo classifier: integrity checks, the onnxruntime path, and accuracy on fresh synthetic gate views."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main as cli_main
from edge.domain.types import CargoRead
from edge.readers.cargo import (
    CARGO_CLASSES,
    UNKNOWN,
    CargoClassifier,
    CargoModelError,
    default_model_path,
    preprocess,
)
from models import load_manifest, sha256_file
from smartgate_tools.cargo_eval import list_labelled, metrics
from smartgate_tools.train.synth import render_cargo_view, write_synthetic

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "cargo" / "cargo_cls.onnx"
FRESH_SEED = 987_654  # the shipped model's synthetic views used seed 0: these are new trucks


@pytest.fixture(scope="module")
def clf() -> CargoClassifier:
    return CargoClassifier(min_confidence=0.0)


@pytest.fixture(scope="module")
def fresh_views() -> list[tuple[str, np.ndarray]]:
    return [(c, render_cargo_view(c, np.random.default_rng([FRESH_SEED, i, k])))
            for i, c in enumerate(CARGO_CLASSES) for k in range(2)]


def test_shipped_model_matches_manifest() -> None:
    entry = load_manifest()["cargo_cls"]
    assert default_model_path() == SHIPPED
    assert sha256_file(SHIPPED) == entry["sha256"]
    assert SHIPPED.stat().st_size == entry["size"] < 20_000_000
    card = json.loads((SHIPPED.parent / "model_card.json").read_text(encoding="utf-8"))
    assert card["onnx"]["sha256"] == entry["sha256"]
    assert card["classes"] == CARGO_CLASSES


def test_tampered_copy_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.onnx"
    shutil.copy(SHIPPED, good)
    assert CargoClassifier(good).classes == CARGO_CLASSES  # an exact copy passes the manifest check
    bad = tmp_path / "bad.onnx"
    data = bytearray(SHIPPED.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit inside a weight tensor: still a loadable ONNX file
    bad.write_bytes(bytes(data))
    with pytest.raises(CargoModelError, match="sha256"):
        CargoClassifier(bad)
    with pytest.raises(CargoModelError, match="sha256"):
        CargoClassifier(good, expected_sha256="0" * 64)


def test_runtime_does_not_import_torch() -> None:
    code = ("import sys, numpy as np; from edge.readers.cargo import CargoClassifier; "
            "CargoClassifier().classify(np.zeros((90, 160, 3), np.uint8)); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_classify_returns_valid_reads(clf: CargoClassifier, fresh_views) -> None:
    for _, img in fresh_views:
        r = clf.classify(img)
        assert isinstance(r, CargoRead)
        assert r.cls in CARGO_CLASSES
        assert 1 / len(CARGO_CLASSES) <= r.confidence <= 1.0  # the top of a softmax over 7 classes
        p = clf.probabilities(img)
        assert p.shape == (len(CARGO_CLASSES),) and abs(p.sum() - 1) < 1e-4
        assert r.cls == CARGO_CLASSES[int(np.argmax(p))]


def test_fresh_synthetic_gate_views_mostly_right(clf: CargoClassifier, fresh_views) -> None:
    wrong = [(c, clf.classify(img).cls) for c, img in fresh_views if clf.classify(img).cls != c]
    assert len(fresh_views) == 14
    assert len(wrong) <= 4, f"{len(wrong)}/14 wrong: {wrong}"  # >= 10/14 (71 %) right


def test_low_confidence_is_unknown(fresh_views) -> None:
    img = fresh_views[0][1]
    strict = CargoClassifier(min_confidence=1.01)  # no probability reaches it
    r = strict.classify(img)
    assert r.cls == UNKNOWN and 0 < r.confidence <= 1
    lax = CargoClassifier(min_confidence=0.0)
    assert lax.classify(img).cls != UNKNOWN


def test_preprocess_matches_training_recipe() -> None:
    img = np.zeros((270, 480, 3), np.uint8)
    img[:, :, 2] = 255  # pure red in BGR
    x = preprocess(img, 224)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    assert np.allclose(x[0, 0], 1.0) and np.allclose(x[0, 2], -1.0)  # RGB order, scaled to [-1, 1]
    img[:, :240] = 0  # left half black: squash keeps both halves, centre crop keeps the middle only
    sq = preprocess(img, 100)
    assert sq[0, 0, :, :45].max() < -0.99 and sq[0, 0, :, 55:].min() > 0.99
    cc = preprocess(img, 100, resize="center_crop", norm="0_1")
    assert cc.shape == (1, 3, 100, 100) and cc.min() >= 0 and cc.max() <= 1


def test_metrics_per_class_and_confusion() -> None:
    classes = ["a", "b", "c"]
    m = metrics(["a", "a", "b", "b", "c"], ["a", "b", "b", UNKNOWN, "a"], classes)
    assert m["n"] == 5 and m["accuracy"] == 0.4
    assert m["per_class"]["a"] == {"support": 2, "correct": 1, "recall": 0.5, "precision": 0.5}
    assert m["per_class"]["b"]["recall"] == 0.5 and m["per_class"]["b"]["precision"] == 0.5
    assert m["per_class"]["c"]["recall"] == 0.0 and m["per_class"]["c"]["precision"] is None
    assert m["confusion"]["matrix"] == [[1, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0]]


def test_cargo_eval_cli_on_an_image_folder(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "set", 1, seed=FRESH_SEED + 1, progress=False)
    assert len(list_labelled(tmp_path / "set")) == len(CARGO_CLASSES)
    out = tmp_path / "eval.json"
    assert cli_main(["cargo-eval", str(tmp_path / "set"), "--json", str(out)]) == 0
    rep = json.loads(out.read_text(encoding="utf-8"))
    s = rep["sets"][str(tmp_path / "set")]
    assert s["n"] == 7 and len(s["images"]) == 7
    assert set(s["per_class"]) == set(CARGO_CLASSES)
    assert sum(map(sum, s["confusion"]["matrix"])) == 7
    assert s["accuracy"] == sum(r["pred"] == r["label"] for r in s["images"]) / 7
