"""The real plate photos the reader experiments read: crops of ../shared/train and the dev photos of ../shared/eval."""

from __future__ import annotations

from pathlib import Path


def plate_images(data: Path, dev: list[str], crops: str = "validation") -> list[tuple[str, str, list[str]]]:
    """(set, path, labels) of the crops and the dev photos. `crops`: "validation" (the plate validation's crops)
    or "rec-split" (the plate recogniser's own validation split, for switches that use the recogniser: it was
    trained on the other crops)."""
    from smartgate_tools.evaluate import load_labels

    if crops == "rec-split":
        from smartgate_tools.train.plate_rec_data import load_dir, split

        folder = {"CN": "plate_cn", "VN": "plate_vn", "OTHER": "plate_other"}
        _, val = split([c for name in folder.values() for c in load_dir(data / name)])
        out = [(f"split:{c.country}", str(data / folder[c.country] / c.file), [c.label]) for c in val]
    else:
        from smartgate_tools.plate_validation import load_crops

        out = [(f"val:{r['country']}", r["file"], [r["label"]]) for r in load_crops(data)]
    out += [(f"dev:{s.task}", str(s.path), s.labels) for s in load_labels(dev)]
    return out
