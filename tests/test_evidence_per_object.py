"""One evidence file per object (issue 18): a passage with two containers keeps both images, whether the sink passes
the object key (file named after the code) or not (the second file gets its own name; nothing is overwritten)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from edge.decision.finalize import evidence_images, vote_draft
from edge.domain.types import ContainerRead
from edge.lane.passage import PassageAssembler
from edge.storage.evidence import EvidenceStore

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _frame(v: int) -> np.ndarray:
    img = np.full((120, 200, 3), v, np.uint8)
    cv2.putText(img, str(v), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255 - v,) * 3, 3)
    return img


def _two_container_passage():
    a = PassageAssembler("in1", gap_s=0.2, post_s=0.0)
    for i in range(3):
        a.on_trigger(T0 + timedelta(seconds=i / 10), True)
    a.add_containers(T0, "side", [ContainerRead(code="TGHU1614802", check_digit_ok=True, confidence=0.9)], _frame(40))
    a.add_containers(T0 + timedelta(seconds=1), "side",
                     [ContainerRead(code="HLXU7787395", check_digit_ok=True, confidence=0.9)], _frame(200))
    return a.finish()[0]


def test_each_container_code_gets_its_own_evidence_file(tmp_path) -> None:
    draft = _two_container_passage()
    images = [i for i in evidence_images(draft, vote_draft(draft)) if i.kind == "container"]
    assert sorted(i.key for i in images) == ["HLXU7787395", "TGHU1614802"]
    store = EvidenceStore(tmp_path / "keyed")
    saved = [store.save(i.image, i.kind, i.camera, "p1", i.frame_time, key=i.key) for i in images]
    names = sorted(e.path.rsplit("/", 1)[1] for e in saved)
    assert names == ["container-side-HLXU7787395.jpg", "container-side-TGHU1614802.jpg"]
    # each file shows its own frame
    got = {e.path.rsplit("-", 1)[1]: int(cv2.imread(str(store.resolve(e.path)))[60, 5, 0]) for e in saved}
    assert abs(got["TGHU1614802.jpg"] - 40) < 6 and abs(got["HLXU7787395.jpg"] - 200) < 6
    # a sink that does not pass the key still loses nothing: the second image gets its own name
    plain = EvidenceStore(tmp_path / "plain")
    paths = [plain.save(i.image, i.kind, i.camera, "p1", i.frame_time).path for i in images]
    assert len(set(paths)) == 2 and all(plain.resolve(p).is_file() for p in paths)
