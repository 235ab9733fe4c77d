"""Photos made worse, as a stand-in for cameras we do not have (used by the *_degraded experiments and
container_retry's scaled-down set)."""

from __future__ import annotations

import cv2
import numpy as np


def fit(img: np.ndarray, side: int) -> np.ndarray:
    """`img` scaled down (never up) so that its long side is at most `side`."""
    f = side / max(img.shape[:2])
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else img


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """`img` JPEG-compressed at `quality` and decoded again."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def degrade(img: np.ndarray, condition: str) -> np.ndarray:
    """clean; jpeg20: JPEG quality 20; half: both sides halved; blur: Gaussian blur sigma 1.2; jpeg25@1024: long side
    1024 px, JPEG quality 25; blur@1024: 1024 px, blur sigma 1.5; a number: long side scaled down to it."""
    if condition == "clean":
        return img
    if condition == "jpeg20":
        return jpeg(img, 20)
    if condition == "half":
        return cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    if condition == "blur":
        return cv2.GaussianBlur(img, (0, 0), 1.2)
    if condition == "jpeg25@1024":
        return jpeg(fit(img, 1024), 25)
    if condition == "blur@1024":
        return cv2.GaussianBlur(fit(img, 1024), (0, 0), 1.5)
    if condition.isdigit():
        return fit(img, int(condition))
    raise ValueError(f"unknown condition {condition!r}")
