"""Evidence retention goes by when the box stored a file, not by the footage's date (issue #15).

Before: the date folder was the frame's date and retention deleted date folders by name, so five minutes
into `make demo` (footage dated 2025-06-02) every evidence JPEG was deleted while the review page served
it, and a camera with a wrong clock did the same to live evidence."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from edge.config import load_config
from edge.storage.evidence import EvidenceStore

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "data_samples" / "demo.yaml"  # what `make demo` runs


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (80, 120, 3), np.uint8)


def _stored(ev: EvidenceStore, rel: str, when: datetime) -> Path:
    """Pretend the box wrote `rel` at `when` (as a backup restored with its times would)."""
    f = ev.resolve(rel)
    os.utime(f, (when.timestamp(), when.timestamp()))
    return f


def test_old_footage_is_kept_for_the_retention_period_from_when_it_was_stored(tmp_path: Path) -> None:
    ev = EvidenceStore(tmp_path / "ev")
    two_years_ago = datetime.now(UTC) - timedelta(days=730)
    before = datetime.now(UTC).strftime("%Y-%m-%d")
    e = ev.save(_image(), "plate", "cam", "replay", two_years_ago)
    assert e.frame_time == two_years_ago  # the record keeps the footage's time
    assert e.path.split("/")[0] in {before, datetime.now(UTC).strftime("%Y-%m-%d")}  # the folder: stored today
    res = ev.purge(retention_days=30)
    assert res.removed == 0 and ev.resolve(e.path).is_file()


def test_files_stored_longer_ago_than_the_retention_are_deleted(tmp_path: Path) -> None:
    ev = EvidenceStore(tmp_path / "ev")
    now = datetime.now(UTC)
    old = [ev.save(_image(i), k, "cam", "old", now) for i, k in enumerate(("plate", "cargo"))]
    recent = ev.save(_image(2), "plate", "cam", "recent", now - timedelta(days=1000))  # old footage, stored now
    for e in old:
        _stored(ev, e.path, now - timedelta(days=40))
    middle = ev.save(_image(3), "plate", "cam", "middle", now)
    _stored(ev, middle.path, now - timedelta(days=20))
    res = ev.purge(retention_days=30)
    assert res.by_age == 2
    assert not any(ev.resolve(e.path).exists() for e in old)
    assert ev.resolve(recent.path).is_file() and ev.resolve(middle.path).is_file()


def test_a_passage_is_as_old_as_its_newest_file(tmp_path: Path) -> None:
    """A passage whose overview was written later than its plate crop is kept whole until the newest file ages."""
    ev = EvidenceStore(tmp_path / "ev")
    now = datetime.now(UTC)
    a = ev.save(_image(0), "plate", "cam", "p1", now)
    b = ev.save(_image(1), "overview", "ov", "p1", now)
    _stored(ev, a.path, now - timedelta(days=45))
    _stored(ev, b.path, now - timedelta(days=10))
    assert ev.purge(retention_days=30).removed == 0
    _stored(ev, b.path, now - timedelta(days=31))
    assert ev.purge(retention_days=30).by_age == 2
    assert not ev.resolve(a.path).parent.exists()


def test_demo_evidence_survives_the_purge_right_after_it_is_saved(tmp_path: Path) -> None:
    """`make demo`: footage dated 2025-06-02, the demo config's retention; the housekeeping purge runs while
    the review page shows the passages. Nothing the demo just stored may go."""
    cfg = load_config(DEMO_CONFIG)
    start = datetime.fromisoformat(cfg.cameras[0].start_time.replace("Z", "+00:00"))
    assert start.year == 2025 and start.month == 6
    ev = EvidenceStore(tmp_path / "evidence", min_free_mb=0)
    saved = []
    for i, cam in enumerate(cfg.cameras):
        pid = uuid.uuid4().hex
        kind = {"plate": "plate", "container": "container", "cargo": "cargo"}[cam.role]
        saved.append(ev.save(_image(i), kind, cam.name, pid, start + timedelta(seconds=14 * i)))
    max_mb = cfg.storage.evidence_max_mb
    res = ev.purge(cfg.storage.retention_days, int(max_mb * 2**20) if max_mb else None)
    assert res.removed == 0
    for e in saved:
        assert e.frame_time.date().isoformat() == "2025-06-02"
        img = cv2.imread(str(ev.resolve(e.path)))
        assert img is not None and img.shape == (80, 120, 3)


def test_wrong_camera_clock_does_not_age_evidence(tmp_path: Path) -> None:
    """A camera a decade behind (or ahead): the evidence lands in today's folder and is kept."""
    ev = EvidenceStore(tmp_path / "ev")
    behind = ev.save(_image(0), "plate", "cam", "behind", datetime(2015, 1, 1, tzinfo=UTC))
    ahead = ev.save(_image(1), "plate", "cam", "ahead", datetime(2035, 1, 1, tzinfo=UTC))
    assert ev.purge(retention_days=1).removed == 0
    assert ev.resolve(behind.path).is_file() and ev.resolve(ahead.path).is_file()
    assert "2015" not in behind.path and "2035" not in ahead.path


def test_legacy_footage_dated_paths_still_resolve_and_are_aged_by_mtime(tmp_path: Path) -> None:
    """Paths stored in the database by the earlier layout (folder = the frame's date) keep working: a recent
    one in a folder named years ago is kept, an old one in a folder named in the future is deleted."""
    ev = EvidenceStore(tmp_path / "ev")
    now = datetime.now(UTC)
    legacy = {}
    for name, folder, stored_days_ago in (("recent", "2019-05-01", 2), ("old", "2031-01-01", 90)):
        d = ev.root / folder / name
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "plate-cam.jpg"), _image())
        legacy[name] = f"{folder}/{name}/plate-cam.jpg"
        _stored(ev, legacy[name], now - timedelta(days=stored_days_ago))
    res = ev.purge(retention_days=30)
    assert res.by_age == 1
    assert ev.resolve(legacy["recent"]).is_file()
    assert not (ev.root / "2031-01-01").exists()


def test_budget_and_free_space_purges_go_oldest_stored_first(tmp_path: Path) -> None:
    """The folder names would sort the other way: the budget still deletes what was stored first."""
    ev = EvidenceStore(tmp_path / "ev")
    now = datetime.now(UTC)
    order = []
    for i, folder in enumerate(("2031-01-01", "2024-01-01", "2019-01-01", "2028-01-01")):  # stored in this order
        d = ev.root / folder / f"p{i}"
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "plate-cam.png"), _image(i))  # ~29 kB each, incompressible
        _stored(ev, f"{folder}/p{i}/plate-cam.png", now - timedelta(hours=10 - i))
        order.append(d)
    total = ev.usage_bytes()
    res = ev.purge(max_bytes=total // 2)
    assert res.by_budget == 2
    assert [d.exists() for d in order] == [False, False, True, True]
    # free space short: same order
    ev.min_free_bytes = ev.free_bytes() + 2**40  # can never be met: everything goes, oldest first
    res = ev.purge()
    assert res.by_free_space == 2 and not any(d.exists() for d in order)
