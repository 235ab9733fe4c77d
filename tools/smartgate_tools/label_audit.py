"""Label corrections for ../shared/train, checked by eye, and how the validation tools apply them.

The training sets' READMEs admit label noise (plate_vn: ~2.5 % in a spot check). A validation that counts a
correct read of a mislabelled crop as a *wrong read* misleads twice: the wrong-read rate looks worse than it
is, and the abstention floors are pushed up by "mistakes" that were right (the mislabelled crops were read at
0.9999). Every crop where the shipped reader and the label disagreed was looked at; where the photo plainly
shows the reader's text (or a third text), the correction is listed in data/label_audit.csv with what the
plate shows. Crops that stay ambiguous keep their label. Only disagreements were reviewed, so a wrong label the
reader happens to agree with would not be found (none is expected: that needs the same slip twice).

The files under ../shared are never edited; the tools read the corrections from here (`--raw-labels` turns
them off, so both figures can be quoted).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

AUDIT_FILE = Path(__file__).with_name("data") / "label_audit.csv"


@cache
def corrections(path: Path = AUDIT_FILE) -> dict[tuple[str, str], str]:
    """{(set, file): corrected label}, e.g. {("plate_vn", "cartgmt_00033.jpg"): "30E19752"}."""
    with path.open(encoding="utf-8", newline="") as f:
        return {(r["set"], r["file"]): r["corrected"] for r in csv.DictReader(f)}


def corrected(set_name: str, file: str, label: str, apply: bool = True) -> str:
    """The audited label of `file` in `set_name` (its own label when it was not corrected or `apply` is off)."""
    if not apply:
        return label
    return corrections().get((set_name, Path(file).name), label)
