"""Arguments of `smartgate train cargo`, kept apart so that building the cli parser imports nothing heavy."""

from __future__ import annotations

import argparse


def add_cargo_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `smartgate train cargo` (the cli builds the parser without importing torch)."""
    p.add_argument("--data", required=True, help="image folder: DIR/<class>/*.jpg")
    p.add_argument("--out", required=True, help="output folder: cargo_cls.onnx, model_card.md/.json")
    p.add_argument("--arch", default="lite0", choices=["lite0", "yolo-cls"])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--imgsz", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="lite0: peak lr of the fine-tuned blocks")
    p.add_argument("--synthetic", type=int, default=100, help="synthetic cargo-camera views per class (0: none)")
    p.add_argument("--synthetic-seed", type=int, default=0)
    p.add_argument("--held-out", type=float, default=0.15, help="held-out fraction per (class, source)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--views", type=int, default=3, help="lite0: cached views per training image")
    p.add_argument("--finetune-blocks", type=int, default=2, help="lite0: how many last blocks to fine-tune")
    p.add_argument("--probe-steps", type=int, default=300)
    p.add_argument("--yolo-yaml", default="yolo11n-cls.yaml")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval", action="append", metavar="NAME=DIR", help="extra labelled set to report (repeatable)")
    p.add_argument("--compare", action="append", metavar="CARD.json", help="include another run's results")
    p.add_argument("--card-only", action="store_true",
                   help="do not train: merge --compare/--note into OUT/model_card.json and rewrite the cards")
    p.add_argument("--note", action="append", help="a line for the model card's notes (repeatable)")
