"""Readers: what one frame shows. Each reader takes one image and returns typed reads (`edge.domain.types`).

Licence plates (`plate.py`, the facade; its steps in `plate_lines`, `plate_cn*`, `plate_candidates`,
`plate_choice`), ISO 6346 container codes (`container.py`, grouping in `container_layout.py`), ADR hazard
panels (`hazard.py`), cargo (`cargo.py`, `cargo_text.py`), the OCR engine they share (`ocr/`) and the
classifiers and CTC decoding the plate reader votes with. Readers import `edge.domain`, `cameras.imageio`
and `models` (shipped weights), never the lane, decision, storage or api layers; votes across the frames
of a passage belong to `edge.decision.voting`.
"""
