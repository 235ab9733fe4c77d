"""How a lane's frames become passages (the `pipeline:` section of the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.domain.settings import StrictModel


class PipelineConfig(StrictModel):
    """How frames become passages."""

    read_every_n: int = Field(1, ge=1, description="run the readers on every Nth frame of a camera")
    container_every_n: int = Field(
        2, ge=1, description="read container codes on every Nth read frame (a code stays in view for seconds; "
        "a plate may not, so plates are read on every frame)"
    )
    enough_reads: int = Field(
        3, ge=0, description="stop reading a passage's plate (classifying its cargo) once this many confident reads "
        "agree; more frames would not change the vote (0: read every frame)"
    )
    cargo_text_every_n: int = Field(
        3, ge=1, description="OCR the cargo view for keywords on every Nth read frame (text detection is costly)"
    )
    motion_threshold: float = Field(
        0.03, ge=0, le=1, description="fraction of the zone that differs from the empty lane to count as a vehicle"
    )
    passage_gap_s: float = Field(0.5, gt=0, description="seconds with an empty trigger zone that close a passage")
    post_s: float = Field(
        2.0, ge=0, description="at most this many seconds the other cameras keep adding reads after a passage closes"
    )
    release_empty_s: float | None = Field(
        0.3, ge=0, description="decide once every camera of the lane has seen an empty zone this long, before "
        "post_s is over (the truck is gone: no read can come); null: always wait post_s"
    )
    max_passage_s: float = Field(120.0, gt=0)
    hazard_every_n: int = Field(
        2, ge=1, description="look for ADR panels on every Nth read frame of the plate and container cameras "
        "(a panel stays in view for seconds)"
    )
    cargo_every_n: int = Field(
        1, ge=1, description="classify the cargo on every Nth read frame of the cargo camera"
    )
    confirm_reads: int = Field(
        2, ge=0, description="a container code, ADR panel or cargo keyword read this many times in a passage is "
        "confirmed; while everything a reader has found is confirmed, it reads only every confirmed_every_n "
        "frames (0: never sparse)"
    )
    confirmed_every_n: int = Field(
        6, ge=1, description="cadence in frames of the container, hazard and cargo-text readers once their finds "
        "are confirmed (a new find makes them dense again); a multiple of their own cadences keeps them aligned"
    )
    empty_reads: int = Field(
        3, ge=0, description="a container, hazard or cargo-text reader whose last this many reads of a passage on a "
        "camera found nothing (not even an unverified code) reads that camera only every confirmed_every_n frames "
        "until it finds something (a code or panel stays in view for seconds); 0: off"
    )
    empty_reads_for: list[Literal["container", "hazard", "cargo_text", "cargo"]] = Field(
        default_factory=lambda: ["hazard", "cargo_text", "cargo"], description="the readers empty_reads applies to. The "
        "container camera is left out by default: a code can be readable on a single frame of a passing truck "
        "(the sample footage has one), so its camera keeps container_every_n and uses container_gate instead; "
        "cargo: classifications that abstain (unknown) find nothing, a class is a find"
    )
    container_gate: bool = Field(
        True, description="before a full container read, run the text detector alone on a copy at 2/3 of "
        "container_det_max_side and read "
        "only when it finds a text line that was not at that place, with those pixels, on the camera's last look "
        "(the lane's own signs do not count): the cab, a tarpaulin or an open deck costs a detection, not a read"
    )
    container_gate_words: bool = Field(
        True, description="the container gate also reads its new lines (the recogniser alone) and opens the full "
        "read only for a line that may be part of a code: a tall strip, a digit, an owner code, or too short to "
        "tell. Livery words and names on a passing truck (COSCO, VẬN TẢI HÀ GIANG, 中远) move, so the detector "
        "alone sees them as new on every frame. On 220 real container photos it hid no code the reader reads "
        "beyond the 2 the detector-only gate already misses (smartgate_tools.experiments.gate_words_check)"
    )
    container_screen: bool = Field(
        True, description="the container reader first reads every text box with a fast recogniser "
        "(PP-OCRv6-tiny's, about a quarter of the cost); where those lines give verified codes, the main recogniser "
        "reads only the lines at and around them and the codes stand only if it reads them too; otherwise every "
        "box is read as without it. The container gate's word cue uses the fast recogniser too"
    )
    cargo_text_gate: bool = Field(
        False, description="the same gate before a cargo-text read (at 2/3 of the cargo-text reader's detector "
        "size): a coal heap, a tank or a closed roof shows no new text"
    )
    novelty_threshold: float = Field(
        1.0, ge=0, description="a reader skips a camera's frame that differs from the last frame it read there "
        "by less than this mean grey level (0-255, on a 64×36 thumbnail): a stopped truck shows the same plate "
        "and code; 0: read every frame"
    )
    plate_det_max_side: int | None = Field(
        None, ge=160, le=4096, description="long side (px) of the plate reader's text detector input; "
        "null: the reader's default (960). Smaller is faster where plates are large in the frame"
    )
    container_det_max_side: int | None = Field(
        None, ge=160, le=4096, description="long side (px) of the container reader's text detector input; "
        "null: the reader's default (960). Smaller is faster where the code text is large in the frame"
    )
    container_retry_max_side: int | None = Field(
        None, ge=160, le=4096, description="long side (px) of a second, larger text detection of a container "
        "frame (a smaller frame is enlarged to it) where no code verified but a piece of one was seen (small "
        "stacked glyphs of a vertical code), or a piece of another code beside a verified one; null: off, the next "
        "frame of the truck is the second chance (single photos use 1280)"
    )
    # Vehicle-level segmentation (issue 18, edge/lane/tracks.py): a passage follows a vehicle, not the zone.
    warmup_s: float = Field(
        0.5, ge=0, le=60, description="start-up: the empty lane is learnt from frames spaced over this many seconds "
        "of a still scene with no plate in view (not from the first frame); until then occupancy opens no "
        "passage, and a vehicle whose plate is read within this time of the start was in view at start-up and "
        "gets no passage (a restart must not make a bogus or duplicate one). 0: the first frame is the lane"
    )
    track_vehicles: bool = Field(
        True, description="follow vehicles by their plate boxes on the trigger camera: each vehicle gets its own "
        "passage, closed when it leaves (exit line, frame edge, or track_lost_s unseen), also in a queue where "
        "the zone never empties; occupancy stays the fallback for a single vehicle in an empty lane"
    )
    unread_vehicles: bool = Field(
        True, description="a plate-shaped line the plate gate keeps finding, that moves through the lane and leaves "
        "without a plate read (and not with a read vehicle) is a vehicle never read: it gets its own passage, its "
        "plate a never_read no-read (flagged plate_unread), so no truck passes unrecorded (edge/lane/unread.py)"
    )
    track_lost_s: float = Field(
        1.0, gt=0, le=30, description="a vehicle track not seen (read or followed) for this long has left"
    )
    track_split_reads: int = Field(
        3, ge=2, le=20, description="this many reads in a row of another plate text where a vehicle stood make a "
        "new vehicle (a car pulled up where the one before stood); fewer are misreads of the old plate"
    )
    track_probe_every_n: int = Field(
        5, ge=0, description="while every vehicle in view is settled and followed (no plate reads), read the "
        "trigger camera on every Nth frame anyway to find a vehicle that came into view behind or beside them "
        "(0: only once the followed ones have left)"
    )
    search_every_n: int = Field(
        2, ge=1, description="while no vehicle is known in view of the trigger camera (a truck approaching before "
        "its plate is readable, a zone still busy after the last vehicle left), look for a plate (plate_gate) on "
        "every Nth frame; a vehicle once found is read densely"
    )
    plate_gate: bool = Field(
        True, description="before a full plate read that no unsettled vehicle asks for (an approaching truck, a "
        "lane being searched, a probe), run the text detector alone on a small copy and read only when it finds "
        "a plate-shaped line that is not a plate already followed"
    )
    handover_s: float = Field(
        1.0, ge=0, le=30, description="reads of the other cameras go to a passage that closed less than this many "
        "seconds before (its body still passes the side and top cameras) rather than to the next vehicle's"
    )
    absorb_still_s: float | None = Field(
        30.0, gt=0, description="a zone that looks occupied but has been perfectly still this long with no vehicle "
        "known in view is learnt as the empty lane (a background learnt with a vehicle in it); null: never"
    )
