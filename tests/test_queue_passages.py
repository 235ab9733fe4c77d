"""Passages in real traffic (issue 18): start-up with a vehicle in view, a queue that never empties, reads per
vehicle. A small drawn world drives the real LaneProcessor (occupancy, tracks, assembler): trucks come down the
frame towards the camera, the nearer one hides the one behind, and a toy plate reader finds the white plates by
thresholding and reads their bar code (number of bars → plate text). The slow test renders queue footage with the
sample generator and runs the real readers on it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.frame import Frame
from edge.config import PipelineConfig, parse_config
from edge.domain.types import Box, PlateRead
from edge.lane.occupancy import OccupancyDetector
from edge.lane.pipeline import LaneProcessor, Readers
from edge.lane.plausibility import touches_edge

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
W, H = 320, 180
PLATE_W, PLATE_H = 60, 16


def _road() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = np.full((H, W, 3), 95, np.uint8)
    img += rng.integers(0, 8, img.shape, dtype=np.uint8)
    cv2.line(img, (40, 0), (40, H), (200, 200, 200), 2)
    cv2.line(img, (280, 0), (280, H), (200, 200, 200), 2)
    return img


ROAD = _road()


@dataclass
class Truck:
    bars: int  # the plate's code: this many black bars
    y_at: list[float]  # the truck face's top edge (pixels) per frame; nan: not on the road

    @property
    def text(self) -> str:
        return f"29C{12340 + self.bars}"


def draw(trucks: list[Truck], k: int) -> np.ndarray:
    img = ROAD.copy()
    # far (higher up) first, so the nearer truck hides the one behind it
    for t in sorted((t for t in trucks if not np.isnan(t.y_at[k])), key=lambda t: t.y_at[k]):
        y = int(round(t.y_at[k]))
        shade = 40 + 25 * (t.bars % 5)
        cv2.rectangle(img, (60, y), (260, y + 110), (shade, 170, 210), -1)
        cv2.rectangle(img, (70, y + 8), (250, y + 40), (30, 30, 30), -1)  # windscreen
        px, py = 130, y + 80
        cv2.rectangle(img, (px, py), (px + PLATE_W, py + PLATE_H), (255, 255, 255), -1)
        for b in range(t.bars):
            x = px + 6 + b * 8
            cv2.rectangle(img, (x, py + 3), (x + 3, py + PLATE_H - 4), (0, 0, 0), -1)
    return img


class ToyPlateReader:
    """White plate-sized blobs → their bar count → a VN plate text. Cut plates are returned too (with the box
    at the frame edge): the pipeline, not the reader, must know a cut plate is not a whole one."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.frame = -1

    def read_all(self, image: np.ndarray) -> list[PlateRead]:
        self.calls.append(self.frame)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        n, labels, stats, _ = cv2.connectedComponentsWithStats((grey > 240).astype(np.uint8))
        out = []
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if w < 30 or h < 6:
                continue
            band = grey[y + h // 2, x:x + w] < 60
            bars = int(np.count_nonzero(band[1:] & ~band[:-1]))
            if bars:
                out.append(PlateRead(text=f"29C{12340 + bars}", display=None, country="VN", format="vn_truck",
                                     confidence=0.97, box=Box(x=x, y=y, w=w, h=h), raw=f"29C-{12340 + bars}"))
        return out or [PlateRead(reason="no_text")]

    def read(self, image: np.ndarray) -> PlateRead:
        return self.read_all(image)[0]


def lane(frames: int, cfg: dict | None = None, reader: ToyPlateReader | None = None) -> LaneProcessor:
    conf = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}],
                         "cameras": [{"name": "p", "source": "x", "role": "plate", "lane": "in1"}]})
    return LaneProcessor("in1", conf.cameras, Readers(plate=reader), PipelineConfig(**(cfg or {})))


def run(trucks: list[Truck], frames: int, cfg: dict | None = None):
    reader = ToyPlateReader()
    proc = lane(frames, cfg, reader)
    done = []
    for k in range(frames):
        reader.frame = k
        f = Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10, draw(trucks, k))
        done += proc.process(f)
    done += proc.finish()
    return done, reader, proc


def motion(frames: int, start: int, y0: float = -110.0, speed: float = 6.0, stand: tuple[int, int] | None = None,
           ) -> list[float]:
    """Top edge per frame: enters at `start` from above the frame, `speed` px a frame, optionally standing still
    for frames [a, b) (a < start means: already standing there at frame 0)."""
    ys, y = [], y0
    for k in range(frames):
        if k < start and not (stand and stand[0] <= k):
            ys.append(float("nan"))
            continue
        if stand and stand[0] <= k < stand[1]:
            ys.append(y)
            continue
        ys.append(y if y < H else float("nan"))
        y += speed
    return ys


def plates(done) -> list[str | None]:
    from edge.decision.voting import vote_plate

    out = []
    for d in done:
        v = vote_plate(d.plates)
        out.append(v.read.text if v else None)
    return out


# -- start-up ---------------------------------------------------------------------------------------------------


def test_startup_with_a_truck_in_view_makes_no_passage_and_learns_the_empty_lane_after_it_left() -> None:
    # Truck 3 stands in the lane when the daemon starts (plate fully in view), then drives off; the lane is empty
    # for a while; truck 5 comes through.
    standing = motion(120, 0, y0=20.0, speed=6.0, stand=(0, 20))
    later = motion(120, 60)
    trucks = [Truck(3, standing), Truck(5, later)]
    done, reader, proc = run(trucks, 120)
    assert plates(done) == ["29C12345"]  # no passage for the truck that was there before the start
    assert 0 in reader.calls  # the first frame was looked at
    occ = proc._occ["p"]
    assert occ.ready
    # the background is the empty road, not the truck that stood there at the start
    assert occ.update(ROAD) < 0.01
    assert occ.update(draw([Truck(3, [20.0])], 0)) > 0.2


class GatedReader(ToyPlateReader):
    """The toy reader with the plate gate's cheap look (`find_plates`: plate-sized white blobs) and zone reads; a
    plate it cannot read until frame `readable_from` (dirty, too small) is still found by the look."""

    def __init__(self, readable_from: int = 0) -> None:
        super().__init__()
        self.readable_from = readable_from

    def find_plates(self, image: np.ndarray) -> list[Box]:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        n, _, stats, _ = cv2.connectedComponentsWithStats((grey > 240).astype(np.uint8))
        return [Box(x=int(x), y=int(y), w=int(w), h=int(h)) for x, y, w, h, _ in stats[1:] if w >= 30 and h >= 6]

    def read_all(self, image: np.ndarray, zone: Box | None = None) -> list[PlateRead]:
        if self.frame < self.readable_from:
            self.calls.append(self.frame)
            return [PlateRead(reason="no_text")]
        return super().read_all(image)


def run_with(reader: ToyPlateReader, trucks: list[Truck], frames: int, cfg: dict | None = None):
    proc = lane(frames, cfg, reader)
    done = []
    for k in range(frames):
        reader.frame = k
        done += proc.process(Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10, draw(trucks, k)))
    return done + proc.finish(), proc


def test_a_truck_in_view_at_startup_whose_plate_is_read_only_once_it_moves_makes_no_passage(monkeypatch) -> None:
    """The start-up look finds a plate-shaped line it cannot read: that place is held as a start-up vehicle's
    (followed, not read, like a settled plate), so when the truck moves on and its plate would be readable it is
    still the vehicle that was there before the start. Without the held place it was a new vehicle with a passage
    (queues of real photos)."""
    from edge.lane.tracks import PlateTracker

    standing = motion(120, 0, y0=20.0, speed=6.0, stand=(0, 20))
    trucks = [Truck(3, standing), Truck(5, motion(120, 60))]
    held: list[int] = []
    hold = PlateTracker.hold_places
    monkeypatch.setattr(PlateTracker, "hold_places",
                        lambda self, *a, **k: held.append(hold(self, *a, **k)) or held[-1])
    done, _ = run_with(GatedReader(readable_from=22), trucks, 120)
    assert plates(done) == ["29C12345"] and held[0] == 1  # the start-up look's place
    # the same start without holding the place: truck 3, read once it moved, was a new vehicle
    monkeypatch.setattr(PlateTracker, "hold_places", lambda self, *a, **k: 0)
    done_before, _ = run_with(GatedReader(readable_from=22), trucks, 120)
    assert plates(done_before) == ["29C12343", "29C12345"]


def test_a_start_up_place_that_cannot_be_followed_is_dropped_and_takes_no_later_plate() -> None:
    """A plate-shaped place held at start-up is dropped once it cannot be followed (it was gone, or was never a
    plate) and after PLACE_HOLD_S at most, so a later vehicle's plate there is a vehicle of its own."""
    from edge.lane.tracks import PLACE_HOLD_S, PlateTracker

    box = Box(x=130, y=100, w=PLATE_W, h=PLATE_H)
    truck = draw([Truck(3, [20.0])], 0)
    tr = PlateTracker()
    assert tr.hold_places(T0, truck, [box]) == 1
    (place,) = tr.live()
    assert place.startup and place.place_only and place.settled
    tr.follow(T0 + timedelta(seconds=0.1), truck)
    assert not place.ended  # the plate is still there
    tr.follow(T0 + timedelta(seconds=0.2), ROAD)  # gone: nothing like it around the place
    assert place.ended
    tr2 = PlateTracker(lost_s=100.0)
    tr2.hold_places(T0, truck, [box])
    (still,) = tr2.live()
    tr2.expire(T0 + timedelta(seconds=PLACE_HOLD_S + 0.1))
    assert still.ended
    tr2.expire(T0 + timedelta(seconds=PLACE_HOLD_S + 0.2))
    tr2.observe(T0 + timedelta(seconds=PLACE_HOLD_S + 0.2), truck,
                [PlateRead(text="29C12343", country="VN", format="vn_truck", confidence=0.97, box=box)])
    (new,) = tr2.live()
    assert new is not still and not new.startup


def test_startup_background_from_the_first_frame_was_the_old_bug() -> None:
    """What the old policy did with the same start: the first frame (the truck) became the empty lane."""
    standing = motion(120, 0, y0=20.0, speed=6.0, stand=(0, 20))
    old = OccupancyDetector(present_above=0.03, warmup_samples=1)
    new = OccupancyDetector(present_above=0.03, warmup_samples=5)
    new.hold = True  # the pipeline holds it while the plate of a truck in view is tracked
    old_fracs, new_ready = [], []
    for k in range(40):
        img = draw([Truck(3, standing)], k)
        old_fracs.append(old.update(img))
        new.update(img)
        new_ready.append(new.ready)
    assert old.ready and max(old_fracs[25:]) > 0.03  # the empty road differs from the "empty lane": a ghost
    assert not any(new_ready)  # held: nothing learnt while the truck is known to be in view


def test_a_still_scene_is_learnt_over_spaced_samples_and_a_ghost_is_absorbed() -> None:
    occ = OccupancyDetector(present_above=0.03, sample_every=2, warmup_samples=5, absorb_still_samples=5)
    truck = draw([Truck(3, [20.0])], 0)
    for k in range(8):  # a parked truck, unknown to the caller: learnt as the lane (it cannot tell)
        occ.update(truck)
        assert occ.ready == (k >= 8)  # five still samples two frames apart: frames 0..8
    occ.update(truck)
    assert occ.ready
    fracs = [occ.update(ROAD) for _ in range(14)]  # it drives off: the road shows through, still
    assert fracs[0] > 0.2  # a ghost at first ...
    assert fracs[-1] < 0.01  # ... learnt once it stayed still for five samples


# -- queues -----------------------------------------------------------------------------------------------------


def queue(n: int, frames: int, gap: int = 17) -> list[Truck]:
    """`n` trucks, the first standing in view at the start, each next one entering `gap` frames after the one
    ahead: the zone never empties."""
    trucks = [Truck(2, motion(frames, 0, y0=30.0, stand=(0, 15)))]
    for i in range(1, n):
        trucks.append(Truck(2 + i, motion(frames, 15 + gap * i)))
    return trucks


def test_queue_never_empty_gives_one_passage_per_vehicle_with_its_plate() -> None:
    trucks = queue(5, 130)
    # the zone is never empty: every frame shows a truck
    assert all(any(not np.isnan(t.y_at[k]) for t in trucks) for k in range(100))
    done, reader, proc = run(trucks, 130)
    assert plates(done) == [t.text for t in trucks[1:]]  # the start-up truck gets none, every other its own
    for d, t in zip(done, trucks[1:], strict=True):
        first = next(k for k, y in enumerate(t.y_at) if not np.isnan(y) and y + 96 > 0)  # its plate in view
        # found within a probe period of its plate coming into view (the truck ahead is followed, not read)
        assert 0 <= (d.started_at - T0).total_seconds() - first / 10 <= 0.1 * (PipelineConfig().track_probe_every_n + 2)
        assert {p.text for p in d.plates if p.text} == {t.text}  # no other vehicle's read in its passage


def test_reads_belong_to_vehicles_settled_ones_are_followed_not_read_and_a_new_one_is_read_at_once() -> None:
    trucks = queue(4, 130)
    done, reader, proc = run(trucks, 130)
    assert len(done) == 3
    per_vehicle = {t.text: [] for t in trucks}
    for k in reader.calls:
        img = draw(trucks, k)
        for r in ToyPlateReader().read_all(img):
            if r.text in per_vehicle and not touches_edge(r, (H, W)):  # the frames where its whole plate showed
                per_vehicle[r.text].append(k)
    probe = PipelineConfig().track_probe_every_n
    for t in trucks[1:]:
        in_view = [k for k in range(130) if any(r.text == t.text and not touches_edge(r, (H, W))
                                                for r in ToyPlateReader().read_all(draw(trucks, k)))]
        read = per_vehicle[t.text]
        k0 = read[0]
        assert k0 - in_view[0] <= probe + 1  # found by a probe read at the latest
        assert read[:3] == [k0, k0 + 1, k0 + 2]  # then read densely until 3 reads agree ...
        dense_others = {k for o in trucks[1:] if o is not t for k in per_vehicle[o.text][:3]}
        # ... then followed: only the probes for new vehicles, and another vehicle's dense reads, still see it
        assert all(k % probe == 0 or k in dense_others for k in read[3:])
        assert len(read) < len(in_view) / 2


def test_a_plate_change_where_a_vehicle_stood_is_a_new_vehicle_but_a_misread_is_not() -> None:
    from edge.lane.tracks import PlateTracker

    tr = PlateTracker(split_reads=3)
    img = ROAD
    box = Box(x=130, y=100, w=60, h=16)

    def read(text: str) -> PlateRead:
        return PlateRead(text=text, country="VN", format="vn_truck", confidence=0.95, box=box)

    t = T0
    for _ in range(3):
        t += timedelta(seconds=0.1)
        tr.observe(t, img, [read("29C12345")])
    (a,) = tr.live()
    for text in ("29C12845", "51F99881", "29C12345"):  # two stray misreads in between: the same car
        t += timedelta(seconds=0.1)
        tr.observe(t, img, [read(text)])
    assert tr.live() == [a] and tr.expire(t) == []
    new = []
    for _ in range(3):  # the car left and another pulled up to the same line: three reads of its plate
        t += timedelta(seconds=0.1)
        new += tr.observe(t, img, [read("51F99881")])
    ended = tr.expire(t)
    assert ended == [a] and a.end_reason == "replaced"
    assert [x.text for x in tr.live()] == ["51F99881"] and new == tr.live()


def test_reads_of_a_vehicle_that_pulled_up_where_another_stood_go_to_its_own_passage() -> None:
    """The next vehicle's plate at the place where the one before was followed: its first reads are held back
    (a misread of the old plate, or a new vehicle?). They belong to nobody yet: never to the passage still open
    for the vehicle before (found on queues of real photos, smartgate_tools.bench.photo_clips: two reads of the
    next car outvoted the one read that passage had kept of its own plate), and once they make a vehicle they
    are its reads."""
    a = motion(100, 5, stand=(25, 45))  # drives in, stands ...
    a = [y if k < 45 else float("nan") for k, y in enumerate(a)]  # ... and is gone at frame 45
    y_stop = a[30]
    b = [float("nan")] * 45 + [y_stop] * 20 + motion(35, 0, y0=y_stop)  # pulls up where it stood, then drives on
    reader = FleetReader()
    proc = lane(100, None, reader)
    done = []
    for k in range(100):
        reader.frame = k
        done += proc.process(Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10,
                                   draw([Truck(4, a), Truck(6, b)], k)))
    done += proc.finish()
    assert plates(done) == ["29C12344", "51F99886"]
    first, second = done
    assert {p.text for p in first.plates if p.text} == {"29C12344"}  # no read of the car behind it
    # the reads that made the second car a vehicle (held back at the first one's place) are in its passage
    assert sum(p.text == "51F99886" for p in second.plates) >= proc.cfg.track_split_reads


class FleetReader(ToyPlateReader):
    """Plates of two fleets: six bars read as 51F99886 (a text unlike 29C1234x, so not a misread of one)."""

    def read_all(self, image: np.ndarray) -> list[PlateRead]:
        reads = super().read_all(image)
        return [r.model_copy(update={"text": "51F99886"}) if r.text == "29C12346" else r for r in reads]


def test_a_lost_plate_is_not_taken_over_by_a_similar_plate_of_the_next_vehicle() -> None:
    """Plates of one district share their first characters (RK082AL, RK069AV: Jaro-Winkler 0.8). Where a lost
    vehicle's plate was, such a text is another vehicle (held back, then its own track), while a read one edit
    from the lost plate is still its misread."""
    from edge.lane.tracks import PlateTracker, Track

    box = Box(x=130, y=90, w=PLATE_W, h=PLATE_H)
    clock = [T0]

    def observe(tr: PlateTracker, text: str) -> None:
        clock[0] += timedelta(seconds=0.1)
        tr.observe(clock[0], ROAD, [PlateRead(text=text, country=None, format="generic", confidence=0.97, box=box)])

    def lost_track() -> tuple[PlateTracker, Track]:
        tr = PlateTracker(split_reads=3)
        for _ in range(3):
            observe(tr, "RK082AL")
        (t,) = tr.live()
        t.lost = True
        return tr, t

    tr, old = lost_track()
    observe(tr, "RK069AV")
    assert [r.text for r in old.reads] == ["RK082AL"] * 3 and [r.text for r in tr.held()] == ["RK069AV"]
    observe(tr, "RK069AV")
    observe(tr, "RK069AV")
    assert old.ended and [x.text for x in tr.live()] == ["RK069AV"]
    tr2, again = lost_track()
    observe(tr2, "RK082AI")  # one edit: the lost plate read again, misread
    assert again.reads[-1].text == "RK082AI" and not again.lost


def test_following_stops_when_the_match_falls_sharply_instead_of_following_what_took_the_plates_place() -> None:
    """The followed plate is gone and another car's face is where it was: the template still matches that above
    `follow_min`, but far worse than it matched the plate. The track is lost (read again), not moved onto the other
    car: following it would hold the first vehicle's passage open over the next one (merged into one)."""
    from edge.lane.tracks import FOLLOW_KEEP, PlateTracker

    tr = PlateTracker()
    box = Box(x=130, y=90, w=PLATE_W, h=PLATE_H)
    first, other = draw([Truck(4, [10.0])], 0), draw([Truck(6, [10.0])], 0)
    t = T0
    for _ in range(3):
        t += timedelta(seconds=0.1)
        tr.observe(t, first, [PlateRead(text="29C12344", country="VN", format="vn_truck", confidence=0.97,
                                        box=box)])
    (track,) = tr.live()
    track.settled = True
    t += timedelta(seconds=0.1)
    tr.follow(t, first)
    assert not track.lost and track.follow_score is not None and track.follow_score > 0.95
    grey = cv2.cvtColor(other, cv2.COLOR_BGR2GRAY)
    tpl = track.template
    assert tpl is not None
    score = float(cv2.matchTemplate(grey, tpl, cv2.TM_CCOEFF_NORMED).max())
    assert tr.follow_min <= score < FOLLOW_KEEP * track.follow_score  # what the old rule accepted
    t += timedelta(seconds=0.1)
    tr.follow(t, other)
    assert track.lost


def test_a_plate_read_only_by_the_generic_grammar_is_read_on_until_twice_as_many_reads_agree() -> None:
    """A small CN plate whose province glyph is not seen yet reads as a foreign plate (MAS9V79 for 川AS9V79): three
    such reads must not stop reading the vehicle, or its national reading, once the plate is nearer, never comes."""
    from edge.lane.cadence import settled_text
    from edge.lane.tracks import Track

    box = Box(x=130, y=90, w=PLATE_W, h=PLATE_H)

    def track(*texts: str) -> Track:
        reads = [PlateRead(text=x, country="CN" if ord(x[0]) > 0x2E7F else None,
                           format="cn_ordinary" if ord(x[0]) > 0x2E7F else "generic", confidence=0.97, box=box)
                 for x in texts]
        return Track(id=1, first_seen=T0, last_seen=T0, box=box, reads=reads, hits=len(reads))

    assert not settled_text(track("MAS9V79", "MAS9V79", "MAS9V79"), 3, 0.9)
    assert settled_text(track(*["MAS9V79"] * 6), 3, 0.9)  # a foreign plate after all
    assert settled_text(track("MAS9V79", "MAS9V79", "川AS9V79", "川AS9V79", "川AS9V79"), 3, 0.9)
    assert settled_text(track("川AS9V79", "川AS9V79", "川AS9V79"), 3, 0.9)
    assert not settled_text(track("川AS9V79", "川AS9V79", "川AS9V79"), 0, 0.9)  # enough_reads 0: read every frame


def test_a_vehicle_crossing_the_exit_line_closes_its_passage_at_once() -> None:
    trucks = [Truck(4, motion(80, 5)), Truck(6, motion(80, 40))]
    conf = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}],
                         "cameras": [{"name": "p", "source": "x", "role": "plate", "lane": "in1",
                                      "exit_line": [[0.0, 0.6], [1.0, 0.6]]}]})
    reader = ToyPlateReader()
    proc = LaneProcessor("in1", conf.cameras, Readers(plate=reader), PipelineConfig())
    closed, done = {}, []
    for k in range(80):
        reader.frame = k
        done += proc.process(Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10,
                                   draw(trucks, k)))
        for d in proc.assembler._closing:
            closed.setdefault(d.track_id, k)
    done += proc.finish()  # and its plate, still in view below the line, makes no second passage
    assert plates(done) == ["29C12344", "29C12346"]
    # the plate's centre (88 px below the truck's top edge) passes y = 108, 0.6 of the frame height
    crossing = next(k for k in range(80) if trucks[0].y_at[k] + 88 > 108)
    assert closed[done[0].track_id] == crossing  # closed on the frame it crossed, not track_lost_s later


def test_a_vehicle_leaving_the_trigger_zone_has_left() -> None:
    from edge.lane.tracks import PlateTracker

    tr = PlateTracker(zone=[[0.0, 0.0], [1.0, 0.0], [1.0, 0.5], [0.0, 0.5]])  # the upper half of the frame
    t = T0
    for y in (20, 40, 60, 80, 100):  # the plate comes down; the zone ends at y = 90
        t += timedelta(seconds=0.1)
        tr.observe(t, ROAD, [PlateRead(text="29C12345", country="VN", format="vn_truck", confidence=0.95,
                                       box=Box(x=130, y=y, w=60, h=16))])
        ended = tr.expire(t)
        assert (ended == []) == (y + 8 < 90)
    assert ended[0].end_reason == "left_zone"


def test_a_plate_cut_by_the_frame_edge_is_not_read_as_a_whole_plate() -> None:
    # the plate slides out at the bottom: the toy reader still returns the cut blob, the pipeline drops it
    trucks = [Truck(4, motion(60, 5, speed=8.0))]
    done, reader, proc = run(trucks, 60, {"enough_reads": 0})
    assert plates(done) == ["29C12344"]
    cut = [p for d in done for p in d.plates if p.reason == "cut_by_image_edge"]
    assert cut, "the frames with the plate at the edge should have given no-reads"
    assert all(p.text in (None, "29C12344") for d in done for p in d.plates)


def test_external_trigger_still_decides_and_takes_the_vehicle() -> None:
    trucks = [Truck(4, motion(80, 10))]
    reader = ToyPlateReader()
    proc = lane(80, None, reader)
    done = []
    for k in range(80):
        reader.frame = k
        if k == 2:
            proc.trigger("start", "IGV-7")
        if k == 70:
            proc.trigger("end")
        done += proc.process(Frame("p", "plate", "in1", k, T0 + timedelta(seconds=k / 10), k / 10,
                                   draw(trucks, k)))
    done += proc.finish()
    assert len(done) == 1 and done[0].vehicle_id == "IGV-7" and done[0].trigger_source == "external"
    assert plates(done) == ["29C12344"]
    assert (done[0].ended_at - T0).total_seconds() == pytest.approx(7.0)


# -- the sample generator's queue footage, real readers -----------------------------------------------------------


@pytest.mark.slow
def test_rendered_queue_footage_one_passage_per_vehicle_with_the_right_plate() -> None:
    from cameras.factory import open_source
    from data_samples.generate import generate
    from edge.config import load_config
    from edge.lane.frames import merged_frames
    from edge.readers.factory import build_readers
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.bench.footage import load_samples, samples_config

    out = REPO / "var" / "clips"
    truth_path = out / "queue" / "in1" / "truth.json"
    if not truth_path.is_file():
        generate(out, seed=7, sets=("queue",), show_progress=False)
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    lanes = load_samples(out / "queue")
    cfg = samples_config(lanes, 2, load_config(REPO / "data_samples" / "queue.yaml"))
    readers = build_readers(cfg, OcrEngine(threads=2))
    cams = [c for c in cfg.cameras if c.role == "plate"]  # the plate camera decides passages
    proc = LaneProcessor("in1", cams, Readers(plate=readers.plate), cfg.pipeline)
    done = []
    for f in merged_frames([open_source(c) for c in cams], threading.Event()):
        done += proc.process(f)
    done += proc.finish()
    want = [p for p in truth["passages"] if not p["at_startup"]]
    assert any(p["at_startup"] for p in truth["passages"])
    assert plates(done) == [p["plate"] for p in want]
    start = datetime.fromisoformat(truth["start_time"].replace("Z", "+00:00"))
    for d, p in zip(done, want, strict=True):
        seen = p["camera_visible_s"]["plate"]
        assert seen[0] - 0.5 <= (d.started_at - start).total_seconds() <= seen[1]


def test_box_iou_is_overlap_over_union_and_zero_apart() -> None:
    from edge.domain.types import Box

    a, b = Box(x=0, y=0, w=10, h=10), Box(x=5, y=0, w=10, h=10)
    assert a.iou(b) == pytest.approx(50 / 150) == b.iou(a)
    assert a.iou(a) == 1.0
    assert a.iou(Box(x=10, y=0, w=5, h=5)) == 0.0  # touching edges share no pixel
