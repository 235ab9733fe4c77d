"""The container reader's screen: a fast recogniser reads every box, the main one only around the codes it
verified, and a screen misreading costs a full read but never makes a code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.domain import iso6346

pytest.importorskip("onnxruntime")

FONT = cv2.FONT_HERSHEY_DUPLEX
WHITE = (235, 235, 235)
CODE = "MSKU3704035"


def _door_with_livery() -> np.ndarray:
    """A container door: the code (owner, serial, boxed check digit) with its size/type under it, and the
    livery and weight lines that make up most of a real photo's boxes."""
    img = np.full((620, 1000, 3), (40, 50, 130), np.uint8)
    for x in range(60, 1000, 150):
        cv2.rectangle(img, (x, 0), (x + 10, 620), (150, 150, 150), -1)

    def text(s: str, x: int, y: int, scale: float = 1.6) -> int:
        cv2.putText(img, s, (x, y), FONT, scale, WHITE, 3, cv2.LINE_AA)
        return cv2.getTextSize(s, FONT, scale, 3)[0][0]

    x = 330
    x += text(CODE[:4], x, 120) + 40
    sx = x
    x += text(CODE[4:10], x, 120) + 30
    tw = text(CODE[10], x, 120)
    cv2.rectangle(img, (x - 8, 120 - 40), (x + tw + 8, 130), WHITE, 2)
    text("22G1", sx, 190)
    text("OCEAN STAR LINES", 120, 330, 1.2)
    text("MAX GROSS", 120, 420, 0.9)
    text("TARE", 120, 470, 0.9)
    text("PAYLOAD", 120, 520, 0.9)
    text("SHIPPING", 560, 470, 1.0)
    return img


@pytest.fixture()
def engines():
    from edge.readers.ocr.engine import OcrEngine

    try:
        return OcrEngine(threads=2), OcrEngine(rec="v6_tiny", threads=2)
    except (FileNotFoundError, RuntimeError) as e:  # model files not installed
        pytest.skip(f"OCR models unavailable: {e}")


def _counting(engine, monkeypatch) -> list[int]:
    """Count the crops `engine` recognises (its own method, wrapped on the instance)."""
    counts: list[int] = []
    real = engine.recognize

    def recognize(crops, return_probs=False):
        counts.append(len(crops))
        return real(crops, return_probs=return_probs)

    monkeypatch.setattr(engine, "recognize", recognize)
    return counts


def test_the_main_recogniser_reads_only_around_the_code_the_screen_verified(engines, monkeypatch):
    from edge.readers.container import ContainerReader

    main, tiny = engines
    plain = ContainerReader(main, screen=None).read(_door_with_livery())
    reader = ContainerReader(main, screen=tiny)
    boxes = len(main.detect(_door_with_livery(), max_side=reader.det_max_side))
    counts = _counting(main, monkeypatch)
    reads = reader.read(_door_with_livery())
    assert [(r.code, r.size_type) for r in reads] == [(r.code, r.size_type) for r in plain] == [(CODE, "22G1")]
    assert reads[0].box == plain[0].box
    assert boxes >= 8 and 0 < counts[0] <= boxes // 2  # the livery went to the screen only


def test_a_screen_misreading_that_verifies_is_not_a_code(engines, monkeypatch):
    """The screen reads two serial digits wrong and the boxed check digit still agrees (one misread digit never
    verifies; two do one time in ten): the main recogniser does not read that code there, so every box is read again."""
    from edge.readers.container import ContainerReader, _code_lines
    from edge.readers.ocr.engine import crop_quad

    main, tiny = engines
    fake = next(CODE[4:8] + a + b for a in "0123456789" for b in "0123456789" if a != CODE[8] and b != CODE[9]
                and iso6346.check_digit(CODE[:4] + CODE[4:8] + a + b) == int(CODE[10]))
    real = tiny.recognize

    def misread(crops, return_probs=False):
        recs = real(crops, return_probs=return_probs)
        for r in recs:
            if CODE[4:10] in r.text:
                r.text = r.text.replace(CODE[4:10], fake)
        return recs

    monkeypatch.setattr(tiny, "recognize", misread)
    reader = ContainerReader(main, screen=tiny)
    img = _door_with_livery()
    quads = main.detect(img, max_side=reader.det_max_side)
    boxes = len(quads)
    # the misreading screen alone verifies the wrong code (so the check below is the confirmation's doing)
    quick = _code_lines(reader._recognise(img, quads, [crop_quad(img, q, 0.08) for q in quads], tiny))
    assert CODE[:4] + fake + CODE[10] in {r.code for r in reader._candidates(img, quick, pixels=False)
                                           if r.check_digit_ok}
    reader = ContainerReader(main, screen=tiny)
    counts = _counting(main, monkeypatch)
    reads = reader.read(_door_with_livery())
    assert [r.code for r in reads if r.check_digit_ok] == [CODE]
    assert CODE[:4] + fake + CODE[10] not in {r.code for r in reads}
    assert sum(counts) >= boxes  # the fallback read every box with the main recogniser


def test_the_gate_reads_words_with_the_screen(engines):
    from edge.readers.container import ContainerReader
    from edge.readers.container_gate import gate_for

    main, tiny = engines
    gate = gate_for(ContainerReader(main, screen=tiny), None, read_words=True)
    assert gate is not None and gate.word_engine is tiny and gate.engine is main
    plain = gate_for(ContainerReader(main, screen=None), None, read_words=True)
    assert plain is not None and plain.word_engine is main
    # a first look: the code's lines open the full read, with the screen reading them
    assert gate.new_text(_door_with_livery(), "c") >= 1


def test_a_corrected_code_beside_the_same_owners_code_read_as_is_an_echo():
    """TEMU5037029 read as painted on the doors, TEMU6037029 on the side "corrected" into TEMU6037023: one
    container, the corrected code is dropped; a second container of another owner, or two read as painted, stay."""
    from edge.domain.types import ContainerRead
    from edge.readers.container import drop_echoes

    def read(code: str, corrected: bool) -> ContainerRead:
        return ContainerRead(code=code, check_digit_ok=iso6346.validate(code), corrected=corrected)

    assert iso6346.validate("TEMU5037029") and iso6346.validate("TEMU6037023")
    kept = drop_echoes([read("TEMU6037023", True), read("TEMU5037029", False)])
    assert [r.code for r in kept] == ["TEMU5037029"]
    two = [read("TEMU6037023", False), read("TEMU5037029", False)]  # both as read: two containers
    assert drop_echoes(two) == two
    other = [read("MSKU3704035", True), read("TEMU5037029", False)]  # far apart: two containers
    assert drop_echoes(other) == other
