"""A peer for context: Tesseract (Debian's `tesseract-ocr`) on the same plate crops as our recogniser.

The crops are the truth's best plate sighting (`plate_best`: frame and box on the plate camera), so
both engines see identical pixels and only recognition is compared. Debian ships only `eng`, so
Chinese plates (province character) are scored for our engine only. Skipped when the binary is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.domain.plate_grammar import label_key, normalise
from smartgate_tools.bench.footage import SampleLane

WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def plate_crops(lanes: list[SampleLane], pad: float = 0.1) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(truth passage, BGR crop) for every passage with a best plate sighting."""
    out = []
    for s in lanes:
        want = {tp["plate_best"]["frame"]: tp for tp in s.truth["passages"] if tp.get("plate_best")}
        cap = cv2.VideoCapture(s.cameras["plate"])
        k = 0
        try:
            while want:
                ok, img = cap.read()
                if not ok:
                    break
                tp = want.pop(k, None)
                if tp is not None:
                    x, y, w, h = tp["plate_best"]["box"]
                    px, py = int(w * pad), int(h * pad)
                    crop = img[max(0, y - py): y + h + py, max(0, x - px): x + w + px]
                    out.append((tp, crop.copy()))
                k += 1
        finally:
            cap.release()
    return out


def tesseract_read(crop: np.ndarray, two_line: bool, binary: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "crop.png"
        cv2.imwrite(str(p), crop)
        res = subprocess.run(
            [binary, str(p), "stdout", "-l", "eng", "--psm", "6" if two_line else "7",
             "-c", f"tessedit_char_whitelist={WHITELIST}"],
            capture_output=True, text=True, timeout=30,
        )
    return normalise(res.stdout)


def run_peer(lanes: list[SampleLane], engine: Any) -> dict[str, Any] | None:
    """Exact-match rates and ms per crop: Tesseract and our recogniser (+ its plate reader) on the same crops."""
    binary = shutil.which("tesseract")
    crops = plate_crops(lanes)
    if not crops:
        return None
    from edge.readers.plate import PlateReader

    reader = PlateReader(engine)
    ours_ok = reader_ok = tess_ok = vn = ours_vn_ok = 0
    t_ours = t_reader = t_tess = 0.0
    for tp, crop in crops:
        truth = label_key(tp["plate"])
        two = tp.get("plate_lines", 1) == 2
        t0 = time.perf_counter()
        if two:  # one recogniser call per line, as the reader does: split the crop in half
            h = crop.shape[0]
            text = "".join(r.text for r in engine.recognize([crop[: h // 2], crop[h // 2:]]))
        else:
            text = engine.recognize([crop])[0].text
        t1 = time.perf_counter()
        read = reader.read(crop)
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_reader += t2 - t1
        hit = label_key(normalise(text)) == truth
        ours_ok += hit
        reader_ok += read.text is not None and label_key(read.text) == truth
        if tp["plate_country"] == "VN" and binary:
            vn += 1
            ours_vn_ok += hit
            t3 = time.perf_counter()
            tess_ok += tesseract_read(crop, two, binary) == truth
            t_tess += time.perf_counter() - t3
    n = len(crops)
    out: dict[str, Any] = {
        "crops": n,
        "our_recogniser_exact": round(ours_ok / n, 3),
        "our_recogniser_ms": round(1000 * t_ours / n, 1),
        "our_plate_reader_exact": round(reader_ok / n, 3),
        "our_plate_reader_ms": round(1000 * t_reader / n, 1),
    }
    if binary and vn:
        out.update({"tesseract_vn_crops": vn, "tesseract_exact_vn": round(tess_ok / vn, 3),
                    "our_recogniser_exact_vn": round(ours_vn_ok / vn, 3),
                    "tesseract_ms": round(1000 * t_tess / vn, 1),
                    "tesseract_version": subprocess.run([binary, "--version"], capture_output=True,
                                                        text=True).stdout.splitlines()[0]})
    else:
        out["tesseract"] = "not installed (apt-get install tesseract-ocr)" if not binary else "no VN plate crops"
    return out
