"""Real plate crops for the plate recogniser, and the split that predicts unseen cameras.

Why this split: plate_vn and plate_other each come from ONE camera/source, so they can only be split by plate
text (one vehicle photographed twice never sits on both sides); plate_cn has three sources, and one whole
source (`jkccpd`, CCPD) is held out, again with no plate text shared with training. No torch here.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.readers.plate_rec import ALPHABET, country_of
from smartgate_tools.experiments.degrade import jpeg
from smartgate_tools.label_audit import corrected

HELD_OUT_CN_SOURCE = "jkccpd"
VAL_TEXT_SHARE = 0.25  # share of distinct plate texts held out for one-source sets


@dataclass
class Crop:
    image: np.ndarray  # BGR uint8
    label: str
    country: str  # CN, VN, OTHER
    lines: int
    source: str  # file-name prefix: chenw, yuyu, jkccpd, cartgmt, fpo_ar
    file: str


def clean_label(text: str) -> str:
    """Labels as the system compares them (`label_key`): uppercase, no separators; Đ folded to D."""
    t = text.upper().replace("Đ", "D")
    return "".join(c for c in t if c not in " -.·")


def load_dir(directory: str | Path) -> list[Crop]:
    """Every crop of a ../shared/train/plate_* folder whose label fits the alphabet."""
    d = Path(directory)
    out = []
    with (d / "labels.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = clean_label(corrected(d.name, row["file"], row["label"]))  # eye-checked label fixes
            if not label or any(c not in ALPHABET for c in label):
                continue
            img = cv2.imread(str(d / row["file"]), cv2.IMREAD_COLOR)
            if img is None:
                continue
            country = "CN" if label[0] in ALPHABET[36:] else ("OTHER" if row.get("country") else country_of(label))
            if d.name == "plate_vn":
                country = "VN"
            lines = int(row.get("lines") or 1)
            out.append(Crop(img, label, country, lines, row["file"].split("_")[0], row["file"]))
    return out


def _text_held_out(label: str, seed: int) -> bool:
    h = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return h[0] / 256.0 < VAL_TEXT_SHARE


def split(crops: list[Crop], seed: int = 0) -> tuple[list[Crop], list[Crop]]:
    """(train, validation): CN by held-out source, VN/OTHER by plate text; no plate text on both sides."""
    val = [c for c in crops if (c.source == HELD_OUT_CN_SOURCE if c.country == "CN" else _text_held_out(c.label, seed))]
    val_ids, val_texts = {id(c) for c in val}, {c.label for c in val}
    train = [c for c in crops if id(c) not in val_ids and c.label not in val_texts]
    return train, val


def camera_view(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real crop as a worse camera would deliver it: the plate 48-150 px wide (a gate camera further away;
    `experiments.plate_scenes` pastes plates at 56-140 px), sometimes blurred, JPEG quality 30-90.

    Why: the real crops are sharp, close-up photos; the recogniser saw low resolution and compression only on its
    synthetic plates, and scenes (plates small in a compressed frame) are where the readers break."""
    h, w = img.shape[:2]
    width = int(rng.uniform(48, 150))
    if width < w:
        img = cv2.resize(img, (width, max(6, round(h * width / w))), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.9)))
    return jpeg(img, int(rng.integers(30, 91)))
