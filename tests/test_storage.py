"""Evidence retention (age, disk budget, free space) and a real full disk: evidence gives way, loudly."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import make_passage

from edge.config import ConfigError, parse_config
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def _noise(h: int = 200, w: int = 300) -> np.ndarray:
    return np.random.default_rng(h * w).integers(0, 255, (h, w, 3), np.uint8)  # JPEG-incompressible


def _fill(ev: EvidenceStore, n: int, start: datetime = T0) -> list[Path]:
    """n passages' evidence, stored (file and folder mtime) one minute apart from `start`: mtime = passage order."""
    dirs = []
    for i in range(n):
        t = (start + timedelta(minutes=i)).timestamp()
        e = ev.save(_noise(), "plate", "cam", uuid.uuid4().hex, start + timedelta(minutes=i))
        f = ev.resolve(e.path)
        os.utime(f, (t, t))
        os.utime(f.parent, (t, t))
        dirs.append(f.parent)
    return dirs


def test_purge_by_budget_removes_oldest_passages_first(tmp_path: Path) -> None:
    ev = EvidenceStore(tmp_path / "ev")
    dirs = _fill(ev, 10)
    total = ev.usage_bytes()
    res = ev.purge(max_bytes=total // 2)
    assert res.by_budget >= 5 and res.bytes_left == ev.usage_bytes()
    assert ev.usage_bytes() <= total // 2
    left = [d for d in dirs if d.exists()]
    assert left and left == dirs[len(dirs) - len(left):], "the newest passages are kept"


def test_purge_by_age_and_empty_date_folders_go(tmp_path: Path) -> None:
    ev = EvidenceStore(tmp_path / "ev")
    old = _fill(ev, 2, start=T0 - timedelta(days=40))
    legacy = ev.root / "2025-01-23"  # a date folder of the earlier, footage-dated layout
    legacy.mkdir()
    for d in old:
        d.rename(legacy / d.name)
    new = _fill(ev, 2, start=T0)
    res = ev.purge(retention_days=30, now=T0)
    assert res.by_age == 2 and res.by_budget == 0
    assert not legacy.exists(), "the emptied date folder goes too"
    assert all(d.exists() for d in new)


def test_min_free_drops_new_evidence_and_reports_it(tmp_path: Path) -> None:
    dropped: list[str] = []
    free_mb = EvidenceStore(tmp_path / "probe").free_bytes() / 2**20
    ev = EvidenceStore(tmp_path / "ev", min_free_mb=free_mb + 10_000, on_dropped=dropped.append)
    with pytest.raises(OSError) as e:
        ev.save(_noise(), "plate", "cam", "p1", T0)
    assert e.value.errno == errno.ENOSPC and "min_free_mb" in str(e.value)
    assert dropped == ["min_free"]
    assert not any(ev.root.rglob("*.jpg"))


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs: writes fail with ENOSPC like on a full SD card."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", str(mnt)], check=False, capture_output=True)


def test_full_disk_drops_evidence_and_keeps_verdicts(tmp_path: Path, tiny_disk: Path) -> None:
    dropped: list[str] = []
    ev = EvidenceStore(tiny_disk / "ev", on_dropped=dropped.append)
    store = Store(tmp_path / "gate.db")  # the database lives on the other disk
    try:
        saved = 0
        for i in range(40):  # ~60 kB each: the 1 MB disk fills up
            p = make_passage(started_at=T0 + timedelta(minutes=i))
            try:
                p.evidence.append(ev.save(_noise(), "plate", "cam", p.id, p.started_at))
                saved += 1
            except OSError as e:
                assert e.errno == errno.ENOSPC
            p = p.model_copy(update={"evidence": p.evidence[1:]})
            store.save_passage(p)
        assert 0 < saved < 40 and dropped and set(dropped) == {"disk_full"}
        assert store.count_passages() == 40  # every verdict kept
        assert not list((tiny_disk / "ev").rglob(".tmp-*")), "no half-written file left behind"
        # With a free-space floor, retention makes room again by deleting the oldest evidence.
        ev.min_free_bytes = 300 * 1024
        res = ev.purge()
        assert res.by_free_space > 0 and ev.free_bytes() >= 300 * 1024
        ev.min_free_bytes = 0
        ev.save(_noise(), "plate", "cam", "after-purge", T0 + timedelta(hours=2))
    finally:
        store.close()


def test_storage_config_keys() -> None:
    base = {"gate": {"id": "g"}, "lanes": [{"id": "l", "direction": "import"}],
            "cameras": [{"name": "c", "source": "x.mp4", "role": "plate", "lane": "l"}]}
    cfg = parse_config({**base, "storage": {"evidence_max_mb": 500, "min_free_mb": 1024}})
    assert cfg.storage.evidence_max_mb == 500 and cfg.storage.min_free_mb == 1024
    with pytest.raises(ConfigError, match=r"storage\.evidence_max_mb"):
        parse_config({**base, "storage": {"evidence_max_mb": -1}})
