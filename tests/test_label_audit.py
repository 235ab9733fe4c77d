"""The eye-checked label corrections of ../shared/train and how the plate validation applies them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edge.domain.plate_grammar import label_key, match
from smartgate_tools import plate_validation as pv
from smartgate_tools.label_audit import AUDIT_FILE, corrected, corrections

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "train"
COUNTRY = {"plate_vn": "VN", "plate_cn": "CN"}


def test_every_correction_is_a_valid_plate_of_its_set_and_says_why():
    rows = list(csv.DictReader(AUDIT_FILE.open(encoding="utf-8", newline="")))
    assert len(rows) == len(corrections()) >= 10  # no file listed twice
    for r in rows:
        assert r["corrected"] != r["label"] and r["evidence"].strip()
        strict = [m for m in match(r["corrected"]) if m.strict and m.corrections == 0]
        assert strict and strict[0].country == COUNTRY[r["set"]], r


def test_corrected_applies_only_to_listed_files_and_can_be_turned_off():
    assert corrected("plate_vn", "cartgmt_00033.jpg", "30A19752") == "30E19752"
    assert corrected("plate_vn", "/anywhere/plate_vn/cartgmt_00033.jpg", "30A19752") == "30E19752"
    assert corrected("plate_vn", "cartgmt_00033.jpg", "30A19752", apply=False) == "30A19752"
    assert corrected("plate_cn", "cartgmt_00033.jpg", "X") == "X"  # same name, other set
    assert corrected("plate_vn", "cartgmt_00034.jpg", "30A11111") == "30A11111"


@pytest.mark.skipif(not (TRAIN / "plate_vn" / "labels.csv").is_file(), reason="../shared/train not present")
def test_audit_matches_the_shipped_labels_and_the_validation_uses_it(tmp_path):
    shipped = {}
    for set_name in COUNTRY:
        with (TRAIN / set_name / "labels.csv").open(encoding="utf-8", newline="") as f:
            shipped.update({(set_name, r["file"]): r["label"] for r in csv.DictReader(f)})
    for key in corrections():
        assert key in shipped, key  # a file of the set
    for r in csv.DictReader(AUDIT_FILE.open(encoding="utf-8", newline="")):
        assert shipped[(r["set"], r["file"])] == r["label"]  # the audit names the label it replaces

    audited = {Path(r["file"]).name: r for r in pv.load_crops(TRAIN)}
    raw = {Path(r["file"]).name: r for r in pv.load_crops(TRAIN, audited=False)}
    assert audited["cartgmt_00033.jpg"]["label"] == "30E19752" and raw["cartgmt_00033.jpg"]["label"] == "30A19752"
    # halves follow the label actually used, so a corrected plate joins its vehicle's other photos
    assert audited["cartgmt_00033.jpg"]["half"] == pv.half("30E19752")
    # the same sample whichever way the data folder is spelled
    again = {Path(r["file"]).name for r in pv.load_crops(TRAIN.parent / ".." / TRAIN.parent.name / "train")}
    assert again == set(audited)

    # a cache of reads is re-labelled from the audit, not from the labels it was written with
    row = dict(raw["cartgmt_00033.jpg"], text="30E19752", read_country="VN", format="vn_truck",
               confidence=0.99, reason=None, ms=1.0)
    cache = tmp_path / "reads.json"
    cache.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
    [again_read] = pv.read_crops([audited["cartgmt_00033.jpg"]], threads=1, cache=cache)
    assert pv.outcome(again_read) == "correct"
    assert label_key(again_read["label"]) == "30E19752"
