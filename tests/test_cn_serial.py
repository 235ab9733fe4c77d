"""The shipped CN serial-character classifier and how it settles contested slots of the CN slot vote."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from edge.readers.cn_serial import (
    NOMINAL_PITCH,
    SERIAL_CLASSES,
    SerialClassifier,
    serial_pitch,
    serial_windows,
)
from edge.readers.plate_cn import SERIAL_SURE, CnPlateReader
from edge.readers.plate_cn_slots import SlotReading, TailVote, vote_slots
from smartgate_tools.train.train_cn_province import CJK_FONTS, LATIN_FONTS, available

FRESH_SEED = 515_151  # the shipped model was trained on seed 0 and measured on seed 1000


@pytest.fixture(scope="module")
def clf() -> SerialClassifier:
    return SerialClassifier(threads=1)


def _fonts() -> tuple[list, list]:
    cjk, latin = available(CJK_FONTS), available(LATIN_FONTS)
    if not cjk or not latin:
        pytest.skip("no CJK/Latin fonts installed to render plates")
    return cjk, latin


def test_classes_and_output(clf):
    assert "".join(clf.classes) == SERIAL_CLASSES
    out = clf.glyph_probs(np.full((40, 200, 3), 128, np.uint8), 100.0, 15.0)
    assert list(out) == list(SERIAL_CLASSES)
    assert abs(sum(out.values()) - 1.0) < 1e-4


def test_fresh_synthetic_plate_glyphs(clf):
    """Legible glyphs (16–40 px tall) cut from freshly rendered plate lines are read."""
    from smartgate_tools.train.cn_province_lines import camera_crop, render_line

    cjk, latin = _fonts()
    rng = np.random.default_rng(FRESH_SEED)
    hits = total = 0
    for _ in range(12):
        tail = "".join(SERIAL_CLASSES[i] for i in [rng.integers(24), *rng.integers(0, 34, 5)])
        canvas, quad, centres = render_line(rng, 0, cjk, latin, tail=tail)
        crop, xs, _ = camera_crop(rng, canvas, quad, centres, min_glyph_px=16, rect=True)
        pitch = serial_pitch(list(xs[2:7]), 0.58 * crop.shape[0])
        for slot in range(1, 7):
            probs = clf.glyph_probs(crop, float(xs[slot]), pitch)
            hits += max(probs, key=probs.__getitem__) == tail[slot - 1]
            total += 1
    assert hits / total >= 0.85


def test_windows_follow_the_crop_height_and_pitch():
    line = np.zeros((50, 300, 3), np.uint8)
    line[:, 140:160] = 255  # one glyph-wide bar centred on x = 150
    wins = serial_windows(line, 150.0, 20.0)
    assert len(wins) == 6
    # window height = 1.25 × glyph height (0.58 of the crop), rounded
    assert {w.shape[0] for w in wins} == {round(1.25 * 0.58 * 50 * s) for s in (0.95, 1.1)}
    # 1.3 pitches wide: the 1-pitch bar fills about 1/1.3 of the unshifted window's width
    centre = wins[1]
    assert abs(float((centre[centre.shape[0] // 2, :, 0] > 127).mean()) - 1 / 1.3) < 0.08


def test_pitch_is_the_slope_of_the_serial_centres_within_bounds():
    assert serial_pitch([10.0, 30.0, 50.0, 70.0, 90.0], 40.0) == pytest.approx(20.0)
    assert serial_pitch([10.0, 31.0, 49.0, 71.0, 90.0], 40.0) == pytest.approx(20.0, abs=0.5)
    # a slope no plate can have (slots collapsed onto each other) falls back to the nominal pitch
    assert serial_pitch([10.0, 11.0, 12.0, 13.0, 14.0], 40.0) == pytest.approx(NOMINAL_PITCH * 40.0)


def _reading(chars: str, peaks: list[dict[str, float]]) -> SlotReading:
    return SlotReading(path=None, chars=chars, peaks=peaks)  # type: ignore[arg-type]


def _peaks(tail: str, alt: dict[int, dict[str, float]] | None = None) -> list[dict[str, float]]:
    out = [{"川": 0.95}] + [{c: 0.95} for c in tail]
    for i, d in (alt or {}).items():
        out[i] = d
    return out


def test_vote_lists_contenders_of_contested_slots():
    # W vs H (tail index 4), a clear slot elsewhere
    reads = [_reading("川EB68H9", _peaks("EB68H9", {5: {"H": 0.53, "W": 0.43}})),
             _reading("川EB68W9", _peaks("EB68W9", {5: {"W": 0.87, "H": 0.05}})),
             _reading("川EB68H9", _peaks("EB68H9", {5: {"H": 0.72, "W": 0.05}}))]
    vote = vote_slots(reads)
    assert vote is not None and set(vote.contests) == {4} and set(vote.contests[4]) == {"H", "W"}
    # a 0 doubted in favour of Q names Q as its contender
    reads = [_reading("桂F36071", _peaks("F36071", {4: {"0": 0.25, "Q": 0.74}})),
             _reading("桂F36071", _peaks("F36071", {4: {"0": 0.9, "Q": 0.08}}))]
    vote = vote_slots(reads)
    assert vote is not None and vote.contests == {3: ("0", "Q")} and vote.conf[3] == 0.0


def test_serial_lookalikes_are_contested_only_when_asked():
    # 皖A752D5 on a worse camera: all three say 0 where the plate has D; one gives D 0.2
    reads = [_reading("皖A75205", _peaks("A75205", {5: {"0": 0.9, "D": 0.2}})),
             _reading("皖A75205", _peaks("A75205", {5: {"0": 0.95, "D": 0.03}}))]
    plain = vote_slots(reads)
    assert plain is not None and plain.text == "A75205" and plain.contests == {} and plain.conf[4] > 0.9
    doubted = vote_slots(reads, lookalike_doubt=0.1)
    assert doubted is not None and doubted.contests == {4: ("0", "D")} and doubted.conf[4] == 0.0
    assert vote_slots(reads, lookalike_doubt=0.25).contests == {}  # below the doubt: the vote stands
    # the authority letter slot is a letter by the template: never doubted as a digit
    letter = [_reading("皖B75205", _peaks("B75205", {1: {"B": 0.9, "8": 0.5}}))]
    assert vote_slots(letter, lookalike_doubt=0.1).contests == {}


class _Classifier:
    """Stands in for the ONNX model: returns set probabilities and records where it looked."""

    def __init__(self, probs: dict[str, float]):
        self.probs, self.seen = probs, []

    def glyph_probs(self, crop: np.ndarray, x: float, pitch: float) -> dict[str, float]:
        self.seen.append((x, pitch))
        return {c: self.probs.get(c, 0.0) for c in SERIAL_CLASSES}


def _settle(probs: dict[str, float], vote: TailVote) -> tuple[tuple[str, list[float]], list[float]]:
    reader = CnPlateReader.__new__(CnPlateReader)  # only _settle is exercised: no OCR sessions needed
    reader.serial_model = _Classifier(probs)
    # two recognisers: slots every 3 steps, the second one step later (crop 48 px high: step = 8 px)
    reads = [SlotReading(path=SimpleNamespace(slots=[SimpleNamespace(first=3 * k + d, last=3 * k + d)
                                                     for k in range(7)]), chars="", peaks=[])  # type: ignore[arg-type]
             for d in (0, 1)]
    quad = np.array([[0, 0], [200, 0], [200, 40], [0, 40]], np.float32)  # crop_quad pad 0.1: 48 px high
    out = reader._settle(np.zeros((60, 240, 3), np.uint8), quad, reads, vote)
    return out, reader.serial_model.seen


def test_settle_takes_a_sure_contender_only():
    vote = TailVote("EB68H9", [1.0, 1.0, 1.0, 1.0, 0.0, 1.0], {4: ("H", "W")})
    (text, conf), seen = _settle({"W": 0.97, "H": 0.02}, vote)
    assert text == "EB68W9" and conf[4] == pytest.approx(0.97)
    # only the contested slot (template slot 5) is looked at, at the recognisers' mean centre
    # (steps 15 and 16 → 8 × 16 = 128 px), with the pitch of the serial slots (3 steps = 24 px)
    assert seen == [(pytest.approx(128.0), pytest.approx(24.0))]
    # not sure enough: the slot stays a no-read (confidence 0)
    (text, conf), _ = _settle({"W": SERIAL_SURE - 0.05, "H": 0.02}, vote)
    assert text == "EB68H9" and conf[4] == 0.0
    # sure, but of a character neither recogniser proposed: it never adds one of its own
    (text, conf), _ = _settle({"N": 0.99}, vote)
    assert text == "EB68H9" and conf[4] == 0.0


def test_settle_without_contests_or_model_is_the_vote():
    vote = TailVote("EB68H9", [1.0] * 6, {})
    (text, conf), seen = _settle({"W": 0.99}, vote)
    assert (text, conf, seen) == ("EB68H9", [1.0] * 6, [])
