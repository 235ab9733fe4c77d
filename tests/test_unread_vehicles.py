"""A vehicle whose plate is never read still gets a passage (issue 18; edge/lane/unread.py): in a queue the zone
never empties, so before this a truck with an unreadable plate passed with no passage and no verdict at all. The
toy world of test_queue_passages drives the real LaneProcessor; text painted on a read truck (plate-shaped too)
must not become a vehicle of its own. Real-photo queues: docs/benchmarks.md, "Vehicles never read"."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
from test_queue_passages import PLATE_H, PLATE_W, T0, GatedReader, Truck, draw, lane, motion, plates

from cameras.frame import Frame
from edge.decision.finalize import evidence_images, vote_draft
from edge.domain.types import Box, PlateRead
from edge.lane.tracks import Track
from edge.lane.unread import LEFT_TOGETHER_S, NEVER_READ, UnreadJudge, candidate, left_with, vehicle


class DirtyPlates(GatedReader):
    """The gate finds every plate-shaped white line; the plates in `dirty` (by bar count) never read; a zone read
    reads only inside its zone."""

    def __init__(self, dirty: set[int]) -> None:
        super().__init__()
        self.dirty = dirty

    def read_all(self, image: np.ndarray, zone: Box | None = None) -> list[PlateRead]:
        reads = [r for r in super().read_all(image) if r.text and int(r.text[3:]) - 12340 not in self.dirty
                 and (zone is None or r.box is not None and zone.iou(r.box) > 0)]  # a zone reads what is inside
        return reads or [PlateRead(reason="no_text")]


def _run(trucks: list[Truck], frames: int, reader: GatedReader, cfg: dict | None = None, painted: bool = False):
    proc = lane(frames, cfg, reader)
    done = []
    for k in range(frames):
        reader.frame = k
        img = draw(trucks, k)
        if painted:  # a plate-shaped white line without bars on every truck's cab: lettering nobody can read
            for t in trucks:
                if not np.isnan(t.y_at[k]):
                    y = int(round(t.y_at[k]))
                    cv2.rectangle(img, (150, y + 50), (150 + PLATE_W, y + 50 + PLATE_H - 2), (255, 255, 255), -1)
        done += proc.process(Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10, img))
    return sorted(done + proc.finish(), key=lambda d: d.started_at)  # a vehicle never read is judged after it left


QUEUE = [Truck(3, motion(140, 0)), Truck(4, motion(140, 16, stand=(30, 45))), Truck(5, motion(140, 50))]  # stop and go


def test_a_truck_whose_plate_is_never_read_gets_its_own_unread_passage_in_a_queue() -> None:
    done = _run(QUEUE, 140, DirtyPlates({4}))
    assert plates(done) == ["29C12343", None, "29C12345"]
    unread = done[1]
    voted = vote_draft(unread)
    assert voted.plate is not None and voted.plate.reason == NEVER_READ and voted.plate.box is not None
    assert unread.trigger_source == "track" and unread.started_at < unread.ended_at
    kinds = [e.kind for e in evidence_images(unread, voted)]
    assert kinds == ["plate", "overview"]  # where its plate-shaped line was seen largest
    # the same queue before: the dirty truck passed with no passage at all
    assert plates(_run(QUEUE, 140, DirtyPlates({4}), {"unread_vehicles": False})) == ["29C12343", "29C12345"]


def test_lettering_painted_on_read_trucks_makes_no_passage_of_its_own(monkeypatch) -> None:
    """The cab's plate-shaped lettering is seen with the truck's plate and leaves with it (`left_with`)."""
    import edge.lane.unread as unread

    done = _run(QUEUE, 140, DirtyPlates(set()), painted=True)
    assert plates(done) == ["29C12343", "29C12344", "29C12345"]
    monkeypatch.setattr(unread, "left_with", lambda place, other: False)
    assert None in plates(_run(QUEUE, 140, DirtyPlates(set()), painted=True))  # without it: phantom vehicles


def _track(path: list[tuple[float, Box]], **kw) -> Track:
    ts = [(T0 + timedelta(seconds=s), b) for s, b in path]
    return Track(id=kw.pop("id", 1), first_seen=ts[0][0], last_seen=ts[-1][0], box=ts[-1][1], first_box=ts[0][1],
                 path=ts, **kw)


def _box(y: float) -> Box:
    return Box(x=100, y=int(round(y)), w=64, h=16)


READ = [PlateRead(text="29C12343", country="VN", confidence=0.97)]


def _place(t0: float, t1: float, **kw) -> Track:
    kw = {"id": 9, "hits": 0, "settled": True, "sightings": 3, "moved": True, "end_reason": "left_frame", **kw}
    return _track([(0.1 * k, _box(20 + 6 * k)) for k in range(int(t0 * 10), int(t1 * 10) + 1)], **kw)


def test_only_a_place_that_left_as_a_vehicle_does_may_be_one() -> None:
    assert candidate(_place(0.0, 1.0))
    assert not candidate(_track([(0.0, _box(0)), (1.0, _box(60))], sightings=3, reads=READ, moved=True,
                                end_reason="left_frame"))  # read: a vehicle with a plate
    for kw in ({"sightings": 1}, {"startup": True}, {"departed": True}, {"end_reason": "lost"}, {"moved": False}):
        assert not candidate(_place(0.0, 1.0, **kw)), kw


def test_a_place_that_left_with_a_read_vehicle_is_its_lettering_and_one_that_left_later_a_vehicle() -> None:
    truck = _track([(0.1 * k, _box(60 + 6 * k)) for k in range(0, 21)], id=1, reads=READ * 2, hits=2, ended=True)
    lettering = _place(0.5, 2.4)  # seen with it, gone 0.4 s after its plate
    behind = _place(1.5, 2.0 + LEFT_TOGETHER_S + 0.5)  # seen with it, left 2.5 s later: the next truck
    briefly = _place(1.9, 2.2)  # seen with it on 2 frames only
    assert left_with(lettering, truck)
    assert not left_with(behind, truck)
    assert not left_with(briefly, truck)
    elsewhere = [(0.1 * k, Box(x=400, y=60, w=64, h=16)) for k in range(0, 50)]
    assert not left_with(lettering, _track(elsewhere, id=2, reads=READ))  # still seen 2.5 s later: did not leave
    assert left_with(lettering, _track(elsewhere[:26], id=2, reads=READ))  # last seen at 2.5 s, not ended yet
    apart = [(0.1 * k, Box(x=400, y=20, w=64, h=16)) for k in range(0, 16)]  # gone 2.5 s before `behind`
    assert not left_with(behind, _track(apart, id=3, reads=READ, ended=True))
    on_it = apart[:-1] + [(1.5, behind.path[0][1])]  # ... but on the place's box on one frame: that plate's line
    assert left_with(behind, _track(on_it, id=3, reads=READ, ended=True))

    # a vehicle: read and confirmed, or in view at start-up; a single read made no passage
    assert vehicle(_track(elsewhere, id=4, reads=READ * 2, hits=2)) and vehicle(_track(elsewhere, id=5, startup=True))
    assert not vehicle(_track(elsewhere, id=6, reads=READ)) and not vehicle(_place(0.0, 1.0))

    judge = UnreadJudge()
    judge.add(lettering, [truck])
    judge.add(behind, [truck])
    judge.add(_place(0.0, 1.0, moved=False), [])  # not a candidate: never judged
    assert judge.due(lettering.last_seen + timedelta(seconds=1)) == []  # too early to tell
    assert judge.due(behind.last_seen + timedelta(seconds=LEFT_TOGETHER_S + 0.1)) == [behind]
    assert behind.unread_passage and not lettering.unread_passage and judge.waiting == []
    judge.add(briefly, [truck])
    assert judge.due(None) == [briefly]  # end of input: everything left is judged


def test_a_lone_unread_truck_in_an_empty_lane_keeps_its_one_occupancy_passage(monkeypatch) -> None:
    """Occupancy opened a passage for it already: the place it leaves is not a second vehicle."""
    from edge.lane.tracks import PlateTracker

    lone = [Truck(4, motion(100, 20))]
    done = _run(lone, 100, DirtyPlates({4}))
    assert [(d.trigger_source, plates([d])) for d in done] == [("occupancy", [None])]
    hold = PlateTracker.hold_places  # the same run with places never marked as covered: one truck, two passages
    monkeypatch.setattr(PlateTracker, "hold_places", lambda self, ts, img, boxes, startup=True, covered=False:
                        hold(self, ts, img, boxes, startup, False))
    assert [d.trigger_source for d in _run(lone, 100, DirtyPlates({4}))] == ["occupancy", "track"]


def test_ended_places_and_their_frames_are_not_kept_for_ever() -> None:
    """Places keep the frame where they were seen largest; ended ones are forgotten after the recall window even
    when no plate is read for hours (they once piled up until the next read)."""
    from edge.lane.tracks import PlateTracker

    tr = PlateTracker()
    img = draw([Truck(3, [20.0])], 0)
    for k in range(200):  # a plate-shaped line found and lost again every 2 s, never read
        ts = T0 + timedelta(seconds=2 * k)
        tr.hold_places(ts, img, [Box(x=130, y=100, w=PLATE_W, h=PLATE_H)], False)
        tr.expire(ts + timedelta(seconds=1.5))
    assert len(tr.recent()) <= 3


def test_a_vehicle_never_read_that_leaves_just_before_the_footage_ends_is_still_judged() -> None:
    """The judgement waits LEFT_TOGETHER_S after a place leaves; at the end of input every waiting place is judged."""
    done = _run(QUEUE, 90, DirtyPlates({5}))  # truck 5's plate leaves the frame at ≈ 8.2 s, the footage ends at 9 s
    assert plates(done) == ["29C12343", "29C12344", None]
    assert vote_draft(done[-1]).plate.reason == NEVER_READ


def test_a_plate_shaped_line_outside_the_trigger_zone_is_no_place() -> None:
    from edge.lane.tracks import PlateTracker

    img = draw([Truck(3, [20.0])], 0)
    box = Box(x=130, y=100, w=PLATE_W, h=PLATE_H)  # centre (160, 108) of a 320 × 180 frame
    assert PlateTracker().hold_places(T0, img, [box], False) == 1
    left_half = [[0, 0], [0.45, 0], [0.45, 1], [0, 1]]
    assert PlateTracker(zone=left_half).hold_places(T0, img, [box], False) == 0  # the next lane's
    assert PlateTracker(zone=left_half).hold_places(T0, img, [box]) == 1  # at start-up: any plate in view
