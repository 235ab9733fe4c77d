"""One lane's frames from its cameras, in time order (shared by the daemon and the benchmark)."""

from __future__ import annotations

import heapq
import logging
import queue
import threading
from collections.abc import Iterator

from cameras.base import FrameSource
from cameras.frame import Frame

log = logging.getLogger("smartgate")


def merged_frames(sources: list[FrameSource], stop: threading.Event) -> Iterator[Frame]:
    """One lane's frames in time order.

    Files are merged by timestamp (deterministic replay, cameras stay in step
    whatever their decode speed); live sources are read by one thread each and
    taken in arrival order, which is time order to within a frame.
    """
    if all(not s.is_live for s in sources):
        for frame in heapq.merge(*(s.frames() for s in sources), key=lambda f: f.timestamp):
            if stop.is_set():
                return
            yield frame
        return
    q: queue.Queue[Frame | None] = queue.Queue(maxsize=64)

    def pump(src: FrameSource) -> None:
        try:
            for f in src.frames():
                if stop.is_set():
                    break
                q.put(f)
        except Exception:  # a dying source must not take the lane down
            log.exception("camera %s: source failed", src.name)
        finally:
            q.put(None)

    threads = [threading.Thread(target=pump, args=(s,), name=f"cam-{s.name}", daemon=True) for s in sources]
    for t in threads:
        t.start()
    ended = 0
    while ended < len(threads) and not stop.is_set():
        try:
            item = q.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            ended += 1
        else:
            yield item
