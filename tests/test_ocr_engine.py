"""OCR engine: model manifest, DB post-processing, CTC decoding, and real inference on a rendered line."""

import json

import cv2
import numpy as np
import pytest

import models
from edge.readers.ocr.ctc import best_in, ctc_greedy, ctc_segments
from edge.readers.ocr.det_postprocess import db_postprocess, order_quad, reading_order
from edge.readers.ocr.engine import OcrEngine, crop_quad


def test_manifest_lists_sha256_and_licence_for_every_file():
    data = json.loads(models.MANIFEST_PATH.read_text(encoding="utf-8"))["files"]
    for name in ("v4_det", "v4_rec", "v6_tiny_det", "v6_small_rec", "v6_dict"):
        entry = data[name]
        assert len(entry["sha256"]) == 64 and entry["size"] > 0 and entry["licence"]


def test_model_path_resolves_and_verifies():
    p = models.model_path("v6_tiny_det")
    assert p.is_file() and p.stat().st_size == models.load_manifest()["v6_tiny_det"]["size"]


def test_sha256_mismatch_is_a_clear_error(monkeypatch):
    bad = dict(models.load_manifest())
    bad["v6_tiny_det"] = {**bad["v6_tiny_det"], "sha256": "0" * 64}
    monkeypatch.setattr(models, "load_manifest", lambda: bad)
    monkeypatch.setattr(models, "_verified", {})
    with pytest.raises(models.ModelError, match="sha256 mismatch"):
        models.model_path("v6_tiny_det")


def test_unknown_model_name():
    with pytest.raises(models.ModelError, match="unknown model"):
        models.model_path("v99_det")


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    charset = ["", "A", "B"]
    steps = [1, 1, 0, 1, 2, 2, 0]
    probs = np.full((len(steps), 3), 0.05, np.float32)
    for t, k in enumerate(steps):
        probs[t, k] = 0.9
    text, conf = ctc_greedy(probs, charset)
    assert text == "AAB" and len(conf) == 3
    assert ctc_segments(probs) == [(1, 0, 1), (1, 3, 3), (2, 4, 5)]
    k, p = best_in(probs, 4, 5, [1])
    assert k == 1 and p == pytest.approx(0.05)


def test_db_postprocess_finds_a_rectangle_in_source_pixels():
    pred = np.zeros((64, 128), np.float32)
    pred[20:30, 10:90] = 0.9
    found = db_postprocess(pred, (128, 256))  # source image is twice the map size
    assert len(found) == 1
    quad, score = found[0]
    assert score > 0.8
    assert quad[:, 0].min() < 22 and quad[:, 0].max() > 176  # unclipped beyond 20..180
    assert quad[:, 1].min() < 42 and quad[:, 1].max() > 58


def test_order_quad_and_reading_order():
    q = order_quad(np.array([[10, 10], [0, 10], [0, 0], [10, 0]], np.float32))
    assert q.tolist() == [[0, 0], [10, 0], [10, 10], [0, 10]]
    boxes = [np.array([[x, y], [x + 30, y], [x + 30, y + 10], [x, y + 10]], np.float32)
             for x, y in ((50, 0), (0, 2), (0, 30))]
    assert reading_order(boxes) == [1, 0, 2]


def test_crop_quad_rotates_tall_strips():
    img = np.zeros((200, 100, 3), np.uint8)
    tall = np.array([[10, 10], [40, 10], [40, 190], [10, 190]], np.float32)
    crop = crop_quad(img, tall, pad=0.0)
    assert crop.shape[1] > crop.shape[0]


@pytest.fixture(scope="module")
def engine():
    return OcrEngine(det="v6_tiny", rec="v6_small", threads=1)


def _render(text: str) -> np.ndarray:
    img = np.full((120, 520, 3), 255, np.uint8)
    cv2.putText(img, text, (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4, cv2.LINE_AA)
    return img


def test_engine_reads_a_rendered_line(engine):
    lines = engine.read(_render("30A12345"))
    assert [ln.text.replace(" ", "") for ln in lines] == ["30A12345"]
    assert lines[0].confidence > 0.8 and lines[0].quad.shape == (4, 2)


def test_recognize_returns_probs_over_the_charset(engine):
    crop = _render("AB12")[20:110, 0:260]
    r = engine.recognize([crop], return_probs=True)[0]
    assert r.probs is not None and r.probs.shape[1] == len(engine.charset)
    assert engine.charset[0] == "" and "川" in engine.charset
    assert r.text == "AB12" and len(r.char_conf) == 4


def test_detect_does_not_upscale_frames_but_does_tiny_crops(engine):
    # a blank 1280x720 frame is processed at <= max_side; a tiny crop is upscaled, not rejected
    assert engine.detect(np.full((720, 1280, 3), 255, np.uint8), max_side=640) == []
    small = cv2.resize(_render("30A12345"), (104, 24), interpolation=cv2.INTER_AREA)
    assert engine.detect(small, min_side=96)
