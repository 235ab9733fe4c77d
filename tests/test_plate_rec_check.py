"""The plate recogniser's veto on plate reads (edge.readers.plate_rec_check), with the shipped recogniser on
rendered plates placed in a larger scene: the crop it reads, what it vetoes, and the reader's no-read reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.domain.types import Box, PlateRead
from edge.readers.plate_rec import PlateRecogniser, PlateRecRead
from edge.readers.plate_rec_check import RecogniserCheck, plate_crop, vetoes


def _rec(text: str, probs: list[float]) -> PlateRecRead:
    return PlateRecRead(text, min(probs, default=0.0), probs, "VN", "one", 0.9, True)


def test_only_sure_differing_characters_veto() -> None:
    sure = [0.999] * 8
    assert vetoes("51F88270", _rec("51F88276", sure))  # a substitution it is sure of
    assert not vetoes("51F88270", _rec("51F88276", [0.999] * 7 + [0.98]))  # the differing character is not sure
    assert vetoes("51F88270", _rec("51F88276", [0.3] * 7 + [0.999]))  # agreeing characters do not count
    assert not vetoes("51F88270", _rec("51F8827", sure[:7]))  # only lacks a character: no confidence to judge
    assert vetoes("51F8827", _rec("51F88270", sure))  # has one more, sure of it
    assert not vetoes("51F88270", _rec("51F88270", sure))
    assert not vetoes("RK959AO", _rec("RK959A0", [0.999] * 7))  # the grammar's slot fix (0 -> O) reconciles them
    assert not vetoes("51F88270", _rec("", []))


def test_plate_crop_grows_by_the_margin_and_clips() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    assert plate_crop(img, Box(x=50, y=40, w=100, h=20)).shape[:2] == (20 + 2 * 5, 100 + 2 * 10)
    assert plate_crop(img, Box(x=0, y=0, w=100, h=20)).shape[:2] == (25, 110)  # clipped at the top-left edge
    assert plate_crop(img, Box(x=150, y=90, w=50, h=10)).shape[:2] == (13, 56)  # and at the bottom-right


def _scenes(n: int, seed: int, height: int = 48, jpeg: int = 95) -> list[tuple[np.ndarray, Box, str]]:
    """Rendered plates `height` px tall pasted at random places on a grey frame, JPEG-compressed at quality `jpeg`,
    with the box of the plate."""
    pytest.importorskip("PIL")
    from data_samples.codes import random_cn_plate, random_vn_plate
    from data_samples.render_plate import render_plate

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        plate = (random_vn_plate if i % 2 == 0 else random_cn_plate)(rng, two_line=False)
        img = render_plate(plate, rng, px_per_m=400.0, dirt=0.0)
        s = height / img.shape[0]
        img = cv2.resize(img, (int(img.shape[1] * s), height), interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
        scene = np.full((240, 400, 3), 110, np.uint8)
        x, y = int(rng.integers(20, 400 - w - 20)), int(rng.integers(20, 240 - h - 20))
        scene[y:y + h, x:x + w] = img
        scene = cv2.imdecode(cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, jpeg])[1], cv2.IMREAD_COLOR)
        out.append((scene, Box(x=x + 4, y=y + 4, w=w - 8, h=h - 8), plate.text))
    return out


def test_a_confident_other_text_is_vetoed_an_agreeing_or_unsure_one_is_not() -> None:
    sure = RecogniserCheck(PlateRecogniser(threads=1), sure_char=0.0)  # any differing character vetoes
    never = RecogniserCheck(PlateRecogniser(threads=1), sure_char=1.01)  # no character is sure enough
    checked = 0
    for scene, box, _ in _scenes(12, seed=5):
        seen = sure.reading(scene, PlateRead(text="X", box=box))
        assert seen is not None
        if not seen.text:
            continue
        checked += 1
        k = next((i for i, c in enumerate(seen.text) if c.isdigit()), None)
        if k is None:
            continue
        changed = seen.text[:k] + str((int(seen.text[k]) + 1) % 10) + seen.text[k + 1:]  # a digit slip
        same, other = PlateRead(text=seen.text, box=box), PlateRead(text=changed, box=box)
        assert sure.disagrees(scene, same) is None
        assert sure.disagrees(scene, other) is not None
        assert never.disagrees(scene, other) is None  # unsure: the read stands
    assert checked >= 6
    assert sure.disagrees(scene, PlateRead(text="X")) is None  # no box: nothing to check


def test_origin_moves_the_box_into_a_cut_zone() -> None:
    check = RecogniserCheck(PlateRecogniser(threads=1))
    scene, box, _ = _scenes(1, seed=9)[0]
    read = PlateRead(text="X", box=box)
    zone = scene[5:, 3:]  # the plate and its margin stay inside the zone
    whole, cut = check.reading(scene, read), check.reading(zone, read, origin=(3, 5))
    assert whole is not None and cut is not None
    assert (whole.text, whole.confidence) == (cut.text, pytest.approx(cut.confidence))


def test_the_reader_drops_what_the_check_vetoes() -> None:
    """PlateReader with the check returns exactly its reads without the check minus the vetoed ones, and a
    `recogniser_disagrees` no-read when nothing is left. Small, heavily compressed plates so that the two readers
    differ on some (with the shipped recogniser 3 of the 8 that PP-OCR reads; a retrained model may need other
    scenes here)."""
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader

    sure = RecogniserCheck(PlateRecogniser(threads=1), sure_char=0.0)
    engine = OcrEngine(threads=2)
    plain, checked = PlateReader(engine, rec_check=False), PlateReader(engine, rec_check=sure)
    outcomes = set()
    for scene, _, _ in _scenes(10, seed=3, height=20, jpeg=30):
        reads = [r for r in plain.read_all(scene) if r.ok]
        if not reads:
            continue
        kept = [r for r in reads if sure.disagrees(scene, r) is None]
        got = checked.read_all(scene)
        if kept:
            assert [r.text for r in got] == [r.text for r in kept]
            outcomes.add("kept")
        else:
            assert len(got) == 1 and got[0].reason == "recogniser_disagrees" and got[0].raw == reads[0].text
            outcomes.add("vetoed")
    assert outcomes == {"kept", "vetoed"}


def test_a_tampered_or_missing_model_leaves_the_reader_without_the_veto(tmp_path, caplog) -> None:
    from edge.readers.plate_rec import model_dir

    assert RecogniserCheck.shipped() is not None
    for name in ("manifest.json", "plate_rec.onnx"):
        (tmp_path / name).write_bytes((model_dir() / name).read_bytes())
    with (tmp_path / "plate_rec.onnx").open("ab") as f:
        f.write(b"\0")
    with caplog.at_level("ERROR"):
        assert RecogniserCheck.shipped(directory=str(tmp_path)) is None
        assert RecogniserCheck.shipped(directory=str(tmp_path / "missing")) is None
    assert sum("plate recogniser unavailable" in r.message for r in caplog.records) == 2
