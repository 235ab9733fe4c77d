"""Synthetic cargo-camera views for training and testing the cargo classifier.

A thin wrapper over the footage generator in `data_samples/`: it builds a TruckSpec for a cargo class the
way `data_samples.generate` does, draws its top sprite onto a fresh top-camera background with the body in
view, and applies the same sensor model (exposure, noise, vignetting, JPEG). The result is what the
lane's cargo camera sees when the truck body is under it. No torch here: tests import this module.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from data_samples.generate import Plan, make_spec
from data_samples.render_truck import CAB_LEN_M, TOP_PX_M, render_top
from data_samples.scene import TOP_CAM_S, TOP_SIZE, TopCamera, sensor
from edge.readers.cargo import CARGO_CLASSES

# Truck plans per cargo class, as the generator's presets use them (body, top-camera visual, boxes, hazard).
PLANS: dict[str, list[Plan]] = {
    "fertilizer": [Plan("VN", False, "open", "sacks", "fertilizer")],
    "coke_coal": [Plan("CN", True, "open", "coal", "coke_coal"),
                  Plan("VN", False, "container", "open_top", "coke_coal", [("22U1", "two_line")])],
    "chemicals": [Plan("CN", False, "tank", "tank", "chemicals", hazard=True),
                  Plan("VN", False, "open", "drums", "chemicals", hazard=True)],
    "agricultural": [Plan("VN", True, "open", "crates", "agricultural")],
    "electronics": [Plan("CN", False, "open", "cartons", "electronics")],
    "closed": [Plan("CN", True, "container", "container_roof", "closed", [("42G1", "horizontal")]),
               Plan("VN", False, "container", "container_roof", "closed", [("22G1", "horizontal"), ("22G1", "vertical")]),
               Plan("VN", False, "container", "container_roof", "closed", [("45R1", "horizontal")]),
               Plan("VN", False, "tarp", "tarp", "closed")],
    "empty": [Plan("CN", True, "flatbed", "deck", "empty"), Plan("VN", False, "open", "deck", "empty")],
}
assert set(PLANS) == set(CARGO_CLASSES)


def render_cargo_view(cls: str, rng: np.random.Generator) -> np.ndarray:
    """One BGR cargo-camera frame (TOP_SIZE) of a random truck carrying `cls`, body roughly centred."""
    plans = PLANS[cls]
    plan = plans[int(rng.integers(0, len(plans)))]
    spec = make_spec(plan, rng, "synth")
    sprite = render_top(spec, rng)
    cam = TopCamera(rng, "in1")
    frame = cam.bg.copy()
    w = frame.shape[1]
    # Place the body centre somewhere in the middle half of the frame: x is the sprite's left column.
    body_mid_px = (CAB_LEN_M + 0.4 + spec.body_len_m / 2) * TOP_PX_M
    cx = rng.uniform(0.3, 0.7) * w
    s_front = TOP_CAM_S + (w / 2 - (cx - body_mid_px)) / TOP_PX_M
    cam.draw(frame, sprite, s_front, float(rng.uniform(0.0, spec.speed_mps)))
    gain = float(rng.uniform(0.7, 1.15))
    return sensor(frame, rng, gain, float(rng.uniform(1.0, 3.0)), int(rng.integers(60, 85)))


def write_synthetic(out_dir: str | Path, per_class: int, seed: int = 0, progress: bool = True) -> dict[str, int]:
    """Render `per_class` views per class into out_dir/<class>/synth_<class>_NNNN.jpg; returns counts."""
    from tqdm import tqdm

    out = Path(out_dir)
    counts: dict[str, int] = {}
    jobs = [(c, i) for c in CARGO_CLASSES for i in range(per_class)]
    for cls, i in tqdm(jobs, desc="synthetic views", disable=not progress):
        rng = np.random.default_rng([seed, CARGO_CLASSES.index(cls), i])  # one stream per image: reproducible
        path = out / cls / f"synth_{cls}_{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), render_cargo_view(cls, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        counts[cls] = counts.get(cls, 0) + 1
    return counts


__all__ = ["PLANS", "TOP_SIZE", "render_cargo_view", "write_synthetic"]
