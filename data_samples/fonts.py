"""Fonts for the synthetic footage, only from fonts-dejavu-core, fonts-liberation2 and fonts-wqy-microhei.

Several faces per job so the readers do not overfit one typeface. Latin faces fall back to the DejaVu
copies inside matplotlib (a test dependency) so that tests run on a machine without those packages;
CJK has no fallback: `make samples` installs fonts-wqy-microhei.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont

_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"),
         Path("/usr/share/fonts/truetype/liberation2"), Path("/usr/share/fonts/truetype/wqy")]

# Condensed bold faces look most like plate/stencil lettering.
PLATE_FACES = ["DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Bold.ttf", "LiberationSans-Bold.ttf",
               "DejaVuSans-Bold.ttf"]
CONTAINER_FACES = ["LiberationSans-Bold.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf",
                   "LiberationMono-Bold.ttf", "DejaVuSansCondensed-Bold.ttf"]
# Faces with full Vietnamese coverage (Liberation lacks some precomposed vowels such as Ả).
SIGN_FACES = ["DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans.ttf", "DejaVuSansCondensed-Bold.ttf"]
CJK_FACE = "wqy-microhei.ttc"


class FontMissing(RuntimeError):
    pass


def _matplotlib_dir() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"


@cache
def font_path(name: str) -> str:
    """Absolute path of a font file; falls back to a DejaVu face of the same weight."""
    for d in _DIRS:
        if (d / name).exists():
            return str(d / name)
    if name == CJK_FACE:
        raise FontMissing("no CJK font: apt-get install fonts-wqy-microhei (or run `make samples`)")
    mpl = _matplotlib_dir()
    if mpl is not None:
        fallback = "DejaVuSansMono-Bold.ttf" if "Mono" in name else (
            "DejaVuSans-Bold.ttf" if "Bold" in name else "DejaVuSans.ttf")
        if (mpl / fallback).exists():
            return str(mpl / fallback)
    raise FontMissing(f"font {name} not found: apt-get install fonts-dejavu-core fonts-liberation2")


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(name), size)

