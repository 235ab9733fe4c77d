"""Cargo training data: several folders, their sources, near-duplicate groups and grouped cross-validation folds.

No torch here (tests and `smartgate cargo-eval` import it).

A data folder is one of
- a folder with a `labels.csv` in the format of `shared/cargo` (`file,split,label,source_repo,...`; optional
  `group` column: files that must stay together, e.g. the crops of one gate passage), as written by
  `smartgate dataset export`;
- a class folder `DIR/<class>/*.jpg` that sits next to such a `labels.csv` (`shared/cargo/train`): the rows
  under `DIR.name/` give each file its source;
- a plain class folder `DIR/<class>/*.jpg`: every file's source is `dir:<DIR name>`.

Grouped folds (`assign_folds`). A model must be judged on photos whose *source* it did not train on, but three
classes (fertilizer, agricultural, electronics in `shared/cargo`) come from one source each: holding their
source out would hold out the whole class. So:
- a source that feeds a class with >= 2 real sources is one indivisible group (all its files, every class);
- the files of the other sources (single-source classes) are grouped by near-duplicate clusters (perceptual
  hash under the 8 flips/rotations, Hamming distance <= `PHASH_MAX_DIST`) and by the `group` column;
- groups that share a near-duplicate are merged, so no cluster is ever split across folds;
- synthetic views (`smartgate_tools.train.synth`) are each their own group; they are scored apart from the real photos.
Groups are then placed on K folds, largest first, never putting two sources of the same multi-source class in
one fold while another fold is free of them, and balancing each class over the folds.
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.readers.cargo import CARGO_CLASSES

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SYNTHETIC = "synthetic"
PHASH_MAX_DIST = 10  # shared/cargo's own near-duplicate rule: <= 6 within a repo, <= 10 for augmented sets


@dataclass
class Item:
    path: str
    cls: str
    source: str  # source_repo, "gate:<id>", "dir:<name>" or "synthetic"
    group: str = ""  # explicit group from labels.csv (a gate passage), "" if none
    data: str = ""  # the --data folder it came from
    cv_group: int = -1  # set by assign_groups
    fold: int = -1  # set by assign_folds

    @property
    def real(self) -> bool:
        return self.source != SYNTHETIC


# ---------------------------------------------------------------- loading


def _read_labels(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _item(root: Path, row: dict[str, str], data: str, fallback_source: str) -> Item:
    label = row["label"].strip()
    if label not in CARGO_CLASSES:
        raise SystemExit(f"{root / 'labels.csv'}: {row['file']}: label {label!r} is not one of {CARGO_CLASSES}")
    return Item(str(root / row["file"]), label, (row.get("source_repo") or "").strip() or fallback_source,
                (row.get("group") or "").strip(), data)


def load_folder(d: str | Path, split: str = "train") -> list[Item]:
    """Items of one data folder (see the module docstring); `split` filters a labels.csv's `split` column
    ("all": every row). shared/cargo's dev split is for measuring, so the default keeps `train` rows only."""
    d = Path(d)
    if not d.is_dir():
        raise SystemExit(f"data folder {d} not found")
    fallback = f"dir:{d.resolve().name}"
    labels = d / "labels.csv"
    if labels.is_file():
        rows = [r for r in _read_labels(labels)
                if split == "all" or "split" not in r or (r.get("split") or "train") == split]
        items = [_item(d, r, str(d), fallback) for r in rows if r.get("task", "cargo") == "cargo"]
    else:
        parent = d.parent / "labels.csv"
        by_file: dict[str, dict[str, str]] = {}
        if parent.is_file():
            by_file = {r["file"]: r for r in _read_labels(parent) if r["file"].startswith(f"{d.name}/")}
        extra = sorted({p.name for p in d.iterdir() if p.is_dir()} - set(CARGO_CLASSES))
        if extra:
            raise SystemExit(f"unknown class folders in {d}: {extra}; classes are {CARGO_CLASSES}")
        items = []
        for cls in CARGO_CLASSES:
            for p in sorted((d / cls).iterdir()) if (d / cls).is_dir() else []:
                if p.suffix.lower() not in IMAGE_EXT:
                    continue
                row = by_file.get(f"{d.name}/{cls}/{p.name}")
                src = (row or {}).get("source_repo") or fallback
                items.append(Item(str(p), cls, src, (row or {}).get("group", "") or "", str(d)))
    missing = [it.path for it in items if not Path(it.path).is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} file(s) listed in {d} do not exist, e.g. {missing[0]}")
    return items


def load_items(dirs: list[str], split: str = "train", synth_dir: Path | None = None) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for d in dirs:
        for it in load_folder(d, split):
            key = str(Path(it.path).resolve())
            if key not in seen:  # the same file named by two folders counts once
                seen.add(key)
                items.append(it)
    if synth_dir is not None:
        for cls in CARGO_CLASSES:
            for p in sorted((synth_dir / cls).glob("*.jpg")):
                items.append(Item(str(p), cls, SYNTHETIC, "", str(synth_dir)))
    return items


def counts(items: list[Item]) -> dict[str, dict[str, int]]:
    """{class: {"real": n, "synthetic": n}}."""
    out: dict[str, dict[str, int]] = {c: {} for c in CARGO_CLASSES}
    for it in items:
        k = "real" if it.real else "synthetic"
        out[it.cls][k] = out[it.cls].get(k, 0) + 1
    return out


def sources_by_class(items: list[Item]) -> dict[str, Counter]:
    out: dict[str, Counter] = {c: Counter() for c in CARGO_CLASSES}
    for it in items:
        if it.real:
            out[it.cls][it.source] += 1
    return out


# ---------------------------------------------------------------- perceptual hash


def phash(img: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash (as `imagehash.phash`: 32x32 grey, 8x8 lowest frequencies > median), as 64 bools."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    g = cv2.resize(g, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(g)[:8, :8]
    return (low > np.median(low)).reshape(-1)


def phash_variants(path: str) -> np.ndarray:
    """Hashes of the image under the 8 flips/rotations (augmented sets hold rotated copies): 8x64 bools."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    out = []
    for k in range(4):
        r = np.rot90(img, k)
        out += [phash(np.ascontiguousarray(r)), phash(np.ascontiguousarray(r[:, ::-1]))]
    return np.stack(out)


def near_duplicate_pairs(hashes: list[np.ndarray], max_dist: int = PHASH_MAX_DIST) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, whose hashes are within `max_dist` bits under some flip/rotation of j."""
    if not hashes:
        return []
    base = np.stack([h[0] for h in hashes]).astype(np.uint8)  # N x 64
    var = np.stack(hashes).astype(np.uint8)  # N x 8 x 64
    pairs = []
    for i in range(len(hashes)):
        # distance of i's upright hash to every j's 8 variants
        d = (var[i + 1:] != base[i][None, None, :]).sum(axis=2).min(axis=1)
        pairs += [(i, i + 1 + int(j)) for j in np.nonzero(d <= max_dist)[0]]
    return pairs


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


# ---------------------------------------------------------------- groups and folds


@dataclass
class GroupInfo:
    multi_source_classes: list[str]
    single_source_classes: list[str]
    whole_sources: list[str]  # sources kept whole (they feed a multi-source class)
    near_duplicate_pairs: int
    n_groups: int
    notes: list[str] = field(default_factory=list)


def assign_groups(items: list[Item], max_dist: int = PHASH_MAX_DIST,
                  hashes: list[np.ndarray] | None = None) -> GroupInfo:
    """Set `item.cv_group` (see the module docstring). `hashes`: precomputed `phash_variants` per item."""
    by_class = sources_by_class(items)
    multi = [c for c in CARGO_CLASSES if len(by_class[c]) >= 2]
    single = [c for c in CARGO_CLASSES if len(by_class[c]) == 1]
    whole = sorted({s for c in multi for s in by_class[c]})
    uf = _UnionFind(len(items))
    first: dict[str, int] = {}
    for i, it in enumerate(items):
        keys = []
        if it.real and it.source in whole:
            keys.append(f"src:{it.source}")
        if it.group:
            keys.append(f"grp:{it.source}:{it.group}")
        for k in keys:
            if k in first:
                uf.union(first[k], i)
            else:
                first[k] = i
    real_idx = [i for i, it in enumerate(items) if it.real]
    if hashes is None:
        hashes = [phash_variants(items[i].path) for i in real_idx]
    else:
        hashes = [hashes[i] for i in real_idx]
    pairs = near_duplicate_pairs(hashes, max_dist)
    for a, b in pairs:
        uf.union(real_idx[a], real_idx[b])
    roots: dict[int, int] = {}
    for i, it in enumerate(items):
        it.cv_group = roots.setdefault(uf.find(i), len(roots))
    notes = []
    # a multi-source class whose sources all ended up in one group cannot be split by source
    for c in multi:
        groups = {it.cv_group for it in items if it.real and it.cls == c}
        if len(groups) < 2:
            notes.append(f"{c}: its sources are near-duplicates of each other and form one group; "
                         "it cannot be judged on an unseen source")
    return GroupInfo(multi, single, whole, len(pairs), len(roots), notes)


def assign_folds(items: list[Item], k: int, seed: int = 0) -> None:
    """Set `item.fold` in 0..k-1 from `item.cv_group` (call `assign_groups` first)."""
    if k < 2:
        raise ValueError("grouped cross-validation needs at least 2 folds")
    by_class = sources_by_class(items)
    multi = {c for c in CARGO_CLASSES if len(by_class[c]) >= 2}
    members: dict[int, list[Item]] = defaultdict(list)
    for it in items:
        members[it.cv_group].append(it)
    totals = Counter(it.cls for it in items if it.real)
    synth_totals = Counter(it.cls for it in items if not it.real)
    rng = random.Random(seed)
    order = list(members)
    rng.shuffle(order)  # ties between equal-sized groups are broken by the seed
    order.sort(key=lambda g: -len(members[g]))
    load: list[Counter] = [Counter() for _ in range(k)]
    held_sources: list[dict[str, set[str]]] = [defaultdict(set) for _ in range(k)]
    for g in order:
        its = members[g]
        real = [it for it in its if it.real]
        cnt = Counter(it.cls for it in real)
        synth = Counter(it.cls for it in its if not it.real)
        srcs = {(it.cls, it.source) for it in real if it.cls in multi}

        def cost(f: int, cnt=cnt, synth=synth, srcs=srcs) -> tuple[int, float, int]:
            clash = sum(1 for c, s in srcs if held_sources[f][c] - {s})
            bal = sum(((load[f][c] + n) / totals[c]) ** 2 for c, n in cnt.items())
            bal += sum(((load[f]["~" + c] + n) / synth_totals[c]) ** 2 for c, n in synth.items())
            return clash, bal, f

        best = min(range(k), key=cost)
        for it in its:
            it.fold = best
        load[best].update(cnt)
        load[best].update({"~" + c: n for c, n in synth.items()})
        for c, s in srcs:
            held_sources[best][c].add(s)


def check_folds(items: list[Item]) -> list[str]:
    """Problems of a fold assignment (empty list: sound): a group or a whole source split across folds, or a
    multi-source class with all its sources in one fold's test part."""
    problems = []
    fold_of_group: dict[int, set[int]] = defaultdict(set)
    for it in items:
        fold_of_group[it.cv_group].add(it.fold)
    problems += [f"group {g} spans folds {sorted(fs)}" for g, fs in fold_of_group.items() if len(fs) > 1]
    by_class = sources_by_class(items)
    for c, srcs in by_class.items():
        if len(srcs) < 2:
            continue
        for s in srcs:
            folds = {it.fold for it in items if it.real and it.source == s}
            if len(folds) > 1:
                problems.append(f"source {s} ({c}) spans folds {sorted(folds)}")
        folds = {it.fold for it in items if it.real and it.cls == c}
        if len(folds) < 2:
            problems.append(f"{c}: every source in fold {folds}; no fold trains on any of its sources")
    return problems


def fold_table(items: list[Item], k: int) -> list[dict]:
    """Per fold: real test images per class and the sources held out."""
    out = []
    for f in range(k):
        test = [it for it in items if it.fold == f]
        out.append({"fold": f, "test_real": dict(Counter(it.cls for it in test if it.real)),
                    "test_synthetic": sum(not it.real for it in test),
                    "sources": dict(Counter(it.source for it in test if it.real))})
    return out
