"""Measure the serial classifier on real one-line CN plate slots (measurement only, never training).

    python -m smartgate_tools.train.cn_serial_real ../shared/eval/plate_cn/labels.csv [--model X.onnx]

For every one-line CN plate the reader votes on, the classifier looks at all six letter/serial slots
through the runtime's windows (`CnPlateReader._settle`'s geometry); each slot is compared with the
label's character. What matters for the reader is how often it is *sure* (≥ SERIAL_SURE) and wrong:
that is the rate at which it could turn a contested slot into a wrong read.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from edge.readers.cn_serial import SerialClassifier
from edge.readers.plate import PlateReader
from edge.readers.plate_cn import SERIAL_SURE, CnPlateReader
from edge.readers.plate_cn_slots import SlotReading, TailVote


class _Probe(CnPlateReader):
    """Records the classifier's answer on every slot of every voted line (contested or not)."""

    seen: list[tuple[int, str, float]]  # (tail index, classifier's top character, its probability)

    def _settle(self, work: np.ndarray, quad: np.ndarray, reads: list[SlotReading],
                vote: TailVote) -> tuple[str, list[float]]:
        for i, probs in self._serial_probs(work, quad, reads, list(range(6))).items():
            best = max(probs, key=probs.__getitem__)
            self.seen.append((i, best, probs[best]))
        return super()._settle(work, quad, reads, vote)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("labels")
    p.add_argument("--model", help="ONNX file to score instead of the shipped one")
    args = p.parse_args(argv)
    model = SerialClassifier(verify=args.model is None, path=Path(args.model) if args.model else None)
    reader = PlateReader(serial_model=model)
    probe = _Probe(reader.engine, reader.cn_engine, reader.check_engine, reader.glyph_model, reader.serial_model)
    reader.cn = probe
    root = Path(args.labels).parent
    sure = float(SERIAL_SURE)
    n = top1 = n_sure = sure_wrong = 0
    scored: list[tuple[float, bool]] = []  # (classifier's top probability, top is the label's character)
    wrong_examples = []
    with open(args.labels, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            label = row["label"]
            probe.seen = []
            reader.read(cv2.imread(str(root / row["file"])))
            if len(probe.seen) != 6 or len(label) != 7:
                continue  # no one-line vote (two-line plate, no CN line found) or several per image
            for i, best, pr in probe.seen:
                truth = label[i + 1]
                n += 1
                top1 += best == truth
                scored.append((pr, best == truth))
                if pr >= sure:
                    n_sure += 1
                    if best != truth:
                        sure_wrong += 1
                        wrong_examples.append(f"{row['file']} {label} slot {i + 1}: {best} {pr:.2f}")
    print(json.dumps({"slots": n, "top1": round(top1 / max(n, 1), 4), "sure": n_sure,
                      "sure_rate": round(n_sure / max(n, 1), 4), "sure_wrong": sure_wrong,
                      "sure_wrong_examples": wrong_examples,
                      # precision of the top-1 at lower thresholds (how sure it must be to be trusted)
                      "at": {f"{t:.1f}": {"n": sum(pr >= t for pr, _ in scored),
                                          "wrong": sum(pr >= t and not ok for pr, ok in scored)}
                             for t in (0.5, 0.6, 0.7, 0.8, 0.9)}}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
