"""Template-constrained CTC decoding and the slot-aligned CN tail vote."""

import numpy as np

from edge.readers.ctc_constrained import constrained_best_path
from edge.readers.plate_cn_slots import SlotReading, vote_tail

# toy charset: 0 blank, 1 'A', 2 'B', 3 'M', 4 '川', 5 '·'
CHARS = ["", "A", "B", "M", "川", "·"]


def _probs(steps: list[dict[int, float]]) -> np.ndarray:
    """(T, C) rows: the given class probabilities, the rest of the mass on the blank."""
    out = np.zeros((len(steps), len(CHARS)))
    for t, row in enumerate(steps):
        for k, p in row.items():
            out[t, k] = p
        out[t, 0] += 1.0 - out[t].sum()
    return out


def test_greedy_path_is_kept_when_it_fits_the_template():
    p = _probs([{4: 0.9}, {}, {1: 0.95}, {1: 0.9}, {}, {2: 0.8}])
    path = constrained_best_path(p, [[4], [1, 2], [1, 2]])
    assert [CHARS[c] for c in path.classes] == ["川", "A", "B"]
    assert path.penalty < 1e-6
    assert path.slots[1].first == 2 and path.slots[1].last == 3  # repeats merge into one segment


def test_weak_province_glyph_beats_a_latin_look_alike_under_the_template():
    # greedy reads "MA" (M at 0.7, 川 only 0.2): the province slot must take 川 from the same steps
    p = _probs([{3: 0.7, 4: 0.2}, {}, {1: 0.9}])
    path = constrained_best_path(p, [[4], [1, 2]])
    assert [CHARS[c] for c in path.classes] == ["川", "A"]
    assert abs(path.slots[0].conf - 0.2) < 1e-9 and path.penalty > 1.0


def test_two_equal_neighbours_need_a_blank_between_them():
    # "AA" cannot come from two adjacent A steps without a blank: the second slot takes B
    p = _probs([{1: 0.9}, {1: 0.9, 2: 0.05}])
    path = constrained_best_path(p, [[1, 2], [1, 2]])
    assert [CHARS[c] for c in path.classes] == ["A", "B"]
    p = _probs([{1: 0.9}, {}, {1: 0.9}])
    assert [CHARS[c] for c in constrained_best_path(p, [[1, 2], [1, 2]]).classes] == ["A", "A"]


def test_separators_are_absorbed_like_blanks():
    p = _probs([{1: 0.9}, {5: 0.95}, {2: 0.9}])
    with_skip = constrained_best_path(p, [[1], [2]], skip=[5])
    without = constrained_best_path(p, [[1], [2]])
    assert with_skip.penalty < 0.2 < without.penalty


def test_too_short_line_has_no_path():
    assert constrained_best_path(_probs([{1: 0.9}]), [[1], [2]]) is None


def _reading(chars: str, peaks: list[dict[str, float]]) -> SlotReading:
    return SlotReading(path=None, chars=chars, peaks=peaks)  # type: ignore[arg-type]


def _peaks(tail: str, p: float = 0.95, alt: dict[int, tuple[str, float]] | None = None) -> list[dict[str, float]]:
    out = [{"川": p}] + [{c: p} for c in tail]
    for i, (c, q) in (alt or {}).items():
        out[i][c] = q
    return out


def test_tail_vote_agreeing_recognisers_raise_a_weak_slot():
    # authority letter Q read weakly (0.2-0.3) by all three: their noisy-OR passes, text is Q
    reads = [_reading("川Q06417", _peaks("Q06417", alt={1: ("Q", w)})) for w in (0.2, 0.21, 0.29)]
    tail, conf = vote_tail(reads)
    assert tail == "Q06417"
    assert 0.5 < conf[0] < 0.6 and min(conf[1:]) > 0.99


def test_tail_vote_contested_slot_has_zero_confidence():
    # W vs H: two recognisers lean H, one strongly W; summed probabilities are close -> a guess
    a = _reading("川EB68H9", _peaks("EB68H9", alt={5: ("W", 0.43)}) )
    a.peaks[5]["H"] = 0.53
    b = _reading("川EB68W9", _peaks("EB68W9"))
    b.peaks[5].update({"W": 0.87, "H": 0.05})
    c = _reading("川EB68H9", _peaks("EB68H9"))
    c.peaks[5].update({"H": 0.72, "W": 0.05})
    tail, conf = vote_tail([a, b, c])
    assert conf[4] == 0.0
    assert min(conf[:4] + conf[5:]) > 0.9


def test_tail_vote_clear_majority_is_confident():
    reads = [_reading("川A2Z345", _peaks("A2Z345")), _reading("川A2Z345", _peaks("A2Z345")),
             _reading("川AZZ345", _peaks("AZZ345", alt={2: ("2", 0.1)}))]
    tail, conf = vote_tail(reads)
    assert tail == "A2Z345" and min(conf) > 0.9


def test_viterbi_matches_brute_force_best_path():
    import itertools

    rng = np.random.default_rng(7)
    template = [[1, 2], [2, 3], [1, 3]]
    for _ in range(30):
        p = rng.random((6, 4)) ** 3
        p /= p.sum(axis=1, keepdims=True)
        best = -np.inf
        for path in itertools.product(range(4), repeat=6):
            out, prev = [], -1
            for k in path:
                if k != prev and k != 0:
                    out.append(k)
                prev = k
            if len(out) == 3 and all(c in a for c, a in zip(out, template, strict=True)):
                best = max(best, float(np.sum(np.log(p[np.arange(6), path] + 1e-12))))
        got = constrained_best_path(p, template)
        assert abs(got.log_score - best) < 1e-6


def test_tail_vote_zero_doubted_as_q_by_one_recogniser_is_contested():
    # 桂F36Q71 on the synthetic footage: v6 sees Q (0.74), v4 and v5 say 0; the pooled 0 (0 + folded O)
    # wins the sum, but one recogniser reading Q plainly makes the slot a guess, not a read
    a = _reading("桂F36071", _peaks("F36071"))
    a.peaks[4] = {"0": 0.25, "Q": 0.74}
    b = _reading("桂F36071", _peaks("F36071"))
    b.peaks[4] = {"0": 0.9, "Q": 0.08}
    c = _reading("桂F36071", _peaks("F36071"))
    c.peaks[4] = {"0": 0.93, "Q": 0.03}
    tail, conf = vote_tail([a, b, c])
    assert tail == "F36071" and conf[3] == 0.0
    assert min(conf[:3] + conf[4:]) > 0.9
    # a Q at 0.19 under a 0 is still a doubt (real 粤A5Q951: a plain Q got 0.19/0.14/0.05)
    a.peaks[4] = {"0": 0.8, "Q": 0.19}
    assert vote_tail([a, b, c])[1][3] == 0.0
    # a faint Q under a clear 0 stays a read
    a.peaks[4] = {"0": 0.85, "Q": 0.06}
    b.peaks[4] = {"0": 0.9, "Q": 0.05}
    tail, conf = vote_tail([a, b, c])
    assert conf[3] > 0.9
