"""Template-constrained CTC best path: the most probable alignment of a recogniser's per-step
softmax that spells exactly one character per template slot, each from the slot's alphabet.

Greedy decoding lets a weak province glyph lose to a Latin look-alike (川 → M) or to junk, and
string substitution afterwards cannot recover it. Here every slot is decoded jointly: a Viterbi
over states "blank before slot i" and "slot i showing class k" (k in the slot's alphabet), with the
usual CTC rules (repeats merge; two equal neighbours need a blank between them). Separator classes
(`skip`, e.g. the '·' between a CN plate's authority letter and serial) may be absorbed by blanks.

The result carries per-slot confidence and runner-up probability over the slot's own frames,
so callers can accept a slot only with a margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_EPS = 1e-12
_NEG = -1e30


@dataclass(frozen=True)
class SlotRead:
    cls: int  # charset column chosen for the slot
    first: int  # first time step of the slot's segment
    last: int  # last time step
    conf: float  # max probability of `cls` over the segment's steps
    share: float  # conf / (sum over the slot's alphabet at that step): how clear the choice is inside the slot
    runner_up: int  # next best class of the slot's alphabet over the segment (-1 when none)
    runner_up_p: float


@dataclass(frozen=True)
class ConstrainedPath:
    slots: list[SlotRead]
    log_score: float  # log probability of the best constrained path
    greedy_log_score: float  # log probability of the unconstrained best path (same blanks rule)

    @property
    def classes(self) -> list[int]:
        return [s.cls for s in self.slots]

    @property
    def penalty(self) -> float:
        """How much the template cost against the free best path, in nats (≥ 0)."""
        return max(0.0, self.greedy_log_score - self.log_score)


def _blank_log(probs: np.ndarray, skip: Sequence[int]) -> np.ndarray:
    p = probs[:, 0].copy()
    if len(skip):
        p += probs[:, np.asarray(skip, dtype=np.int64)].sum(axis=1)
    return np.log(np.minimum(p, 1.0) + _EPS)


def constrained_best_path(
    probs: np.ndarray, template: Sequence[Sequence[int]], skip: Sequence[int] = (),
    fold: Sequence[tuple[int, int]] = (),
) -> ConstrainedPath | None:
    """Best CTC path over `probs` (T, C; column 0 = blank) emitting one class per slot of `template`
    (each slot: the allowed charset columns). `fold` (from, onto) adds a look-alike's probability to
    an allowed class (O onto 0 where O cannot occur). None when the line is too short for the template."""
    T, L = probs.shape[0], len(template)
    if L == 0 or T < L:
        return None
    cols, sub, allowed = _template_columns(probs, template, fold)
    lb = _blank_log(probs, skip)
    logp, ident = _slot_states(sub, allowed)
    best = _backtrack(*_viterbi(logp, ident, lb))
    if best is None:
        return None
    log_score, spans, kinds = best
    if len(kinds) != L:
        return None
    slots = [_slot_read(sub, cols, allowed[i], spans[i], kinds[i]) for i in range(L)]
    return ConstrainedPath(slots, log_score, _greedy_log_score(probs, lb))


def _template_columns(probs: np.ndarray, template: Sequence[Sequence[int]],
                      fold: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The template's charset columns, `probs` restricted to them (look-alikes folded in) and each
    slot's alphabet as indices into those columns: recogniser charsets have thousands of CJK glyphs."""
    cols = np.unique(np.concatenate([np.asarray(a, dtype=np.int64) for a in template]))
    sub = probs[:, cols].astype(np.float64)
    pos = {int(c): i for i, c in enumerate(cols)}
    for a, b in fold:
        if b in pos:
            sub[:, pos[b]] += probs[:, a]
    allowed = [np.asarray([pos[int(c)] for c in a], dtype=np.int64) for a in template]
    return cols, sub, allowed


def _slot_states(sub: np.ndarray, allowed: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Log emissions (T, L, K) of the states "slot i showing its k-th class" and each state's class id
    (L, K). Slots are padded to a common width K; padding states are unreachable (-inf emissions) and
    get unique negative ids so that they never count as a repeat."""
    L = len(allowed)
    K = max(len(a) for a in allowed)
    col = np.zeros((L, K), dtype=np.int64)
    valid = np.zeros((L, K), dtype=bool)
    for i, a in enumerate(allowed):
        col[i, : len(a)] = a
        valid[i, : len(a)] = True
    logp = np.where(valid[None], np.log(sub[:, col] + _EPS), _NEG)  # (T, L, K)
    ident = np.where(valid, col, -1 - np.arange(L)[:, None] * K - np.arange(K)[None])  # class id, unique pads
    return logp, ident


def _viterbi(logp: np.ndarray, ident: np.ndarray,
             lb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forward pass over the states "blank before slot i" and "slot i showing class k": the final
    char and blank scores and the back-pointers of both."""
    T, L, K = logp.shape
    blank = np.full(L + 1, _NEG)
    chars = np.full((L, K), _NEG)
    blank[0] = lb[0]
    chars[0] = logp[0, 0]
    # back-pointers: chars: -2 stay, -1 from the blank before the slot, k >= 0 from the previous
    # slot's state k; blanks: -2 stay, k >= 0 from the slot's char state k
    bp_char = np.full((T, L, K), -1, dtype=np.int64)
    bp_blank = np.full((T, L + 1), -2, dtype=np.int64)
    rows = np.arange(L - 1)
    for t in range(1, T):
        stay = chars
        from_blank = np.broadcast_to(blank[:L, None], (L, K))
        best = np.maximum(stay, from_blank)
        ptr = np.where(stay >= from_blank, -2, -1)
        if L > 1:
            prev = chars[:-1]
            top = prev.argmax(axis=1)
            masked = prev.copy()
            masked[rows, top] = 2 * _NEG
            second = masked.argmax(axis=1)
            # previous slot's best state, unless it shows the same class (then its runner-up)
            same = ident[rows, top][:, None] == ident[1:]
            src = np.where(same, second[:, None], top[:, None])
            val = prev[rows[:, None], src]
            val = np.where(ident[rows[:, None], src] == ident[1:], _NEG, val)
            better = val > best[1:]
            best[1:] = np.where(better, val, best[1:])
            ptr[1:] = np.where(better, src, ptr[1:])
        k = chars.argmax(axis=1)
        top_char = chars[np.arange(L), k]
        from_char = top_char > blank[1:]
        new_blank = np.empty(L + 1)
        new_blank[0] = blank[0] + lb[t]
        new_blank[1:] = np.where(from_char, top_char, blank[1:]) + lb[t]
        bp_blank[t, 1:] = np.where(from_char, k, -2)
        bp_char[t] = ptr
        chars = best + logp[t]
        blank = new_blank
    return chars, blank, bp_char, bp_blank


def _backtrack(chars: np.ndarray, blank: np.ndarray, bp_char: np.ndarray,
               bp_blank: np.ndarray) -> tuple[float, dict[int, list[int]], dict[int, int]] | None:
    """The best path's log score, each slot's first and last time step and its chosen state; None when
    no path spells the template."""
    T, L = bp_char.shape[0], chars.shape[0]
    k_end = int(np.argmax(chars[L - 1]))
    end_char = chars[L - 1][k_end]
    if max(end_char, blank[L]) <= _NEG / 2:
        return None
    # backtrack: state = ("b", i) or ("c", i, k)
    state: tuple = ("c", L - 1, k_end) if end_char >= blank[L] else ("b", L)
    log_score = float(max(end_char, blank[L]))
    spans: dict[int, list[int]] = {}
    kinds: dict[int, int] = {}
    for t in range(T - 1, -1, -1):
        if state[0] == "c":
            _, i, k = state
            spans.setdefault(i, [t, t])[0] = t
            kinds[i] = k
            if t == 0:
                break
            p = int(bp_char[t, i, k])
            state = ("c", i, k) if p == -2 else ("b", i) if p == -1 else ("c", i - 1, p)
        else:
            _, i = state
            if t == 0:
                break
            p = int(bp_blank[t, i])
            state = ("b", i) if p == -2 else ("c", i - 1, p)
    return log_score, spans, kinds


def _slot_read(sub: np.ndarray, cols: np.ndarray, a: np.ndarray, span: list[int], k: int) -> SlotRead:
    """One slot's class, confidence and runner-up over its own frames (`a`: the slot's alphabet)."""
    first, last = span
    window = sub[first : last + 1][:, a]
    peak = window.max(axis=0)
    order = np.argsort(peak)[::-1]
    ru = next((j for j in order if j != k), -1)
    step = first + int(window[:, k].argmax())
    total = float(sub[step, a].sum())
    return SlotRead(
        cls=int(cols[a[k]]), first=first, last=last, conf=float(peak[k]),
        share=float(sub[step, a[k]] / total) if total > 0 else 0.0,
        runner_up=int(cols[a[ru]]) if ru >= 0 else -1, runner_up_p=float(peak[ru]) if ru >= 0 else 0.0,
    )


def _greedy_log_score(probs: np.ndarray, lb: np.ndarray) -> float:
    """Log probability of the free best path, with separators counted as blanks like above."""
    free = np.log(probs[:, 1:].max(axis=1) + _EPS) if probs.shape[1] > 1 else lb
    return float(np.maximum(free, lb).sum())
