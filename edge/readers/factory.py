"""Config → readers: which readers a gate needs follows from its camera roles.

Shared by the daemon and the benchmark so both run exactly the same readers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from edge.readers.interfaces import Readers

if TYPE_CHECKING:  # the composed config is the wiring's; the readers only read its sections
    from edge.config import Config

log = logging.getLogger(__name__)


def build_readers(cfg: Config, engine: object | None = None) -> Readers:
    """The readers for the config's camera roles; `engine` (an OcrEngine) is shared by the OCR readers,
    built from `cfg.ocr` when not given. A missing cargo model leaves `cargo` None (passages flag
    cargo_unverified) instead of stopping the gate."""
    roles = {c.role for c in cfg.cameras}
    readers = Readers()
    if not roles & {"plate", "container", "cargo"}:
        return readers
    from edge.readers.ocr.engine import OcrEngine

    if engine is None:
        engine = OcrEngine(threads=cfg.ocr.threads)
    assert isinstance(engine, OcrEngine)
    if "plate" in roles:
        from edge.domain.plate_grammar import ALL_FORMATS
        from edge.readers.plate import PlateReader

        plate_side = cfg.pipeline.plate_det_max_side
        formats = tuple(f.name for f in ALL_FORMATS if f.country in cfg.ocr.plate_countries)
        readers.plate = PlateReader(engine, formats=formats, rec_check=cfg.ocr.plate_recogniser_veto,
                                    **({"max_side": plate_side} if plate_side else {}))
    if "container" in roles:
        from edge.readers.container import ContainerReader

        # include_unverified: a code that fails its check digit reaches the policy (flag), not silence.
        det_side = cfg.pipeline.container_det_max_side
        readers.container = ContainerReader(engine, threads=cfg.ocr.threads, include_unverified=True,
                                            retry_max_side=cfg.pipeline.container_retry_max_side, retry_blind=False,
                                            screen=cfg.pipeline.container_screen,
                                            **({"det_max_side": det_side} if det_side else {}))
    if roles & {"plate", "container"}:
        from edge.readers.hazard import HazardPanelReader

        readers.hazard = HazardPanelReader(engine)
    if "cargo" in roles:
        from edge.readers.cargo import CargoClassifier
        from edge.readers.cargo_text import CargoTextReader

        try:
            readers.cargo = CargoClassifier(threads=cfg.ocr.threads)
        except (OSError, ValueError, RuntimeError) as e:  # missing or tampered model: run on, cargo unverified
            log.error("cargo classifier unavailable (%s): every passage will flag cargo_unverified", e)
        readers.cargo_text = CargoTextReader(engine)
    return readers
