"""Synthetic cargo-camera frames that show no cargo: the empty road, a cab entering with the body still out of
view, the last sliver of a body leaving. The lane's cargo camera sees such frames before, between and after the
trucks; a classifier trained on cargo views only reads them as some class with a confidence near 1 (a red cab
"is" a stack of cartons). Training on them with a uniform target (outlier exposure, Hendrycks et al. 2019) keeps
its confidence low there, so the per-class thresholds turn them into `unknown` instead of a vote for a class.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from data_samples.generate import make_spec
from data_samples.render_truck import CAB_LEN_M, TOP_PX_M, render_top
from data_samples.scene import TOP_CAM_S, TopCamera, sensor
from edge.readers.cargo import CARGO_CLASSES
from smartgate_tools.train.synth import PLANS

KINDS = ("road", "cab", "tail")


def render_outlier_view(rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """One BGR cargo-camera frame without a cargo view (see the module docstring)."""
    kind = kind or KINDS[int(rng.integers(0, len(KINDS)))]
    cam = TopCamera(rng, "in1")
    frame = cam.bg.copy()
    w = frame.shape[1]
    if kind != "road":
        cls = CARGO_CLASSES[int(rng.integers(0, len(CARGO_CLASSES)))]
        plan = PLANS[cls][int(rng.integers(0, len(PLANS[cls])))]
        spec = make_spec(plan, rng, "outlier")
        sprite = render_top(spec, rng)
        cab_px = (CAB_LEN_M + 0.4) * TOP_PX_M  # trucks drive right to left: the cab enters first, on the right
        if kind == "cab":  # the cab (and at most a tenth of the frame of body) in view
            x = rng.uniform(0.9 * w - cab_px, w - 0.3 * CAB_LEN_M * TOP_PX_M)
        else:  # only the rear edge of the body (under a tenth of the frame), leaving on the left
            x = rng.uniform(0.12 * w, 0.2 * w) - sprite.shape[1]  # the sprite ends in ~45 px of margin
        cam.draw(frame, sprite, TOP_CAM_S + (w / 2 - x) / TOP_PX_M, float(rng.uniform(0.0, spec.speed_mps)))
    return sensor(frame, rng, float(rng.uniform(0.7, 1.15)), float(rng.uniform(1.0, 3.0)), int(rng.integers(60, 85)))


def write_outliers(out_dir: str | Path, n: int, seed: int = 0) -> list[str]:
    """Render n outlier views into out_dir/outlier_NNNN.jpg (one seeded stream per image); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7919, i])
        p = out / f"outlier_{i:04d}.jpg"
        if not p.is_file():
            cv2.imwrite(str(p), render_outlier_view(rng, KINDS[i % len(KINDS)]), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(p))
    return paths
