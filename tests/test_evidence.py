"""Evidence files: layout, atomic write, traversal rejected, purge."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from edge.storage.evidence import EvidenceStore

T = datetime(2025, 3, 4, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # = 2025-03-05 01:30 UTC


def _image() -> np.ndarray:
    img = np.zeros((60, 120, 3), np.uint8)
    cv2.putText(img, "29C", (5, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return img


def test_save_layout_and_readable_jpeg(tmp_path):
    ev = EvidenceStore(tmp_path / "evidence")
    before = datetime.now(UTC).strftime("%Y-%m-%d")
    e = ev.save(_image(), "plate", "cam-plate-1", "abc123", T)
    stored = {before, datetime.now(UTC).strftime("%Y-%m-%d")}  # UTC date the box stored it (not the frame's)
    assert e.path in {f"{d}/abc123/plate-cam-plate-1.jpg" for d in stored}
    assert e.frame_time == T and e.frame_time.utcoffset() == timedelta(0)
    f = ev.resolve(e.path)
    assert f == (tmp_path / "evidence" / e.path).resolve()
    back = cv2.imread(str(f))
    assert back.shape == (60, 120, 3)
    assert np.abs(back.astype(int) - _image().astype(int)).mean() < 8
    # no temp files left next to it
    assert [p.name for p in f.parent.iterdir()] == ["plate-cam-plate-1.jpg"]


def test_save_never_overwrites_and_each_object_has_its_own_file(tmp_path):
    # issue 18: all container evidence of a passage pointed at one container-<camera>.jpg, so all but one was lost
    ev = EvidenceStore(tmp_path)
    e1 = ev.save(_image(), "overview", "ov", "p1", T)
    size1 = ev.resolve(e1.path).stat().st_size
    e2 = ev.save(np.full((200, 300), 128, np.uint8), "overview", "ov", "p1", T)
    assert e1.path != e2.path and e2.path.endswith("overview-ov-2.jpg")
    assert ev.resolve(e1.path).stat().st_size == size1  # the first image is intact
    assert cv2.imread(str(ev.resolve(e2.path))).shape[:2] == (200, 300)
    a = ev.save(_image(), "container", "side", "p1", T, key="TGHU1614802")
    b = ev.save(_image(), "container", "side", "p1", T, key="HLXU7787395")
    assert a.path.endswith("container-side-TGHU1614802.jpg") and b.path.endswith("container-side-HLXU7787395.jpg")
    assert not [p for p in ev.resolve(a.path).parent.iterdir() if p.name.startswith(".tmp-")]  # no temp files left


@pytest.mark.parametrize("kind,camera,pid", [
    ("plate", "../x", "p1"), ("plate", "cam", "../../etc"), ("plate", "a/b", "p1"), ("selfie", "cam", "p1"),
    ("plate", "", "p1"), ("plate", ".hidden", "p1"),
])
def test_save_rejects_unsafe_names(tmp_path, kind, camera, pid):
    ev = EvidenceStore(tmp_path)
    with pytest.raises(ValueError):
        ev.save(_image(), kind, camera, pid, T)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_non_images(tmp_path):
    ev = EvidenceStore(tmp_path)
    with pytest.raises(ValueError):
        ev.save(np.zeros((0, 0, 3), np.uint8), "plate", "cam", "p1", T)


@pytest.mark.parametrize("bad", [
    "../secret.txt", "2025-03-05/../../secret.txt", "/etc/passwd", "", "a/./b.jpg", "a\\..\\b", "x\x00.jpg",
    "~root/x", ".",
])
def test_resolve_rejects_traversal(tmp_path, bad):
    (tmp_path / "secret.txt").write_text("s")
    ev = EvidenceStore(tmp_path / "evidence")
    with pytest.raises(ValueError):
        ev.resolve(bad)


def test_resolve_rejects_symlink_out_of_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    ev = EvidenceStore(tmp_path / "evidence")
    os.symlink(outside, tmp_path / "evidence" / "2025-01-01")
    with pytest.raises(ValueError):
        ev.resolve("2025-01-01/secret.jpg")
    # a symlink that stays inside the root is fine
    (tmp_path / "evidence" / "real").mkdir()
    (tmp_path / "evidence" / "real" / "a.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "evidence" / "real", tmp_path / "evidence" / "alias")
    assert ev.resolve("alias/a.jpg").read_bytes() == b"x"


def test_purge_older_than(tmp_path):
    ev = EvidenceStore(tmp_path)
    now = datetime(2025, 3, 31, 12, tzinfo=UTC)
    for days_ago in (0, 29, 30.5, 31, 45):
        t = now - timedelta(days=days_ago)
        for kind, camera in (("plate", "cam"), ("cargo", "cam2")):
            f = ev.resolve(ev.save(_image(), kind, camera, f"p{days_ago:g}".replace(".", "_"), t).path)
            os.utime(f, (t.timestamp(), t.timestamp()))  # stored `days_ago` days before `now`
    (tmp_path / "notes").mkdir()  # not a date folder: left alone
    (tmp_path / "notes" / "old").mkdir()
    os.utime(tmp_path / "notes" / "old", (0, 0))
    removed = ev.purge_older_than(30, now=now)
    assert removed == 6  # stored 30.5, 31 and 45 days ago, two files each
    left = sorted(p.name for d in tmp_path.iterdir() for p in d.iterdir())
    assert left == ["old", "p0", "p29"]
