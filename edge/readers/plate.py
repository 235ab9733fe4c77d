"""Licence-plate reader: text detection → line pairing → recognition → grammar → PlateRead.

No plate detector: the PP-OCR text detector finds text lines in the read zone (or the crop);
single lines and vertically stacked pairs (two-line plates: VN motorbike/square truck plates,
CN yellow rear plates) become candidates; each is validated against the VN/CN grammars (then a
generic one) with letter/digit fixes by position. A two-line plate is never fed whole to the
recogniser: if the detector returns one squarish box, it is split at the ink-profile minimum.

A wrong read is worse than a no-read, so three recognisers check each other (PP-OCRv6-small is
the main one; v4 and v5 re-read the same crops): CN-looking lines are voted (province glyph from
the recognisers' probabilities over the 31 provinces and a glyph classifier, tail slot by slot; a
leaning line is also read deskewed, and a slot the recognisers split on is settled by a character
classifier only when it is sure of one of the contenders), weak reads need a second
recogniser's agreement (`low_agreement` otherwise), and weak foreign reads go to a 2-of-3 vote.
The three share many mistakes, so a small recogniser trained on plate crops only checks each chosen
read: one it confidently reads as another text is a `recogniser_disagrees` no-read (`plate_rec_check`).
Weak or ambiguous reads become explicit no-reads with a reason.

This module is the facade that runs those steps in order; each step lives in its own module:
`plate_lines` (finding text lines, one-line vs two-line geometry), `plate_cn` (the CN vote, with
`plate_cn_text`, `plate_cn_province` and `plate_cn_slots`), `plate_candidates` (grammar matches of
lines and pairs, VN layout names) and `plate_choice` (confidence floors, cross-checks, one plate per place).
"""

from __future__ import annotations

import numpy as np

from edge.domain.plate_grammar import FORMAT_NAMES
from edge.domain.types import Box, PlateRead
from edge.readers.cn_province import ProvinceClassifier
from edge.readers.cn_serial import SerialClassifier
from edge.readers.ocr.engine import OcrEngine
from edge.readers.plate_candidates import Candidate, build_candidates, to_read
from edge.readers.plate_choice import (
    CROSS_CHECK_BELOW,
    acceptable,
    confirmed,
    load_floors,
    majority,
    non_overlapping,
    plate_text_ok,
)
from edge.readers.plate_cn import EVIDENCE_COLOURS, LOOKALIKE_DOUBT, PROVINCE_EVIDENCE, CnPlateReader
from edge.readers.plate_lines import GATE_MIN_H, GATE_SIDE, TextLine, find_lines, find_plate_boxes, prepare
from edge.readers.plate_rec_answer import ANSWERABLE, answer, places
from edge.readers.plate_rec_check import RecogniserCheck


class PlateReader:
    """Reads one plate per image (`read`) or every plate (`read_all`).

    `formats` limits the grammars (e.g. only VN and CN at a VN–CN gate; the generic grammar
    reads other countries). `min_confidence` is the lowest mean character confidence accepted.
    """

    def __init__(
        self,
        engine: OcrEngine | None = None,
        formats: tuple[str, ...] = FORMAT_NAMES,
        min_confidence: float = 0.75,
        min_char_confidence: float = 0.3,
        max_side: int = 960,
        cn_engine: OcrEngine | None = None,
        check_engine: OcrEngine | None = None,
        glyph_model: ProvinceClassifier | bool = True,
        serial_model: SerialClassifier | bool = True,
        calibration: dict[str, float] | str | None = "shipped",
        cross_check_below: float = CROSS_CHECK_BELOW,
        rec_check: RecogniserCheck | bool = True,
        plate_text: bool = True,
        rec_answer: bool = True,
        province_evidence: float = PROVINCE_EVIDENCE,
        lookalike_doubt: float | None = LOOKALIKE_DOUBT,
        evidence_colours: tuple[str, ...] = EVIDENCE_COLOURS,
    ):
        self.engine = engine or OcrEngine()
        # PP-OCRv4 re-reads CN-looking lines (sessions are shared process-wide)
        self.cn_engine = cn_engine if cn_engine is not None else OcrEngine(
            det=self.engine.det_name, rec="v4", threads=self.engine.threads)
        # PP-OCRv5: third voter on CN-looking lines
        self.check_engine = check_engine if check_engine is not None else OcrEngine(
            det=self.engine.det_name, rec="v5", threads=self.engine.threads)
        # province-glyph classifier, one more vote on the province (True: the shipped model; False: off)
        self.glyph_model = (ProvinceClassifier(threads=self.engine.threads) if glyph_model is True
                            else glyph_model or None)
        # serial-character classifier: settles slots the recognisers split on (True: shipped model)
        self.serial_model = (SerialClassifier(threads=self.engine.threads) if serial_model is True
                             else serial_model or None)
        self.formats = formats
        self.min_confidence = min_confidence
        self.min_char_confidence = min_char_confidence
        self.max_side = max_side
        # per-country confidence floors chosen on real crops the rules were not tuned on (wrong reads ≤ 0.5 %
        # there; smartgate_tools.plate_validation): "shipped" = models/plates/reader_calibration.json, None = off
        self.cross_check_below = cross_check_below  # a read with a character below this needs a 2nd recogniser
        self.floors = load_floors() if calibration == "shipped" else dict(calibration or {})
        # the plate-trained recogniser's veto on chosen reads (True: the shipped model; False: off)
        self.rec_check = RecogniserCheck.shipped() if rec_check is True else rec_check or None
        # the plate-trained recogniser answers where PP-OCR's reads were refused (plate_rec_answer; needs rec_check)
        self.rec_answer = rec_answer
        # foreign/generic reads must look like plate text (plate_choice.plate_text_ok): overlays and signs are not plates
        self.plate_text = plate_text
        # a CN-looking line where a recogniser gave a province glyph this much is never read as a foreign plate
        self.cn = CnPlateReader(self.engine, self.cn_engine, self.check_engine, self.glyph_model, self.serial_model,
                                province_evidence, lookalike_doubt, evidence_colours)

    # -- public ------------------------------------------------------------------------------------
    def read(self, image: np.ndarray, zone: Box | None = None) -> PlateRead:
        reads = self.read_all(image, zone)
        return reads[0]

    def read_all(self, image: np.ndarray, zone: Box | None = None) -> list[PlateRead]:
        """Every plate found, best first; a single no-read (with reason) when there is none."""
        if image is None or image.size == 0:
            return [PlateRead(reason="empty_image")]
        ox, oy = 0, 0
        if zone is not None:
            ox, oy = max(zone.x, 0), max(zone.y, 0)
            image = image[oy : oy + zone.h, ox : ox + zone.w]
            if image.size == 0:
                return [PlateRead(reason="empty_zone")]
        work, scale, pad = self._prepare(image)
        lines = self._lines(work)
        if not lines:
            return [PlateRead(reason="no_text")]
        cands = build_candidates(lines, self.formats, self.engine)
        reads = self._read_lines(image, work, lines, cands, scale, pad, (ox, oy))
        if reads[0].text is None and reads[0].reason in ANSWERABLE and self.rec_check is not None and self.rec_answer:
            boxes = places(lines, cands, scale, pad, (ox, oy))
            said = answer(self.rec_check, image, boxes, self.formats, (ox, oy))
            if said is not None:
                return [said]
        return reads

    def _read_lines(self, image: np.ndarray, work: np.ndarray, lines: list[TextLine], cands: list[Candidate],
                    scale: float, pad: int, origin: tuple[int, int]) -> list[PlateRead]:
        """The reads the grammars, the recognisers' votes, the floors and the veto leave (`image`: the read zone,
        `work`: it prepared for the detector), or one no-read."""
        ox, oy = origin
        accepted = [c for c in cands if acceptable(c, self.min_confidence, self.min_char_confidence)]
        if not accepted:
            best = max(cands, key=lambda c: c.score, default=None)
            raw = best.raw if best else " | ".join(ln.rec.text for ln in lines[:4])
            reason = "low_confidence" if best else "grammar_mismatch"
            return [PlateRead(raw=raw, reason=reason, confidence=best.score if best else 0.0)]
        others = (self.cn_engine, self.check_engine)
        chosen = [c for c in (majority(work, c, others, self.formats) for c in non_overlapping(accepted))
                  if confirmed(work, c, others, self.formats, self.cross_check_below)]
        if not chosen:
            best = accepted[0]
            return [PlateRead(raw=best.raw, reason="low_agreement", confidence=round(best.score, 4))]
        if self.plate_text:
            texts = [c for c in chosen if plate_text_ok(c)]
            if not texts:  # an overlay or a sign, not a plate
                return [PlateRead(raw=chosen[0].raw, reason="not_plate_text", confidence=round(chosen[0].score, 4))]
            chosen = texts
        reads = [to_read(c, scale, pad, ox, oy) for c in chosen]
        sure = [r for r in reads if r.confidence >= self.floors.get(r.country or "", 0.0)]
        if not sure:  # abstain rather than guess: below its country's calibrated floor
            return [PlateRead(raw=reads[0].text, reason="low_confidence", confidence=reads[0].confidence)]
        if self.rec_check is not None:
            kept = [r for r in sure if self.rec_check.disagrees(image, r, (ox, oy)) is None]
            if not kept:  # the plate-trained recogniser confidently reads another text: abstain
                return [PlateRead(raw=sure[0].text, reason="recogniser_disagrees", confidence=sure[0].confidence)]
            sure = kept
        return sure

    def find_plates(self, image: np.ndarray, max_side: int = GATE_SIDE, min_h: float = GATE_MIN_H) -> list[Box]:
        """Where plate-like text may be, cheaply: the text detector alone on a small copy (no recognition), boxes
        of text lines shaped like a plate or a plate line (1.2:1 to 8:1) at least `min_h` pixels tall in `image`
        and at most 30 % of its height (a radiator grille is a tall block of "lines"). The pipeline runs the
        full `read_all` only where this finds something new (issue 18)."""
        return find_plate_boxes(self.engine, image, max_side, min_h)

    # -- steps -------------------------------------------------------------------------------------
    @staticmethod
    def _prepare(image: np.ndarray) -> tuple[np.ndarray, float, int]:
        """Upscale small crops (a 94×24 plate) and pad the border so edge characters are detected."""
        return prepare(image)

    def _lines(self, work: np.ndarray) -> list[TextLine]:
        """The image's text lines as the main recogniser read them, plus the CN votes on them."""
        lines = find_lines(self.engine, work, self.max_side)
        lines += self.cn.rereads(work, lines)
        return lines
