"""Untrusted images in: regular files only, size caps, header checks before decoding, clear errors, and a
reader-input guard.

Images reach the readers from cameras (bounded by the camera) and from people (`smartgate read`, eval
sets, future upload routes). Before a byte is decoded:

- the path must be a regular file: a FIFO would block `open()`/`read()` forever and `/dev/zero` never
  ends (MemoryError). `open_regular()` checks with stat() first, then opens with O_NONBLOCK and checks
  the opened file again with fstat(), so a path swapped for a FIFO in between cannot hang the reader;
- the file must not be too big on disk (`MAX_IMAGE_BYTES`);
- its format must be recognised by magic number (an allow-list: `FORMATS`, every format OpenCV's
  imdecode reads) and its header must give a width and height, with width x height within `max_pixels`.
  A 1 kB RLE-compressed BMP (or a PNG, TIFF, WebP, GIF, PNM ... header) can announce 30000 x 30000
  pixels and make the decoder allocate gigabytes and run for seconds before it notices the data is
  short; here it is refused from the header in microseconds. A file in a format OpenCV could decode but
  this module cannot size (or a format it does not know) is refused, not decoded. The magic numbers and
  header parsers are in `cameras.image_headers` (re-exported here: `FORMATS`, `image_format`, `header_size`).

OpenCV has its own cap, `OPENCV_IO_MAX_IMAGE_PIXELS` (default 2**30 = 1 GP, which lets the 30000 x 30000
bomb through). It is read once, when cv2 is imported, so setting it here only helps when this module is
imported before anything else imports cv2 (`edge.cli` sets it first thing for the `smartgate` command).
It is a backstop for code that calls cv2.imread directly (calibration photos), so it is set higher than
`MAX_PIXELS` (`OPENCV_MAX_PIXELS`, 160 MP: every camera and DSLR photo); the header check above is what
guards every path through `decode_image`. Over that cap OpenCV 5 raises cv2.error instead of returning
None.

A decode failure names the file and the likely cause. `reader_image()` turns whatever array a reader is
given into 8-bit BGR or None (empty, absurd shape, wrong dtype), so a reader answers "no read" instead
of raising.
"""

from __future__ import annotations

import os

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 8K (33 MP) fits; anything above is not a camera frame
MIN_SIDE = 2
OPENCV_MAX_PIXELS = 160_000_000  # cv2's own cap, a backstop (see the module doc); edge/cli.py sets the same

# An operator's value is kept.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(OPENCV_MAX_PIXELS))

import stat  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

# Format sniffing and header sizes live in image_headers (no cv2 there); re-exported here.
from cameras.image_headers import FORMATS, header_size, image_format  # noqa: E402

__all__ = [
    "FORMATS", "MAX_IMAGE_BYTES", "MAX_PIXELS", "MIN_SIDE", "OPENCV_MAX_PIXELS", "ImageError", "decode_image",
    "header_size", "image_format", "load_image", "not_regular_reason", "open_regular", "read_regular",
    "reader_image",
]


class ImageError(ValueError):
    """An image that cannot be used; the message says why and names the file."""


# -- regular files only -------------------------------------------------------------------------------

def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def not_regular_reason(path: str | Path) -> str | None:
    """None when `path` (symlinks followed) is a regular file, else why not ("a FIFO (named pipe)", ...).
    OSError when it cannot be stat()ed at all (missing, no permission)."""
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else _kind(mode)


def open_regular(path: str | Path, error: type[Exception] = ImageError) -> int:
    """A read-only file descriptor of `path`, which must be a regular file; `error(message)` otherwise.

    stat() before open() keeps us from opening devices at all; O_NONBLOCK makes open() of a FIFO return
    at once even if the path was swapped for one after the stat(), and fstat() on the opened descriptor
    then refuses it. O_NONBLOCK changes nothing for reads of a regular file.
    """
    try:
        why = not_regular_reason(path)
        if why is not None:
            raise error(f"{path}: {why}, not a regular file; only regular files are read")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{path}: {_kind(mode)}, not a regular file; only regular files are read")
    return fd


def read_regular(path: str | Path, max_bytes: int, error: type[Exception] = ImageError) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; `error(message)` otherwise."""
    fd = open_regular(path, error)
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            n = os.fstat(f.fileno()).st_size
            if n > max_bytes:
                raise error(f"{path}: {n / 2**20:.1f} MB is over the limit of {max_bytes / 2**20:g} MB; not read")
            data = f.read(max_bytes + 1)  # a file that grew since fstat() is still bounded
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise error(f"{path}: over the limit of {max_bytes / 2**20:g} MB; not read")
    return data


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes -> 8-bit BGR, or ImageError (unknown format, size unreadable, too many pixels, not decodable).
    Nothing reaches the decoder before its format and size are known from the header."""
    if not data:
        raise ImageError(f"{name}: empty file")
    fmt = image_format(data)
    if fmt is None:
        raise ImageError(f"{name}: cannot decode: not a recognised image format (accepted: "
                         f"{', '.join(FORMATS)}); not decoded")
    size = header_size(data)
    if size is None:
        raise ImageError(f"{name}: cannot decode: {fmt} header without a readable width and height "
                         f"(truncated or corrupt); not decoded")
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageError(f"{name}: cannot decode: {fmt} header announces {w}x{h} pixels; not decoded")
    if w * h > max_pixels:
        raise ImageError(f"{name}: {w}x{h} pixels is over the limit of {max_pixels:,}; not decoded")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:  # OpenCV's own checks (its pixel cap, malformed data) raise in OpenCV 5
        raise ImageError(f"{name}: cannot decode ({fmt}): {str(e).strip().splitlines()[-1]}") from None
    if img is None or not img.size:
        raise ImageError(f"{name}: cannot decode (truncated or corrupt {fmt}, or {fmt} not built into OpenCV)")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageError(f"{name}: {img.shape[1]}x{img.shape[0]} pixels is over the limit of {max_pixels:,}")
    return img


def load_image(path: str | Path, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file with the checks above; ImageError with a clear message otherwise."""
    return decode_image(read_regular(path, max_bytes), str(path), max_pixels)


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
