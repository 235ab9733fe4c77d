"""Regression over the developer evaluation set (../shared/eval): no task may drop more than
2 points below the accuracy recorded in docs/accuracy.json (written by `smartgate eval --json`
and quoted in docs/accuracy.md)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from smartgate_tools.evaluate import main_eval

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO.parent / "shared" / "eval"
RECORDED = REPO / "docs" / "accuracy.json"
TASKS = ("plate_vn", "plate_cn", "plate_other", "container")
TOLERANCE = 0.02


@pytest.mark.slow
def test_accuracy_does_not_regress(tmp_path):
    if not EVAL_DIR.is_dir():
        pytest.skip(f"evaluation set not present at {EVAL_DIR} (../shared/eval relative to the repo)")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))["tasks"]
    labels = [str(EVAL_DIR / t / "labels.csv") for t in TASKS if (EVAL_DIR / t / "labels.csv").is_file()]
    out = tmp_path / "eval.json"
    args = SimpleNamespace(labels=labels, json_out=str(out), threads=2, misses=None, engine="smartgate")
    assert main_eval(args) == 0
    measured = json.loads(out.read_text(encoding="utf-8"))["tasks"]
    drops = {
        task: (recorded[task]["accuracy"], measured.get(task, {}).get("accuracy", 0.0))
        for task in recorded
        if task in TASKS and measured.get(task, {}).get("accuracy", 0.0) < recorded[task]["accuracy"] - TOLERANCE
    }
    assert not drops, f"accuracy dropped more than {TOLERANCE:.0%} (recorded, measured): {drops}"
