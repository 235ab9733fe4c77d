"""Vote reads across the frames of one passage: plates, container codes and hazard panels.

The readers read one frame each; these votes combine their reads across the frames of a passage
(the cargo class is voted in `finalize.vote_cargo`). Single frames misread; a truck is seen in many
frames. Following Frigate's LPR (which follows common ALPR practice): cluster similar reads greedily
by Jaro-Winkler similarity, the biggest cluster wins (ties: summed confidence), and its most
confident member is the answer. Grammar/check-digit validity is part of each read already, so a
valid read is preferred inside the winning cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rapidfuzz.distance import JaroWinkler

from edge.domain.plate_grammar import PROVINCE_SET
from edge.domain.types import ContainerRead, HazardRead, PlateRead

T = TypeVar("T")

SIMILARITY = 0.85


@dataclass
class Cluster(Generic[T]):
    members: list[T] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)

    @property
    def support(self) -> int:
        return len(self.members)

    @property
    def weight(self) -> float:
        return sum(self.confidences)

    @property
    def key_counts(self) -> Counter[str]:
        """How often each exact string was read inside the cluster."""
        return Counter(self.keys)


def cluster_reads(
    items: Sequence[T], key: Callable[[T], str], confidence: Callable[[T], float], threshold: float = SIMILARITY
) -> list[Cluster[T]]:
    """Greedy clustering: each read joins the first cluster whose founder is similar enough.

    Reads are visited most-confident first so that founders are the best reads.
    Returns clusters sorted by (support, weight), biggest first.
    """
    clusters: list[Cluster[T]] = []
    for item in sorted(items, key=confidence, reverse=True):
        k = key(item)
        for c in clusters:
            if JaroWinkler.similarity(k, c.keys[0]) >= threshold:
                c.members.append(item)
                c.keys.append(k)
                c.confidences.append(confidence(item))
                break
        else:
            clusters.append(Cluster([item], [k], [confidence(item)]))
    clusters.sort(key=lambda c: (c.support, c.weight), reverse=True)
    return clusters


@dataclass(frozen=True)
class PlateVote:
    read: PlateRead
    support: int  # reads that agreed (same cluster)
    total: int  # reads with text in the passage


GENERIC_MIN_SUPPORT = 3  # agreeing reads a plate needs when no VN/CN grammar vouches for it (issue 18: stickers)


def _national(c: Cluster[PlateRead]) -> bool:
    return any(m.country in ("VN", "CN") for m in c.members)


def vote_plate(reads: Sequence[PlateRead]) -> PlateVote | None:
    """The passage's plate: the winning cluster's best grammar-valid member, else its best member.

    A cluster with no VN/CN-grammar read (generic or foreign grammars only) needs `GENERIC_MIN_SUPPORT` reads,
    and beats a VN/CN cluster only with at least twice its support: text that only the generic grammar accepts
    is more often a sign or a sticker than a foreign plate at this gate."""
    texted = [r for r in reads if r.text]
    if not texted:
        return None
    clusters = cluster_reads(texted, key=lambda r: r.text or "", confidence=lambda r: r.confidence)
    national = [c for c in clusters if _national(c)]
    foreign = [c for c in clusters if not _national(c) and c.support >= GENERIC_MIN_SUPPORT]
    if national and (not foreign or foreign[0].support < 2 * national[0].support):
        best = national[0]
    elif foreign:
        best = foreign[0]
    else:
        return None
    # Within the cluster, the exact string seen most often wins; confidence breaks ties.
    counts = best.key_counts
    winner = max(best.members, key=lambda r: (r.format is not None, counts[r.text or ""], r.confidence))
    split = province_split(winner, best.members)
    if split:
        winner = PlateRead(raw=" / ".join(split), reason="province_disagrees", confidence=winner.confidence,
                           box=winner.box)
    return PlateVote(read=winner, support=best.support, total=len(texted))


def province_split(winner: PlateRead, members: Sequence[PlateRead]) -> list[str]:
    """The CN plates the reads of one vehicle name, most read first, when they disagree on its province glyph and
    no province has more than twice the reads of another; else [] (the vote stands).

    A small or blurred glyph is read as a look-alike with full confidence (粤 as 鄂, 浙 as 苏, 晋 as 鲁), so a vote
    between provinces is a guess, and a wrong province is another vehicle's identity: abstain (`province_disagrees`,
    the candidates in `raw` for the inspector). On queues of real photos (smartgate_tools.bench.photo_clips, 257 CN
    passages) six passages' reads named two provinces: the four right ones 3:1 to 5:1, the two wrong ones 3:2 and
    2:1. Reads of the same serial (at most one other character) count; a glyph read once among many is a misread.
    """
    text = winner.text or ""
    if winner.country != "CN" or not text or text[0] not in PROVINCE_SET:
        return []
    votes: Counter[str] = Counter()
    for r in members:
        t = r.text or ""
        if r.country == "CN" and len(t) == len(text) and t[0] in PROVINCE_SET and sum(
                a != b for a, b in zip(t[1:], text[1:], strict=True)) <= 1:
            votes[t[0]] += 1
    if len(votes) < 2:
        return []
    (_, n1), (_, n2) = votes.most_common(2)
    if n1 > 2 * n2:
        return []
    return [g + text[1:] for g, _ in votes.most_common()]


NEAR_CODE = 4  # codes differing in at most this many places may be misreads of one another
OUTVOTED = 3  # a code with a third of a near confident code's reads (or fewer) is a misread of it


def _differences(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def vote_containers(reads: Sequence[ContainerRead], min_support: int = 1) -> list[ContainerRead]:
    """Distinct container codes of a passage (a truck may carry two 20 ft boxes).

    Verified codes are taken most-read first. A misread verifies by chance one time in ten or so, more often once
    the check digit may correct it (issue 18: NGAU4160421 and IGAU4160621 beside WSAU4160620), so a verified code
    is dropped when an accepted code differs from it in at most `NEAR_CODE` places and it has at most a third of
    that code's reads, or it was only ever read corrected and has fewer reads. Two real boxes on one truck are each
    read on many frames, so near codes of the same owner (MSKU1234565, MSKU1234570) are both kept.

    Reads whose codes only ever failed the check digit are clustered (Jaro-Winkler ≥ 0.9) and kept (the policy
    flags them) unless a verified code is a near neighbour (then they are misreads of it).
    """
    if not reads:
        return []
    verified = [r for r in reads if r.check_digit_ok]
    counts = Counter(r.code for r in verified)
    out: list[ContainerRead] = []
    for code_, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n < min_support:
            continue
        mine = [r for r in verified if r.code == code_]
        corrected_only = all(r.corrected for r in mine)
        if any(_differences(code_, o.code) <= NEAR_CODE
               and (n * OUTVOTED <= counts[o.code] or corrected_only and n < counts[o.code]) for o in out):
            continue
        out.append(max(mine, key=lambda r: (not r.corrected, r.confidence)))
    unverified = [r for r in reads if not r.check_digit_ok]
    for c in cluster_reads(unverified, key=lambda r: r.code, confidence=lambda r: r.confidence, threshold=0.9):
        if c.support < min_support:
            continue
        kc = c.key_counts
        winner = max(c.members, key=lambda r: (kc[r.code], r.confidence))
        if any(o.check_digit_ok and JaroWinkler.similarity(o.code, winner.code) >= 0.8 for o in out):
            continue
        if any(o.code == winner.code for o in out):
            continue
        out.append(winner)
    return out


BLANK_MIN_VOTES = 3  # frames on which a passage must show a blank panel before it counts


def vote_hazards(reads: list[HazardRead], min_votes: int = 1, min_blank_votes: int = 1) -> list[HazardRead]:
    """One HazardRead per distinct panel of a passage, from the per-frame reads.

    Reads are grouped by UN number; a read with only a hazard id joins the group with that id. The
    group's hazard id is its most frequent one, its confidence the best. Blank-panel reads (no
    numbers) count only when no numbered panel was read, and only from `min_blank_votes` reads on. Groups with
    fewer than `min_votes` reads are dropped (a panel is visible on many frames; a one-frame read can be noise).
    """
    groups: dict[str, list[HazardRead]] = {}
    for r in reads:
        if r.un_number is not None:
            groups.setdefault(r.un_number, []).append(r)
    for r in reads:
        if r.un_number is None and r.hazard_id is not None:
            home = next((k for k, g in groups.items() if any(x.hazard_id == r.hazard_id for x in g)), None)
            groups.setdefault(home or f"id:{r.hazard_id}", []).append(r)
    blanks = [r for r in reads if r.un_number is None and r.hazard_id is None]
    if not groups and len(blanks) >= min_blank_votes:
        groups["blank"] = blanks
    out: list[HazardRead] = []
    for key, g in groups.items():
        if len(g) < min_votes:
            continue
        ids = [r.hazard_id for r in g if r.hazard_id]
        hazard_id = max(set(ids), key=ids.count) if ids else None
        best = max(g, key=lambda r: r.confidence)
        out.append(HazardRead(
            hazard_id=hazard_id,
            un_number=None if key.startswith("id:") or key == "blank" else key,
            hazard_class=hazard_id.lstrip("X")[0] if hazard_id else None,
            confidence=best.confidence,
            box=best.box,
        ))
    return out
