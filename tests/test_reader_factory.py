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
