"""The container gate's word cue (pipeline.container_gate_words): livery words on a passing truck do not open a full
container read; anything that may be part of a code does. Real PP-OCR on rendered frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.lane.config import PipelineConfig
from edge.readers.container_gate import ContainerGate, gate_for, only_words
from edge.readers.ocr.engine import OcrEngine


@pytest.mark.parametrize("text", ["COSCO", "中远 COSCO", "VẬN TẢI HÀ GIANG", "KIM THÀNH JSC", "NET 28.260 KG",
                                  "TARE 2.220 KG", "CAUTION", "DỄ CHÁY 易燃 FLAMMABLE"])
def test_words_and_weights_are_not_code(text: str) -> None:
    assert only_words(text)


@pytest.mark.parametrize("text", ["MWCU 004429", "MWCU", "TEMU", "45G1", "004429", "96 HIGH", "NG", "I", "明",
                                  "LÀN IN1", "SEGU6263148", ""])
def test_pieces_of_a_code_and_short_lines_open_the_read(text: str) -> None:
    assert not only_words(text)  # an owner code, a digit, too short to tell, one Chinese glyph (an emblem)


def frame(text: str, x: int) -> np.ndarray:
    img = np.full((360, 640, 3), (40, 90, 200), np.uint8)  # an orange container side
    cv2.putText(img, text, (x, 180), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 4, cv2.LINE_AA)
    return img


class CountingEngine(OcrEngine):
    def __init__(self) -> None:
        super().__init__(threads=1)
        self.recognised = 0

    def recognize(self, crops, return_probs=False):  # noqa: ANN001, ANN201
        self.recognised += len(crops)
        return super().recognize(crops, return_probs)


def test_gate_reads_new_lines_and_lets_only_code_text_open_the_full_read() -> None:
    eng = CountingEngine()
    gate = ContainerGate(eng, 640, read_words=True)
    plain = ContainerGate(eng, 640)
    assert plain.new_text(frame("LOGISTICS", 120), "c") == 1  # the detector alone: a new line is a new line
    assert eng.recognised == 0
    assert gate.new_text(frame("LOGISTICS", 120), "c") == 0 and eng.recognised == 1
    # the truck moves on: the same word at another place is recognised as that word again, not read
    assert gate.new_text(frame("LOGISTICS", 150), "c") == 0 and eng.recognised == 1
    assert gate.new_text(frame("MWCU 004429", 150), "c") == 1  # a code: the full read goes ahead
    assert eng.recognised == 2


def test_the_pipeline_builds_its_container_gate_with_the_word_cue_by_default() -> None:
    assert PipelineConfig().container_gate_words is True

    class Reader:
        engine = OcrEngine(threads=1)
        det_max_side = 960

    gate = gate_for(Reader(), 640, read_words=True)
    assert gate is not None and gate.read_words and gate.max_side == round(640 * 2 / 3)
    off = gate_for(Reader(), 640)
    assert off is not None and not off.read_words
