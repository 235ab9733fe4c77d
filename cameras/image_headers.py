"""Image headers: which format a byte string announces (magic number) and the width x height its header
gives, without decoding a pixel.

Split out of `cameras.imageio` (which re-exports `FORMATS`, `image_format` and `header_size`) because the
per-format parsers are most of that module and need nothing from OpenCV: a decompression bomb (a 1 kB
file announcing 30000 x 30000 pixels) is refused from these numbers before the decoder sees it. Every
parser is bounded: text headers are read up to `_HEADER_SCAN` bytes and box/chunk walks stop after
`_MAX_BOXES` entries; a header too short or malformed to say gives None.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator

# Formats recognised by magic number and sized from their header (names as they appear in messages).
FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "BigTIFF", "WebP", "GIF", "PNM", "PAM", "PFM", "Sun raster",
           "JPEG 2000", "AVIF", "OpenEXR", "Radiance HDR")
_HEADER_SCAN = 64 * 1024  # text headers (PNM, PAM, PFM, HDR) longer than this are refused
_MAX_BOXES = 4096  # box/chunk/entry/block walks stop here: a legitimate header has far fewer


# -- formats and their header sizes --------------------------------------------------------------------

def _unpack(fmt: str, data: bytes, off: int) -> tuple | None:
    end = off + struct.calcsize(fmt)
    return struct.unpack(fmt, data[off:end]) if off >= 0 and end <= len(data) else None


def image_format(data: bytes) -> str | None:
    """The format `data` announces by its magic number (one of FORMATS), or None: not an image we accept."""
    head = data[:16]
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "BigTIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if len(head) >= 3 and head[:1] == b"P" and head[2:3].isspace():
        if head[1:2] in b"123456":
            return "PNM"
        if head[1:2] == b"7":
            return "PAM"
        if head[1:2] in b"Ff":
            return "PFM"
    if head[:4] == b"\x59\xa6\x6a\x95":
        return "Sun raster"
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or head[:4] == b"\xff\x4f\xff\x51":
        return "JPEG 2000"
    if head[4:8] == b"ftyp" and _avif_brand(data):
        return "AVIF"
    if head[:4] == b"\x76\x2f\x31\x01":
        return "OpenEXR"
    if head[:6] == b"#?RGBE" or head[:10] == b"#?RADIANCE":
        return "Radiance HDR"
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    hsize = _unpack("<I", data, 14)
    if hsize is None:
        return None
    if hsize[0] == 12:  # OS/2 1.x BITMAPCOREHEADER: 16-bit sides
        wh = _unpack("<HH", data, 18)
    elif hsize[0] >= 16:  # OS/2 2.x (16..64) and Windows (40, 52, 56, 108, 124): signed 32-bit sides
        wh = _unpack("<ii", data, 18)
    else:
        return None
    if wh is None:
        return None
    return abs(wh[0]), abs(wh[1])  # a negative height is a top-down bitmap


def _tiff(data: bytes) -> tuple[int, int] | None:
    bo = "<" if data[:2] == b"II" else ">"
    if data[2:4] in (b"*\x00", b"\x00*"):  # classic: 32-bit offsets, 12-byte entries
        off = _unpack(bo + "I", data, 4)
        count_fmt, entry_size, value_at, count_size = "H", 12, 8, 2
    else:  # BigTIFF: offset size 8, 64-bit offsets, 20-byte entries
        hdr = _unpack(bo + "HHQ", data, 4)
        if hdr is None or hdr[0] != 8 or hdr[1] != 0:
            return None
        off = (hdr[2],)
        count_fmt, entry_size, value_at, count_size = "Q", 20, 12, 8
    if off is None:
        return None
    n = _unpack(bo + count_fmt, data, off[0])
    if n is None:
        return None
    tags: dict[int, int] = {}
    base = off[0] + count_size
    for k in range(min(n[0], _MAX_BOXES)):
        entry = _unpack(bo + "HH", data, base + k * entry_size)
        if entry is None:
            return None
        tag, typ = entry
        if tag not in (256, 257, 322, 323):  # ImageWidth, ImageLength, TileWidth, TileLength
            continue
        fmt = {3: "H", 4: "I", 16: "Q"}.get(typ)  # SHORT, LONG, LONG8
        if fmt is None or (fmt == "Q" and entry_size == 12):
            return None
        value = _unpack(bo + fmt, data, base + k * entry_size + value_at)
        if value is None:
            return None
        tags[tag] = value[0]
    if 256 not in tags or 257 not in tags:
        return None
    # A tile larger than the image is allocated too: the larger of each side counts.
    return max(tags[256], tags.get(322, 0)), max(tags[257], tags.get(323, 0))


def _webp(data: bytes) -> tuple[int, int] | None:
    fourcc = data[12:16]
    if fourcc == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        wh = _unpack("<HH", data, 26)
        return None if wh is None else (wh[0] & 0x3FFF, wh[1] & 0x3FFF)
    if fourcc == b"VP8L":
        if data[20:21] != b"\x2f":
            return None
        bits = _unpack("<I", data, 21)
        return None if bits is None else ((bits[0] & 0x3FFF) + 1, ((bits[0] >> 14) & 0x3FFF) + 1)
    if fourcc == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        if len(data) < 30:
            return None
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _gif(data: bytes) -> tuple[int, int] | None:
    """The logical screen, grown to the first frame's extent (the frame imdecode reads)."""
    screen = _unpack("<HHB", data, 6)
    if screen is None:
        return None
    w, h, flags = screen
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    for _ in range(_MAX_BOXES):
        if i >= len(data):
            return None
        block = data[i]
        if block == 0x2C:  # image descriptor
            desc = _unpack("<HHHH", data, i + 1)
            if desc is None:
                return None
            left, top, fw, fh = desc
            return max(w, left + fw), max(h, top + fh)
        if block != 0x21:  # only extensions may come before the first image
            return None
        i += 2  # introducer, label; then data sub-blocks up to a zero-length one
        for _ in range(_MAX_BOXES):
            if i >= len(data):
                return None
            n = data[i]
            i += 1 + n
            if n == 0:
                break
        else:
            return None
    return None


_TOKEN = re.compile(rb"(?:\s|#[^\r\n]*)*(\d{1,19})")  # PNM tokens, with whitespace and comments before


def _pnm(data: bytes) -> tuple[int, int] | None:
    head = data[:_HEADER_SCAN]
    m1 = _TOKEN.match(head, 2)
    m2 = _TOKEN.match(head, m1.end()) if m1 else None
    return (int(m1.group(1)), int(m2.group(1))) if m1 and m2 else None


def _pam(data: bytes) -> tuple[int, int] | None:
    end = data.find(b"ENDHDR", 0, _HEADER_SCAN)
    if end < 0:
        return None
    fields = dict(re.findall(rb"^\s*(WIDTH|HEIGHT)\s+(\d{1,19})\s*$", data[3:end], re.M))
    if b"WIDTH" not in fields or b"HEIGHT" not in fields:
        return None
    return int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])


def _sun(data: bytes) -> tuple[int, int] | None:
    wh = _unpack(">ii", data, 4)
    return None if wh is None else (wh[0], wh[1])


def _siz(data: bytes, off: int) -> tuple[int, int] | None:
    """JPEG 2000 codestream: SIZ marker segment right after SOC."""
    if data[off:off + 4] != b"\xff\x4f\xff\x51":
        return None
    v = _unpack(">IIII", data, off + 8)  # Xsiz, Ysiz, XOsiz, YOsiz
    return None if v is None else (v[0] - v[2], v[1] - v[3])


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO boxes (JP2, ISOBMFF) between start and end."""
    i = start
    for _ in range(_MAX_BOXES):
        if i + 8 > end:
            return
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        head = 8
        if size == 1:
            big = _unpack(">Q", data, i + 8)
            if big is None:
                return
            size, head = big[0], 16
        elif size == 0:
            size = end - i
        if size < head:
            return
        yield kind, i + head, min(i + size, end)
        i += size


def _jp2(data: bytes) -> tuple[int, int] | None:
    if data[:4] == b"\xff\x4f\xff\x51":
        return _siz(data, 0)
    sizes = []
    for kind, a, b in _boxes(data, 0, len(data)):
        if kind == b"jp2h":
            for sub, sa, _sb in _boxes(data, a, b):
                if sub == b"ihdr":
                    hw = _unpack(">II", data, sa)
                    if hw is not None:
                        sizes.append((hw[1], hw[0]))
        elif kind == b"jp2c":
            siz = _siz(data, a)
            if siz is None:
                return None
            sizes.append(siz)
            break
    if not sizes:
        return None
    return max(s[0] for s in sizes), max(s[1] for s in sizes)


def _avif_brand(data: bytes) -> bool:
    size = _unpack(">I", data, 0)
    if size is None or size[0] < 16:
        return False
    ftyp = data[8:min(size[0], 1024)]
    brands = [ftyp[:4]] + [ftyp[k:k + 4] for k in range(8, len(ftyp) - 3, 4)]
    return b"avif" in brands or b"avis" in brands


def _avif(data: bytes) -> tuple[int, int] | None:
    """The largest `ispe` (image spatial extents) property of any item: meta > iprp > ipco > ispe."""
    found: list[tuple[int, int]] = []
    for kind, a, b in _boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        for k2, a2, b2 in _boxes(data, a + 4, b):  # meta is a full box: version and flags first
            if k2 != b"iprp":
                continue
            for k3, a3, b3 in _boxes(data, a2, b2):
                if k3 != b"ipco":
                    continue
                for k4, a4, _b4 in _boxes(data, a3, b3):
                    if k4 == b"ispe":
                        wh = _unpack(">II", data, a4 + 4)
                        if wh is not None:
                            found.append(wh)
    if not found:
        return None
    return max(w for w, _ in found), max(h for _, h in found)


def _exr(data: bytes) -> tuple[int, int] | None:
    """The dataWindow attribute (box2i: xMin, yMin, xMax, yMax) of the first header."""
    i = 8
    for _ in range(_MAX_BOXES):
        name_end = data.find(b"\x00", i, i + 256)
        if name_end < 0 or name_end == i:
            return None
        type_end = data.find(b"\x00", name_end + 1, name_end + 257)
        size = _unpack("<i", data, type_end + 1) if type_end >= 0 else None
        if size is None or size[0] < 0:
            return None
        value = type_end + 5
        if data[i:name_end] == b"dataWindow" and data[name_end + 1:type_end] == b"box2i" and size[0] == 16:
            box = _unpack("<iiii", data, value)
            return None if box is None else (box[2] - box[0] + 1, box[3] - box[1] + 1)
        i = value + size[0]
    return None


_HDR_SIZE = re.compile(rb"^([-+])([XY]) (\d{1,19}) ([-+])([XY]) (\d{1,19})\r?$", re.M)


def _hdr(data: bytes) -> tuple[int, int] | None:
    head = data[:_HEADER_SCAN]
    blank = head.find(b"\n\n")
    if blank < 0:
        return None
    m = _HDR_SIZE.match(head, blank + 2)
    if m is None or m.group(2) == m.group(5):
        return None
    a, b = int(m.group(3)), int(m.group(6))
    return (b, a) if m.group(2) == b"Y" else (a, b)  # "-Y height +X width" is the usual order


_SIZERS: dict[str, Callable[[bytes], tuple[int, int] | None]] = {
    "JPEG": _jpeg, "PNG": _png, "BMP": _bmp, "TIFF": _tiff, "BigTIFF": _tiff, "WebP": _webp, "GIF": _gif,
    "PNM": _pnm, "PFM": _pnm, "PAM": _pam, "Sun raster": _sun, "JPEG 2000": _jp2, "AVIF": _avif,
    "OpenEXR": _exr, "Radiance HDR": _hdr,
}


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of any format in FORMATS without decoding; None for another format
    or a header too short or malformed to say."""
    fmt = image_format(data)
    if fmt is None:
        return None
    try:
        size = _SIZERS[fmt](data)
    except (struct.error, ValueError, IndexError):
        return None
    return None if size is None else (int(size[0]), int(size[1]))
