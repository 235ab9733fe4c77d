"""Frame sources against real files, real folders and a real HTTP MJPEG server that fails and recovers."""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras import (
    Backoff,
    CameraError,
    ImageFolderSource,
    LiveSource,
    PacedSource,
    VideoFileSource,
    open_source,
)
from cameras.live_source import redact
from edge.config import CameraConfig

START = "2026-03-01T08:00:00Z"
START_DT = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def cam(source: str | Path, **kw: object) -> CameraConfig:
    return CameraConfig(name="front", source=str(source), role="plate", lane="in1", **kw)


def write_video(path: Path, n: int, fps: float = 10.0, noise: bool = False) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    assert w.isOpened()
    for i in range(n):
        if noise:  # big frames, so damage in the middle of the file hits several frames
            img = np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        else:
            img = np.full((120, 160, 3), 8 * i, np.uint8)
        w.write(img)
    w.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 30)


@pytest.fixture(scope="module")
def damaged_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_video(tmp_path_factory.mktemp("damaged") / "damaged.mp4", 30, noise=True)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for off in range(mid, mid + 30000):  # garbage over ~4 frames of the mdat, container index intact
        data[off] = 0xFF if off % 7 else 0
    path.write_bytes(bytes(data))
    return path


# -- video files ----------------------------------------------------------------------------------------


def test_file_source_reads_every_frame_fast_with_replayable_timestamps(clip: Path) -> None:
    src = open_source(cam(clip, start_time=START))
    assert isinstance(src, VideoFileSource) and not src.is_live
    assert src.fps == pytest.approx(10.0)
    frames = list(src.frames())
    assert [f.index for f in frames] == list(range(30))
    for i, f in enumerate(frames):
        assert f.camera == "front" and f.role == "plate" and f.lane == "in1"
        assert f.pts_s == pytest.approx(i / 10, abs=1e-3)
        assert f.timestamp == START_DT + timedelta(seconds=f.pts_s)
        assert f.image.shape == (120, 160, 3)
        assert abs(float(f.image.mean()) - 8 * i) < 4  # the right frame, in order
    h = src.health()
    assert (h.state, h.frames, h.corrupt_frames, h.dropped_frames) == ("ended", 30, 0, 0)
    assert h.last_frame_at is not None and h.fps_measured > 0


def test_file_source_skips_damaged_frames_and_keeps_going(damaged_clip: Path) -> None:
    src = VideoFileSource("side", "container", "in1", damaged_clip, start_time=START_DT)
    frames = list(src.frames())
    h = src.health()
    assert h.state == "ended"
    assert h.corrupt_frames >= 1
    assert h.frames == len(frames) and h.frames + h.corrupt_frames == 30
    idx = [f.index for f in frames]
    assert idx == sorted(set(idx)) and idx[-1] == 29  # frames after the damage came through
    gaps = [b for a, b in zip(idx, idx[1:], strict=False) if b != a + 1]
    assert gaps, "the skipped frames leave a gap in the index"
    pts = [f.pts_s for f in frames]
    assert pts == sorted(pts) and pts[-1] == pytest.approx(2.9, abs=1e-3)
    assert "undecodable" in (h.last_error or "")


def test_file_source_gives_up_after_bounded_consecutive_failures(damaged_clip: Path) -> None:
    src = VideoFileSource("side", "container", "in1", damaged_clip, max_consecutive_failures=2)
    frames = list(src.frames())
    h = src.health()
    assert h.state == "ended" and len(frames) < 15
    assert "consecutive read failures" in (h.last_error or "")


def test_missing_or_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "clip.mp4"
    with pytest.raises(CameraError) as e:
        open_source(cam(missing))
    assert "'front'" in str(e.value) and str(missing) in str(e.value)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(CameraError, match=r"cannot open video file .*junk\.mp4"):
        open_source(cam(junk))
    with pytest.raises(CameraError, match="not an ISO-8601 time"):
        open_source(cam(junk, start_time="yesterday"))
    with pytest.raises(CameraError, match="unsupported source scheme"):
        open_source(cam("ftp://user:secret@cam/x"))
    with pytest.raises(CameraError, match="usb:N"):
        open_source(cam("usb:front"))


# -- image folders --------------------------------------------------------------------------------------


def test_folder_source_skips_corrupt_images_in_natural_order(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for i in range(12):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((48, 64, 3), 20 * i, np.uint8))
    (tmp_path / "frame_5.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)  # truncated/corrupt
    (tmp_path / "frame_8.png").write_bytes(b"")  # empty file
    (tmp_path / "notes.txt").write_text("not an image")
    caplog.set_level(logging.WARNING, logger="cameras.folder_source")
    src = open_source(cam(tmp_path, fps=5, start_time=START))
    assert isinstance(src, ImageFolderSource)
    frames = list(src.frames())
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 6, 7, 9, 10, 11]  # frame_10 after frame_9
    assert [round(float(f.image.mean())) for f in frames] == [20 * f.index for f in frames]
    assert frames[5].timestamp == START_DT + timedelta(seconds=6 / 5)
    h = src.health()
    assert (h.state, h.frames, h.corrupt_frames) == ("ended", 10, 2)
    warned = [r.getMessage() for r in caplog.records]
    assert sum("frame_5.png" in m for m in warned) == 1 and sum("frame_8.png" in m for m in warned) == 1


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="holds no"):
        open_source(cam(tmp_path))


# -- real-time pacing -----------------------------------------------------------------------------------


def _folder(tmp_path: Path, n: int) -> Path:
    for i in range(n):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((24, 32, 3), i, np.uint8))
    return tmp_path


def test_paced_replay_runs_at_the_source_fps(tmp_path: Path) -> None:
    src = open_source(cam(_folder(tmp_path, 6), fps=20, live=True))
    assert isinstance(src, PacedSource) and src.is_live
    t = time.monotonic()
    frames = list(src.frames())
    elapsed = time.monotonic() - t
    assert len(frames) == 6
    assert 0.22 <= elapsed < 1.5  # 5 intervals of 50 ms
    assert src.health().dropped_frames == 0


def test_paced_replay_drops_frames_for_a_late_consumer(tmp_path: Path) -> None:
    src = PacedSource(ImageFolderSource("front", "plate", "in1", _folder(tmp_path, 20), fps=20))
    got = []
    for f in src.frames():
        got.append(f.index)
        time.sleep(0.12)  # consumer 2.4x slower than the camera
    h = src.health()
    assert h.dropped_frames > 0 and h.frames == len(got)
    assert h.frames + h.dropped_frames == 20 and h.state == "ended"


def test_close_stops_a_paced_replay_promptly(tmp_path: Path) -> None:
    src = PacedSource(ImageFolderSource("front", "plate", "in1", _folder(tmp_path, 5), fps=0.5))
    it = src.frames()
    next(it)  # the next frame is due in 2 s
    threading.Timer(0.1, src.close).start()
    t = time.monotonic()
    assert list(it) == []
    assert time.monotonic() - t < 1.0
    assert src.health().state == "ended"


# -- live sources ---------------------------------------------------------------------------------------


class MjpegServer:
    """A real multipart/x-mixed-replace MJPEG camera on 127.0.0.1; `up` switches it between serving
    frames and answering 503 (a camera that is booting / a dead encoder)."""

    def __init__(self, fps: float = 25.0) -> None:
        self.up = threading.Event()
        self.stop = threading.Event()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                outer.requests += 1
                if not outer.up.is_set():
                    self.send_error(503, "camera not ready")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while outer.up.is_set() and not outer.stop.is_set():
                        img = np.full((120, 160, 3), (i * 10) % 250, np.uint8)
                        jpg = cv2.imencode(".jpg", img)[1].tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpg) + jpg + b"\r\n")
                        i += 1
                        time.sleep(1 / fps)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mjpeg() -> Iterator[MjpegServer]:
    srv = MjpegServer()
    yield srv
    srv.shutdown()


def consume(src: LiveSource) -> queue.Queue:
    """Pull frames in a thread so a test can wait with a deadline instead of hanging."""
    q: queue.Queue = queue.Queue()

    def run() -> None:
        for f in src.frames():
            q.put(f)
        q.put(None)

    threading.Thread(target=run, daemon=True).start()
    return q


def wait_for(pred, timeout: float = 8.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_live_source_fails_recovers_and_counts_reconnects(mjpeg: MjpegServer) -> None:
    src = LiveSource("front", "plate", "in1", mjpeg.url, backoff=Backoff(0.05, 0.2), offline_after=1000,
                     open_timeout_s=3, read_timeout_s=3)
    try:
        assert src.is_live
        # Camera answers 503: reconnecting, with attempts counted.
        assert wait_for(lambda: src.health().state == "reconnecting" and src.health().reconnects >= 2)
        assert "cannot open" in (src.health().last_error or "")
        q = consume(src)
        mjpeg.up.set()
        first = q.get(timeout=8)
        assert first is not None and first.image.shape == (120, 160, 3) and first.camera == "front"
        assert abs((datetime.now(UTC) - first.timestamp).total_seconds()) < 2.0
        assert src.health().state == "online"
        # The stream dies mid-way: back to reconnecting, then online again on its return.
        mjpeg.up.clear()
        assert wait_for(lambda: src.health().state == "reconnecting")
        before = src.health().reconnects
        while not q.empty():
            q.get_nowait()
        mjpeg.up.set()
        again = q.get(timeout=8)
        assert again is not None and again.index > first.index
        h = src.health()
        assert h.state == "online" and h.reconnects > before and h.frames >= 2
    finally:
        src.close()
    assert src.health().state == "ended"


def test_slow_consumer_gets_the_newest_frame_and_drops_are_counted(mjpeg: MjpegServer) -> None:
    mjpeg.up.set()
    src = LiveSource("front", "plate", "in1", mjpeg.url, backoff=Backoff(0.05, 0.2))
    try:
        it = src.frames()
        ages = []
        for _ in range(4):
            f = next(it)
            ages.append((datetime.now(UTC) - f.timestamp).total_seconds())
            time.sleep(0.3)  # 25 fps camera, ~3 fps consumer
        h = src.health()
        assert h.dropped_frames >= 5
        assert max(ages[1:]) < 0.3  # no backlog: each frame is at most one camera interval old
    finally:
        src.close()


def test_dead_camera_goes_offline_and_close_unblocks_the_consumer() -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = LiveSource("yard", "overview", "in1", f"http://127.0.0.1:{port}/x", backoff=Backoff(0.02, 0.05),
                     offline_after=3, open_timeout_s=1, read_timeout_s=1)
    q = consume(src)
    assert wait_for(lambda: src.health().state == "offline")
    assert src.health().reconnects >= 2 and q.empty()
    t = time.monotonic()
    src.close()
    assert q.get(timeout=2) is None  # the blocked frames() returned
    assert time.monotonic() - t < 1.5
    assert src.health().state == "ended"


def test_open_source_routes_urls_to_live_sources() -> None:
    src = open_source(cam("http://127.0.0.1:9/none", reconnect_min_s=0.1, reconnect_max_s=0.2))
    try:
        assert isinstance(src, LiveSource) and src.backoff.initial_s == 0.1 and src.backoff.max_s == 0.2
    finally:
        src.close()


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    b = Backoff(initial_s=0.5, max_s=30.0, jitter=0.2)
    rng = random.Random(1)
    for failures, base in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]:
        d = [b.delay(failures, rng) for _ in range(50)]
        assert all(base * 0.8 <= x <= min(30.0, base * 1.2) for x in d)
        assert len({round(x, 6) for x in d}) > 1  # jittered, not in lock-step


def test_redact_hides_passwords() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    assert redact("rtsp://10.0.0.5/x@y") == "rtsp://10.0.0.5/x@y"
