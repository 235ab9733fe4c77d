"""Arguments of `smartgate train cargo`, kept apart so that building the cli parser imports nothing heavy."""

from __future__ import annotations

import argparse


def add_cargo_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `smartgate train cargo` (the cli builds the parser without importing torch)."""
    p.add_argument("--data", required=True, action="append",
                   help="data folder (repeatable): a folder with a labels.csv (shared/cargo, `smartgate dataset "
                   "export`), or DIR/<class>/*.jpg")
    p.add_argument("--split", default="train",
                   help="rows of a labels.csv to use by its split column ('all': every row); default train "
                   "(shared/cargo's dev split is for measuring only)")
    p.add_argument("--out", required=True, help="output folder: cargo_cls.onnx, model_card.md/.json, cv/")
    p.add_argument("--arch", default="lite0", choices=["lite0", "yolo-cls"])
    p.add_argument("--recipe", default="auto",
                   help="lite0 recipe to ship (tools/smartgate_tools/train/cargo_recipes.py); auto: the grouped-CV winner "
                   "(without --cv: the recipe that won issue #19's CV)")
    p.add_argument("--cv", type=int, default=0, metavar="K", help="grouped K-fold cross-validation (0: none)")
    p.add_argument("--cv-recipes", help="comma-separated recipes to cross-validate (default: all)")
    p.add_argument("--target-precision", type=float, default=0.95,
                   help="per-class thresholds: the lowest confidence with this precision on the CV")
    p.add_argument("--cache", help="folder for cached frozen activations and synthetic views (default OUT/cache)")
    p.add_argument("--imgsz", type=int, default=224)
    p.add_argument("--synthetic", type=int, default=100, help="synthetic cargo-camera views per class (0: none)")
    p.add_argument("--synthetic-seed", type=int, default=0)
    p.add_argument("--outliers", type=int, default=300,
                   help="synthetic cargo-camera frames without cargo, for outlier exposure (0: none)")
    p.add_argument("--footage", action="append", metavar="CLIP",
                   help="sample footage (CLIP/<lane>/cargo.mp4 + truth.json) to check the model on, frame by frame")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval", action="append", metavar="NAME=DIR", help="extra labelled set to report (repeatable)")
    p.add_argument("--latency-runs", type=int, default=0,
                   help="measure the exported model's cost per frame against --latency-baseline (runs; 0: skip)")
    p.add_argument("--latency-baseline", help="ONNX to compare the latency with (default: the shipped model)")
    # recipe knobs: unset = the recipe's own value
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float, help="fine-tuning recipes: peak lr of the fine-tuned blocks")
    p.add_argument("--views", type=int, help="cached views per training image")
    p.add_argument("--finetune-blocks", type=int, help="fine-tuning recipes: how many last blocks train")
    p.add_argument("--probe-steps", type=int, help="fine-tuning recipes: AdamW steps of the head's initial probe")
    p.add_argument("--yolo-yaml", default="yolo11n-cls.yaml")
    p.add_argument("--compare", action="append", metavar="CARD.json", help="include another run's results")
    p.add_argument("--card-only", action="store_true",
                   help="do not train: merge --compare/--note (and --latency-runs) into OUT/model_card.json, "
                   "rewrite the cards and the CV report")
    p.add_argument("--note", action="append", help="a line for the model card's notes (repeatable)")


def add_cargo_eval_arguments(ce: argparse.ArgumentParser) -> None:
    """`smartgate cargo-eval`: figures of a cargo model; --compare two models; --cv a training run's grouped CV."""
    ce.add_argument("dirs", nargs="*", help="image folders DIR/<class>/*.jpg or folders with a labels.csv")
    ce.add_argument("--model", help="ONNX file (default: the shipped models/cargo/cargo_cls.onnx)")
    ce.add_argument("--min-confidence", type=float, default=None,
                    help="one threshold for every class instead of the model's own per-class thresholds")
    ce.add_argument("--compare", nargs="+", metavar="OLD.onnx NEW.onnx DIR",
                    help="two models side by side on the same labelled folders")
    ce.add_argument("--cv", metavar="RUN", help="re-score the grouped CV of a `train cargo --cv` run (RUN/cv/oof.json)")
    ce.add_argument("--target-precision", type=float, default=0.95, help="--cv: per-class precision for thresholds")
    ce.add_argument("--report", metavar="DIR", help="write confusion-matrix PNGs into DIR")
    ce.add_argument("--threads", type=int, default=2)
    ce.add_argument("--json", dest="json_out", help="write per-image results and metrics as JSON")
    ce.add_argument("--no-verify", action="store_true", help="skip the sha256 check (a model you just trained)")


def add_dataset_arguments(sub) -> None:
    """`smartgate dataset export --since DATE OUT/`: inspectors' corrections as training/eval data."""
    ds = sub.add_parser("dataset", help="training data from the gate's own passages")
    ds_sub = ds.add_subparsers(dest="dataset_command", required=True)
    ex = ds_sub.add_parser("export", help="evidence images of passages whose readings inspectors corrected, "
                           "with the corrected labels (cargo: labels.csv as shared/cargo; plates/containers: ocr/)")
    ex.add_argument("out", help="output folder (re-exporting into it adds rows)")
    ex.add_argument("--since", required=True, help="corrections recorded at or after DATE (YYYY-MM-DD or ISO time, UTC)")
    ex.add_argument("--until", help="... and before this DATE")
    ex.add_argument("--config", help="gate config: its storage.database and storage.evidence_dir")
    ex.add_argument("--db", help="SQLite database (default: from --config, else var/smartgate.db)")
    ex.add_argument("--evidence", help="evidence folder (default: from --config, else var/evidence)")
    ex.add_argument("--no-ocr", action="store_true", help="cargo only, no plate/container crops")


def add_model_arguments(sub) -> None:
    """`smartgate model promote NEW.onnx --eval DIR`: replace the cargo model only when NEW is not worse."""
    md = sub.add_parser("model", help="manage the gate's models")
    md_sub = md.add_subparsers(dest="model_command", required=True)
    pr = md_sub.add_parser("promote", help="record a retrained cargo model in models/manifest.json (sha256) when "
                           "it is not worse than the current one on --eval")
    pr.add_argument("new", help="the retrained cargo_cls.onnx (its model_card.json/.md come along)")
    pr.add_argument("--eval", action="append", metavar="DIR", help="labelled folder to compare on (repeatable)")
    pr.add_argument("--manifest", help="manifest to update (default: the installed models/manifest.json)")
    pr.add_argument("--tolerance", type=float, default=0.0, help="how much lower a figure may be and still pass")
    pr.add_argument("--force", action="store_true", help="promote even when worse (recorded in the manifest)")
    pr.add_argument("--threads", type=int, default=2)
