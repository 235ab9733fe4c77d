"""Untrusted images in: size caps, header checks before decoding, clear errors, and a reader-input guard.

Images reach the readers from cameras (bounded by the camera) and from people (`smartgate read`, eval
sets, future upload routes). A file is refused before decoding when it is too big on disk or its header
announces too many pixels (a 40 kB PNG can announce 100000 x 100000 and make the decoder allocate 30 GB);
a decode failure names the file and the likely cause. `reader_image()` turns whatever array a reader is
given into 8-bit BGR or None (empty, absurd shape, wrong dtype), so a reader answers "no read" instead
of raising.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 8K (33 MP) fits; anything above is not a camera frame
MIN_SIDE = 2


class ImageError(ValueError):
    """An image that cannot be used; the message says why and names the file."""


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding; None for other formats or no header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
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


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes -> 8-bit BGR, or ImageError (too many pixels, not decodable)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(f"{name}: {size[0]}x{size[1]} pixels is over the limit of {max_pixels:,}; not decoded")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or not img.size:
        kind = "truncated or corrupt JPEG/PNG" if size is not None else "not an image OpenCV can decode"
        raise ImageError(f"{name}: cannot decode ({kind})")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageError(f"{name}: {img.shape[1]}x{img.shape[0]} pixels is over the limit of {max_pixels:,}")
    return img


def load_image(path: str | Path, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file with the caps above; ImageError with a clear message otherwise."""
    p = Path(path)
    try:
        n = p.stat().st_size
        if n > max_bytes:
            raise ImageError(f"{p}: {n / 2**20:.1f} MB is over the limit of {max_bytes // 2**20} MB; not read")
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p}: cannot read: {e.strerror or e}") from None
    return decode_image(data, str(p), max_pixels)


def reader_image(image: object, max_pixels: int = MAX_PIXELS) -> np.ndarray | None:
    """The array a reader may work on (uint8 BGR, contiguous), or None: empty, a side under MIN_SIDE,
    over `max_pixels`, not 2-D/3-D with 1, 3 or 4 channels, or not 8-bit."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        return None
    h, w = image.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE or h * w > max_pixels:
        return None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 3:
        return np.ascontiguousarray(image)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    return None
