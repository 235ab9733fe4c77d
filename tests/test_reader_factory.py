"""Config → readers: the detector-size settings reach the readers (the daemon and the bench share this)."""

from edge.config import Config
from edge.readers.factory import build_readers

BASE = {
    "gate": {"id": "g"},
    "lanes": [{"id": "in1", "direction": "import"}],
    "cameras": [
        {"name": "p", "source": "x.mp4", "role": "plate", "lane": "in1"},
        {"name": "c", "source": "y.mp4", "role": "container", "lane": "in1"},
    ],
}


def test_detector_sizes_from_the_pipeline_settings():
    cfg = Config.model_validate({**BASE, "pipeline": {"plate_det_max_side": 512, "container_det_max_side": 640}})
    readers = build_readers(cfg)
    assert readers.plate is not None and readers.plate.max_side == 512
    assert readers.container is not None and readers.container.det_max_side == 640
    assert readers.cargo is None and readers.hazard is not None  # no cargo camera, ADR panels on plate/container


def test_detector_sizes_default_to_the_readers_own():
    readers = build_readers(Config.model_validate(BASE))
    assert readers.plate is not None and readers.plate.max_side == 960
    assert readers.container is not None and readers.container.det_max_side == 960


def test_plate_countries_limit_the_grammars_the_reader_answers_with():
    import cv2
    import numpy as np
    import pytest

    from edge.config import ConfigError, parse_config

    every = build_readers(Config.model_validate(BASE)).plate
    assert any(f.startswith("eu_") for f in every.formats) and any(f.startswith("vn_") for f in every.formats)
    gate = build_readers(Config.model_validate({**BASE, "ocr": {"plate_countries": ["CN", "VN"]}})).plate
    assert gate.formats and all(f.startswith(("vn_", "cn_")) for f in gate.formats)
    # a foreign plate is then a no-read, a VN plate still reads
    img = np.full((130, 600, 3), 235, np.uint8)
    cv2.putText(img, "BA-302OZ", (25, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (10, 10, 10), 6, cv2.LINE_AA)
    assert every.read(img).text == "BA302OZ" and not gate.read(img).ok
    img = np.full((130, 560, 3), 235, np.uint8)
    cv2.putText(img, "51F-882.70", (25, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (10, 10, 10), 6, cv2.LINE_AA)
    assert gate.read(img).text == "51F88270"
    with pytest.raises(ConfigError, match="ocr.plate_countries"):
        parse_config({**BASE, "ocr": {"plate_countries": []}})
    with pytest.raises(ConfigError, match="ocr.plate_countries"):
        parse_config({**BASE, "ocr": {"plate_countries": ["DE"]}})


def test_the_recogniser_veto_is_on_by_default_and_can_be_turned_off():
    from edge.readers.plate_rec_check import RecogniserCheck

    assert isinstance(build_readers(Config.model_validate(BASE)).plate.rec_check, RecogniserCheck)
    off = build_readers(Config.model_validate({**BASE, "ocr": {"plate_recogniser_veto": False}})).plate
    assert off.rec_check is None
