"""Passage-level accuracy against truth.json.

Predicted passages are matched one-to-one to truth passages by time overlap (greedy, largest overlap
first, a pair must overlap); unmatched truth passages are missed, unmatched predictions extra. Per
truth passage: plate text exact, container codes all exact (as a set), cargo class, and the verdict
the policy gives on the prediction versus the verdict it gives on the truth itself (same rules, no
declaration), so "verdict" measures what reading errors do to the decision. Rates are over truth
passages: a missed passage is wrong on every field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
from edge.domain.plate_grammar import label_key
from edge.domain.types import CargoRead, ContainerRead, HazardRead, PlateRead


@dataclass
class PredictedPassage:
    """One passage as the bench scores it; times are seconds from the lane's truth start_time."""

    lane: str
    start_s: float
    end_s: float
    plate: str | None = None
    containers: list[str] = field(default_factory=list)
    cargo: str | None = None
    verdict: str | None = None  # clear | flag
    reasons: list[str] = field(default_factory=list)


@dataclass
class PassageScore:
    truth_id: str
    matched: bool
    plate_ok: bool = False
    containers_ok: bool = False
    cargo_ok: bool = False
    verdict_ok: bool = False
    truth_plate: str = ""
    read_plate: str | None = None
    truth_containers: list[str] = field(default_factory=list)
    read_containers: list[str] = field(default_factory=list)
    truth_cargo: str = ""
    read_cargo: str | None = None
    truth_verdict: str = ""
    read_verdict: str | None = None


@dataclass
class Accuracy:
    truth_passages: int
    predicted_passages: int
    matched: int
    missed: int
    extra: int
    plate: float  # exact plate text
    containers: float  # every code exact (a passage without containers must read none)
    cargo: float | None  # None when the run did not classify cargo at all
    verdict: float | None  # None when verdicts were not computed (naive without policy inputs)
    passage: float  # plate and containers both exact: the identity part every method reports
    per_passage: list[PassageScore] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("per_passage")
        return d


def seconds_since(t: datetime, start: datetime) -> float:
    return (t - start).total_seconds()


def truth_verdict(tp: dict[str, Any], direction: str, expect: LaneExpectations, rules: PolicyRules) -> tuple[str, list[str]]:
    """What the policy decides when every read is right."""
    hz = tp.get("hazard")
    facts = PassageFacts(
        direction=direction,  # type: ignore[arg-type]
        expect=expect,
        plate=PlateRead(text=tp["plate"], display=tp.get("plate_display"), country=tp.get("plate_country"),
                        format=tp.get("plate_format"), confidence=1.0),
        containers=[ContainerRead(code=c["code"], check_digit_ok=True, size_type=c.get("size_type"),
                                  confidence=1.0) for c in tp["containers"]],
        cargo=CargoRead(cls=tp["cargo"], confidence=1.0) if expect.cargo else None,
        hazards=[HazardRead(hazard_id=hz["hazard_id"], un_number=hz["un"],
                            hazard_class=hz["hazard_id"].lstrip("X")[0], confidence=1.0)] if hz else [],
    )
    v = decide(facts, None, rules)
    return v.status, sorted(r.code for r in v.reasons)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def match_passages(preds: list[PredictedPassage], truths: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(truth index, prediction index) pairs, by largest time overlap first."""
    pairs = []
    for i, t in enumerate(truths):
        for j, p in enumerate(preds):
            ov = _overlap(t["t_enter_s"], t["t_exit_s"], p.start_s, p.end_s)
            if ov > 0:
                pairs.append((ov, i, j))
    used_t, used_p, out = set(), set(), []
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            out.append((i, j))
    return sorted(out)


def score_lane(
    preds: list[PredictedPassage],
    truth: dict[str, Any],
    expect: LaneExpectations,
    rules: PolicyRules,
) -> list[PassageScore]:
    truths = truth["passages"]
    matched = dict(match_passages(preds, truths))
    out = []
    for i, tp in enumerate(truths):
        tcodes = sorted(c["code"] for c in tp["containers"])
        tverdict, _ = truth_verdict(tp, truth["direction"], expect, rules)
        s = PassageScore(truth_id=tp["id"], matched=i in matched, truth_plate=tp["plate"], truth_containers=tcodes,
                         truth_cargo=tp["cargo"], truth_verdict=tverdict)
        if i in matched:
            p = preds[matched[i]]
            s.read_plate, s.read_containers, s.read_cargo, s.read_verdict = (
                p.plate, sorted(set(p.containers)), p.cargo, p.verdict)
            s.plate_ok = p.plate is not None and label_key(p.plate) == label_key(tp["plate"])
            s.containers_ok = s.read_containers == tcodes
            s.cargo_ok = p.cargo == tp["cargo"]
            s.verdict_ok = p.verdict == tverdict
        out.append(s)
    return out


def aggregate(scores: list[PassageScore], n_pred: int, with_cargo: bool, with_verdict: bool) -> Accuracy:
    n = len(scores)

    def rate(key: str) -> float:
        return round(sum(getattr(s, key) for s in scores) / n, 4) if n else 0.0

    matched = sum(s.matched for s in scores)
    return Accuracy(
        truth_passages=n,
        predicted_passages=n_pred,
        matched=matched,
        missed=n - matched,
        extra=n_pred - matched,
        plate=rate("plate_ok"),
        containers=rate("containers_ok"),
        cargo=rate("cargo_ok") if with_cargo else None,
        verdict=rate("verdict_ok") if with_verdict else None,
        passage=round(sum(s.plate_ok and s.containers_ok for s in scores) / n, 4) if n else 0.0,
        per_passage=scores,
    )
