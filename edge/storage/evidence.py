"""Evidence images on disk: one JPEG per (passage, kind, camera).

Layout: `<root>/<YYYY-MM-DD>/<passage_id>/<kind>-<camera>.jpg`, where the date is
the UTC day the box *stored* the file (not the frame's time: replayed footage and
cameras with a wrong clock carry any date). Writes go to a temp file and are
renamed into place, so a reader (the API) never sees half a JPEG and a crash
never leaves one behind under the final name.

Retention goes by when the box stored the files, never by the date in a path: a
passage folder's age is the newest modification time (mtime) of its files.
Retention after N days deletes passage folders stored more than N days ago; the
budget and free-space purges delete the oldest-stored passages first. Paths
already stored in the database (older layouts, footage-dated folders) keep
working and are aged the same way, by mtime. (Footage two years old replayed
today is kept for N days from today; the demo's evidence is not deleted under the
review page a few minutes after it was written.) A backup restored with `cp -a`
or `rsync -a` keeps its mtimes and so its age.

Disk space: evidence is what gives way. Below `min_free_mb` free disk no new
image is written (ENOSPC raised at once, counted, logged as an ERROR by the
caller) so the verdicts in SQLite keep the room they need; `purge()` deletes the
oldest passages' images by age, by a disk budget, and while free space is short.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from edge.domain.types import Evidence

log = logging.getLogger(__name__)

KINDS = ("plate", "container", "cargo", "hazard", "overview")
# Names that become path components: no separators, no dots, so no traversal.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class PurgeResult:
    by_age: int = 0  # files removed
    by_budget: int = 0
    by_free_space: int = 0
    bytes_left: int = 0  # evidence bytes after the purge

    @property
    def removed(self) -> int:
        return self.by_age + self.by_budget + self.by_free_space


class EvidenceStore:
    def __init__(self, root: str | Path, min_free_mb: float = 0.0,
                 on_dropped: Callable[[str], None] | None = None) -> None:
        """`on_dropped(reason)` is called for every image not saved: "min_free" (free disk below
        `min_free_mb`), "disk_full" (ENOSPC/EDQUOT while writing) or "error"."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_real = self.root.resolve()
        self.min_free_bytes = int(min_free_mb * 1024 * 1024)
        self.on_dropped = on_dropped or (lambda reason: None)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def save(
        self,
        image: np.ndarray,
        kind: str,
        camera: str,
        passage_id: str,
        frame_time: datetime,
        quality: int = 85,
        key: str | None = None,
    ) -> Evidence:
        """`key`: the object the image shows (a container code, a panel's UN number): one file per object, named
        `<kind>-<camera>-<key>.jpg`. A file is never overwritten: a second image under one name gets `-2`, `-3`..."""
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
        if self.min_free_bytes and self.free_bytes() < self.min_free_bytes:
            self.on_dropped("min_free")
            raise OSError(errno.ENOSPC, f"evidence dropped: less than {self.min_free_bytes // 2**20} MB free "
                          f"under {self.root} (storage.min_free_mb); verdicts keep the remaining space")
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError("image could not be encoded as JPEG")
        try:
            return self._write(buf, kind, camera, passage_id, frame_time, key)
        except OSError as e:
            self.on_dropped("disk_full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "error")
            raise

    def _write(self, buf: np.ndarray, kind: str, camera: str, passage_id: str, frame_time: datetime,
               key: str | None = None) -> Evidence:
        stored_day = datetime.now(UTC).strftime("%Y-%m-%d")  # the box's clock, not the camera's
        stem = f"{kind}-{camera}" + (f"-{k}" if key and (k := re.sub(r"[^A-Za-z0-9_-]", "", key)[:64]) else "")
        folder = self.root / stored_day / passage_id
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jpg", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.tobytes())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; evidence is meant to be served
            for n in range(1, 1000):  # never overwrite: os.link fails on an existing name, atomically
                rel = PurePosixPath(stored_day, passage_id, f"{stem}.jpg" if n == 1 else f"{stem}-{n}.jpg")
                try:
                    os.link(tmp, self.root / rel)
                    break
                except FileExistsError:
                    continue
            else:
                raise OSError(errno.EEXIST, f"no free evidence file name for {stem} in {folder}")
            Path(tmp).unlink()
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

    def purge_older_than(self, days: float, now: datetime | None = None) -> int:
        """Delete the passage folders stored more than `days` days before `now` (by mtime, see the module
        doc); returns the number of files removed."""
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = (now or datetime.now(UTC)).timestamp() - days * 86400
        removed = 0
        for stored, pd in self._passage_dirs():
            if stored >= cutoff:
                break  # oldest first: the rest are newer
            n = self._dir_size(pd)[0]
            try:
                shutil.rmtree(pd)
            except OSError as e:
                log.warning("evidence purge: cannot remove %s: %s", pd, e)
                continue
            removed += n
        self._remove_empty_date_dirs()
        return removed

    @staticmethod
    def _stored_at(pd: Path) -> float:
        """When the box last stored a file in passage folder `pd`: the newest mtime of its files (the
        folder's own mtime when it holds none)."""
        newest: float | None = None
        for f in pd.iterdir():
            with contextlib.suppress(OSError):
                st = f.lstat()
                if stat.S_ISREG(st.st_mode) and (newest is None or st.st_mtime > newest):
                    newest = st.st_mtime
        return newest if newest is not None else pd.stat().st_mtime

    def _passage_dirs(self) -> list[tuple[float, Path]]:
        """(stored time, dir) of every passage folder, oldest stored first (whatever its date folder says)."""
        out = []
        for d in self.root.iterdir():
            if not d.is_dir() or d.is_symlink() or not _DATE_DIR.match(d.name):
                continue
            for pd in d.iterdir():
                if pd.is_dir() and not pd.is_symlink():
                    try:
                        out.append((self._stored_at(pd), pd))
                    except OSError:
                        continue
        out.sort(key=lambda t: (t[0], t[1].parent.name, t[1].name))
        return out

    def _remove_empty_date_dirs(self) -> None:
        for d in self.root.iterdir():
            if d.is_dir() and not d.is_symlink() and _DATE_DIR.match(d.name) and not any(d.iterdir()):
                with contextlib.suppress(OSError):
                    d.rmdir()

    @staticmethod
    def _dir_size(d: Path) -> tuple[int, int]:
        files, size = 0, 0
        for f in d.rglob("*"):
            try:
                if f.is_file() and not f.is_symlink():
                    files += 1
                    size += f.stat().st_size
            except OSError:
                continue
        return files, size

    def usage_bytes(self) -> int:
        return sum(self._dir_size(pd)[1] for _, pd in self._passage_dirs())

    def purge(self, retention_days: int | None = None, max_bytes: int | None = None,
              now: datetime | None = None) -> PurgeResult:
        """Retention: passages stored more than `retention_days` ago, then the oldest-stored passages'
        folders while the evidence exceeds `max_bytes` or free disk is below `min_free_mb`."""
        res = PurgeResult()
        if retention_days is not None:
            res.by_age = self.purge_older_than(retention_days, now)
        dirs = [(pd, *self._dir_size(pd)) for _, pd in self._passage_dirs()]
        total = sum(size for _, _, size in dirs)
        for pd, files, size in dirs:
            over_budget = max_bytes is not None and total > max_bytes
            short = bool(self.min_free_bytes) and self.free_bytes() < self.min_free_bytes
            if not (over_budget or short):
                break
            try:
                shutil.rmtree(pd)
            except OSError as e:
                log.warning("evidence purge: cannot remove %s: %s", pd, e)
                continue
            total -= size
            if over_budget:
                res.by_budget += files
            else:
                res.by_free_space += files
        self._remove_empty_date_dirs()  # date folders emptied above
        res.bytes_left = total
        if res.by_free_space:
            log.error("evidence purge: free disk below %d MB; deleted %d evidence file(s) to keep room for verdicts",
                      self.min_free_bytes // 2**20, res.by_free_space)
        return res
