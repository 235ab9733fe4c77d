"""Which confidence signal would tell the plate reader's wrong reads from its right ones on unseen crops?

Reads the validation crops of ../shared/train (audited labels, smartgate_tools.plate_validation) with the shipped
reader and, for each read, records the chosen candidate's per-character confidences (by wrapping
`edge.readers.plate.to_read`, the one place a candidate becomes a read: a measurement hook, not a reader change)
and, for each of its text lines, the CTC character positions of the main recogniser (largest gap between
neighbouring characters, and the blank run before the first and after the last, in character pitches). Prints,
per set, what a floor on the *lowest* character's confidence gives (accuracy / wrong over all crops) and the
spread of the pitch measures over right reads next to each wrong read's.

    .venv/bin/python -m smartgate_tools.experiments.plate_confidence_signals ../shared/train [--cn 200]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np


def pitch_measures(engine, work: np.ndarray, quad: np.ndarray) -> tuple[float, float, float] | None:  # noqa: ANN001
    """(largest gap, lead, tail) of one line in character pitches, from the main recogniser's CTC path."""
    from edge.readers.ocr.ctc import ctc_segments
    from edge.readers.ocr.engine import REC_HEIGHT, REC_MIN_WIDTH, crop_quad

    crop = crop_quad(work, quad, pad=0.08)
    rec = engine.recognize([crop], return_probs=True)[0]
    steps = rec.probs.shape[0]
    h, w = crop.shape[:2]
    width = max(REC_MIN_WIDTH, int(math.ceil(REC_HEIGHT * w / h / 8) * 8))
    content = steps * min(1.0, (REC_HEIGHT * w / h) / width)  # narrow crops are padded on the right
    centres = [(a + b) / 2 for _, a, b in ctc_segments(rec.probs)]
    if len(centres) < 2:
        return None
    gaps = np.diff(centres)
    pitch = float(np.median(gaps))
    return float(gaps.max() / pitch), centres[0] / pitch, (content - centres[-1]) / pitch


def main(argv: list[str] | None = None) -> int:
    import edge.readers.plate as plate_module
    from cameras.imageio import load_image
    from edge.domain.plate_grammar import label_key
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.plate_validation import load_crops

    p = argparse.ArgumentParser(prog="plate_confidence_signals", description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="../shared/train")
    p.add_argument("--cn", type=int, default=200, help="CN crops to read (of the validation's 600)")
    args = p.parse_args(argv)
    seen: dict = {}
    to_read = plate_module.to_read

    def recording(c, scale, pad, ox, oy):  # noqa: ANN001, ANN202
        r = to_read(c, scale, pad, ox, oy)
        seen.setdefault("cands", []).append((r.text, c))
        return r

    prepare = plate_module.PlateReader._prepare

    def keep_work(image):  # noqa: ANN001, ANN202
        out = prepare(image)
        seen["work"] = out[0]
        return out

    plate_module.to_read = recording
    plate_module.PlateReader._prepare = staticmethod(keep_work)
    engine = OcrEngine(threads=2)
    reader = plate_module.PlateReader(engine, calibration=None)
    rows = load_crops(args.data)
    cn = [r for r in rows if r["country"] == "CN"][: args.cn]
    rows = [r for r in rows if r["country"] != "CN"] + cn
    out = []
    for r in rows:
        seen.clear()
        best = reader.read_all(load_image(Path(r["file"])))[0]
        cand = next((c for t, c in seen.get("cands", []) if t == best.text), None) if best.text else None
        pitch = [m for ln in cand.lines if (m := pitch_measures(engine, seen["work"], ln.quad))] if cand else []
        out.append({"set": r["country"], "label": r["label"], "text": label_key(best.text) if best.text else None,
                    "min": min(cand.conf) if cand and cand.conf else None, "pitch": pitch})
    for s in ("VN", "CN", "OTHER"):
        rs = [r for r in out if r["set"] == s]
        print(f"{s}: {len(rs)} crops; floor on the lowest character's confidence -> accuracy / wrong")
        for t in (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95):
            ok = sum(1 for r in rs if r["text"] and r["text"] == r["label"] and r["min"] >= t)
            bad = sum(1 for r in rs if r["text"] and r["text"] != r["label"] and r["min"] >= t)
            print(f"  {t:.2f}: {ok / len(rs):6.1%} / {bad / len(rs):5.1%}")
        right = [r for r in rs if r["text"] and r["text"] == r["label"] and r["pitch"]]
        for k, name in enumerate(("gap", "lead", "tail")):
            v = sorted(max(m[k] for m in r["pitch"]) for r in right)
            qs = [v[min(len(v) - 1, int(q * len(v)))] for q in (0.5, 0.9, 0.99)]
            print(f"  right reads' {name} (pitches) p50/p90/p99: " + " / ".join(f"{x:.2f}" for x in qs))
        for r in rs:
            if r["text"] and r["text"] != r["label"]:
                ms = [tuple(round(x, 2) for x in m) for m in r["pitch"]]
                print(f"  wrong {r['label']} -> {r['text']}: lowest char {r['min']:.3f}, gap/lead/tail {ms}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
