"""CTC decoding over the recogniser's per-timestep softmax (T, C); column 0 is the blank."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ctc_greedy(probs: np.ndarray, charset: Sequence[str]) -> tuple[str, list[float]]:
    """Best path: argmax per step, merge repeats, drop blanks. Returns text and per-char confidence."""
    idx = probs.argmax(axis=1)
    best = probs[np.arange(len(idx)), idx]
    chars: list[str] = []
    conf: list[float] = []
    prev = -1
    for t, k in enumerate(idx):
        if k != prev and k != 0:
            chars.append(charset[k] if k < len(charset) else "")
            conf.append(float(best[t]))
        prev = k
    return "".join(chars), conf


def ctc_segments(probs: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy-path character segments as (class index, first step, last step), blanks excluded.

    Readers use them to re-decode one character position under a restricted alphabet (e.g. the
    31 Chinese province glyphs) without re-running the network.
    """
    idx = probs.argmax(axis=1)
    segs: list[tuple[int, int, int]] = []
    prev = -1
    for t, k in enumerate(idx):
        k = int(k)
        if k != 0 and k == prev:
            segs[-1] = (k, segs[-1][1], t)
        elif k != 0:
            segs.append((k, t, t))
        prev = k
    return segs


def best_in(probs: np.ndarray, first: int, last: int, allowed: Sequence[int]) -> tuple[int, float]:
    """Most probable class among `allowed` over steps first..last (max over steps)."""
    allowed_arr = np.asarray(allowed, dtype=np.int64)
    window = probs[first : last + 1][:, allowed_arr]
    flat = int(window.max(axis=0).argmax())
    return int(allowed_arr[flat]), float(window[:, flat].max())
