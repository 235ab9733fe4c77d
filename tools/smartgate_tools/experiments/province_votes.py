"""What the province vote saw on each CN plate, for rules on wrong provinces (issue 17).

On training crops pasted into scenes (`plate_scenes`), the CN reads that remain wrong are mostly a wrong province
at 0.90-0.96 (津 → 豫, 京 → 新, 冀 → 皖). This records, for every CN crop of the plate validation and each condition,
the recognisers' province choice, their per-recogniser probabilities over the 31 glyphs and the glyph classifier's
vector (`with_glyph_vote`'s inputs, captured as the reader runs), with the read and the label, so that a rule on
them can be weighed offline: right provinces it would refuse against wrong ones it would stop.

    .venv/bin/python -m smartgate_tools.experiments.province_votes --data ../shared/train \\
        --conditions scene scene-poor --out var/s10/province_votes.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def collect(data: Path, conditions: list[str], cargo: Path, cache_dir: Path | None, threads: int) -> list[dict]:
    from tqdm import tqdm

    import edge.readers.plate_cn as plate_cn
    from edge.domain.plate_grammar import CN_PROVINCES, label_key
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.experiments.plate_degraded import image_for
    from smartgate_tools.experiments.plate_scenes import backgrounds
    from smartgate_tools.experiments.plate_sets import plate_images

    seen_votes: list[dict] = []
    original = plate_cn.with_glyph_vote

    def spy(choice, seen, glyph, weak=()):
        out = original(choice, seen, glyph, weak)
        seen_votes.append({"choice": None if choice is None else CN_PROVINCES[choice[0]],
                           "final": None if out is None else CN_PROVINCES[out[0]],
                           "recognisers": [[round(float(x), 4) for x in v] for v in weak],
                           "glyph": [round(float(x), 4) for x in glyph]})
        return out

    plate_cn.with_glyph_vote = spy
    try:
        reader = PlateReader(OcrEngine(threads=threads))
        backs = backgrounds(cargo, cache_dir / "backgrounds.json" if cache_dir else None, threads=threads)
        images = [i for i in plate_images(data, [], "validation") if i[0] == "val:CN"]
        rows = []
        for condition in conditions:
            for _, key, labels in tqdm(images, desc=condition, unit="image", mininterval=10):
                img = image_for(key, condition, backs)
                if img is None:
                    continue
                seen_votes.clear()
                reads = [r for r in reader.read_all(img) if r.text]
                rows.append({"condition": condition, "file": Path(key).name, "label": labels[0],
                             "read": label_key(reads[0].text) if reads else None,
                             "confidence": reads[0].confidence if reads else None, "votes": list(seen_votes)})
        return rows
    finally:
        plate_cn.with_glyph_vote = original


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="province_votes", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/train"))
    p.add_argument("--cargo", type=Path, default=Path("../shared/cargo/train"))
    p.add_argument("--conditions", nargs="+", default=["scene", "scene-poor"])
    p.add_argument("--cache-dir", type=Path, default=Path("var/scenes"), help="where plate_scenes keeps its backgrounds")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    rows = collect(a.data, a.conditions, a.cargo, a.cache_dir, a.threads)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    wrong_province = sum(1 for r in rows if r["read"] and r["read"][0] != r["label"][0] and r["read"][1:] == r["label"][1:])
    print(f"{len(rows)} readings, {sum(r['read'] == r['label'] for r in rows)} right, {wrong_province} wrong province only")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
