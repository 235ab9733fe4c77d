"""Evidence images on disk: one JPEG per (passage, kind, camera).

Layout: `<root>/<YYYY-MM-DD>/<passage_id>/<kind>-<camera>.jpg` (date of the
frame, UTC), so retention is "delete old date folders". Writes go to a temp
file and are renamed into place, so a reader (the API) never sees half a JPEG
and a crash never leaves one behind under the final name.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from edge.domain import Evidence

log = logging.getLogger(__name__)

KINDS = ("plate", "container", "cargo", "hazard", "overview")
# Names that become path components: no separators, no dots, so no traversal.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EvidenceStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_real = self.root.resolve()

    def save(
        self,
        image: np.ndarray,
        kind: str,
        camera: str,
        passage_id: str,
        frame_time: datetime,
        quality: int = 85,
    ) -> Evidence:
        if kind not in KINDS:
            raise ValueError(f"evidence kind must be one of {KINDS}, got {kind!r}")
        for label, value in (("camera", camera), ("passage_id", passage_id)):
            if not _SAFE_NAME.match(value):
                raise ValueError(f"{label} {value!r} is not a safe file name (letters, digits, '_', '-')")
        if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
            raise ValueError("image must be a non-empty 2-D (gray) or 3-D (BGR) numpy array")
        if frame_time.tzinfo is None:
            frame_time = frame_time.replace(tzinfo=UTC)
        frame_time = frame_time.astimezone(UTC)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError("image could not be encoded as JPEG")

        rel = PurePosixPath(frame_time.strftime("%Y-%m-%d"), passage_id, f"{kind}-{camera}.jpg")
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jpg", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.tobytes())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; evidence is meant to be served
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Evidence(kind=kind, camera=camera, path=str(rel), frame_time=frame_time)  # type: ignore[arg-type]

    def resolve(self, rel_path: str) -> Path:
        """The file for a stored relative path; ValueError for anything that could leave the root.

        The file need not exist (callers answer 404); what is guaranteed is that the
        returned path, with symlinks followed, lies inside the evidence root.
        """
        if not rel_path or "\x00" in rel_path or "\\" in rel_path:
            raise ValueError("invalid evidence path")
        segments = rel_path.split("/")
        if rel_path.startswith(("/", "~")) or any(s in ("", ".", "..") for s in segments):
            raise ValueError("evidence path must be relative, without empty, '.' or '..' segments")
        pure = PurePosixPath(rel_path)
        real = (self._root_real / pure).resolve()
        if not real.is_relative_to(self._root_real) or real == self._root_real:
            raise ValueError("evidence path leaves the evidence directory")
        return real

    def purge_older_than(self, days: int, now: datetime | None = None) -> int:
        """Delete date folders older than `days` days (UTC); returns the number of files removed."""
        if days < 0:
            raise ValueError("days must be >= 0")
        today = (now or datetime.now(UTC)).astimezone(UTC).date()
        cutoff = today - timedelta(days=days)
        removed = 0
        for d in sorted(self.root.iterdir()):
            if not d.is_dir() or d.is_symlink() or not _DATE_DIR.match(d.name):
                continue
            try:
                day = date.fromisoformat(d.name)
            except ValueError:
                continue
            if day >= cutoff:
                continue
            n = sum(1 for p in d.rglob("*") if p.is_file())
            try:
                shutil.rmtree(d)
            except OSError as e:
                log.warning("evidence purge: cannot remove %s: %s", d, e)
                continue
            removed += n
        return removed
