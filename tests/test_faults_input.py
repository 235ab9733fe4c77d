"""Hostile input files (issue #15): decompression bombs in every format OpenCV decodes, formats we cannot size,
and paths that are not regular files (a FIFO, /dev/zero) given to every place that opens a user's image or
video. Each is refused from the header or from stat()/fstat() before anything is decoded or read, with a
clear message, and nothing hangs: cases that would hang or eat memory if the guard regressed run in a child
process with a timeout and an address-space limit."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras import imageio
from cameras.imageio import FORMATS, ImageError, decode_image, header_size, image_format, load_image

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(15)


# -- builders: headers that announce a size (the bombs), and small real files from the same builders -----

def bmp_rle8(w: int, h: int) -> bytes:
    """An 8-bit RLE-compressed BMP (BI_RLE8): its pixel data is one 'end of bitmap' code, whatever w x h."""
    palette = b"\x00\x00\x00\x00\xff\xff\xff\x00"
    rle = b"\x00\x01"
    off = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(rle), 2835, 2835, 2, 2)
    return b"BM" + struct.pack("<IHHI", off + len(rle), 0, 0, off) + info + palette + rle


def bmp_os2(w: int, h: int) -> bytes:
    """OS/2 1.x BMP (12-byte BITMAPCOREHEADER, 16-bit sides), 24-bit, with real pixel rows only when small."""
    row = (w * 3 + 3) // 4 * 4
    pixels = b"\x40" * row * h if w * h < 10_000 else b""
    return b"BM" + struct.pack("<IHHI", 26 + len(pixels), 0, 0, 26) + struct.pack("<IHHHH", 12, w, h, 1, 24) + pixels


def bmp_top_down(w: int, h: int) -> bytes:
    """Windows BMP with a negative height (rows stored top-down)."""
    row = (w * 3 + 3) // 4 * 4
    pixels = b"\x80" * row * h if w * h < 10_000 else b""
    info = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + info + pixels


def tiff(w: int, h: int, order: str = "<", big: bool = False) -> bytes:
    """Uncompressed 8-bit grey TIFF, one strip; classic or BigTIFF, either byte order. Pixels only when small."""
    pixels = bytes(RNG.integers(0, 255, w * h, np.uint8)) if w * h < 10_000 else b""
    bo = b"II" if order == "<" else b"MM"
    entry_size, head = (20, 16) if big else (12, 8)
    tags = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1),
            (278, 4, h), (279, 4, max(len(pixels), 1))]
    ifd_len = (8 if big else 2) + len(tags) * entry_size + (8 if big else 4)
    data_at = head + ifd_len
    out = bo + (struct.pack(order + "HHHQ", 43, 8, 0, head) if big else struct.pack(order + "HI", 42, head))
    out += struct.pack(order + ("Q" if big else "H"), len(tags))
    for tag, typ, value in tags:
        value = data_at if tag == 273 else value
        fmt = "H" if typ == 3 else "I"
        field = struct.pack(order + fmt, value).ljust(8 if big else 4, b"\x00")
        out += struct.pack(order + ("HHQ" if big else "HHI"), tag, typ, 1) + field
    out += b"\x00" * (8 if big else 4)  # no next IFD
    return out + pixels


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_vp8x(w: int, h: int) -> bytes:
    return _riff(b"VP8X", b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little"))


def webp_vp8(w: int, h: int) -> bytes:
    return _riff(b"VP8 ", b"\x50\x23\x00\x9d\x01\x2a" + struct.pack("<HH", w, h) + b"\x00" * 8)


def webp_vp8l(w: int, h: int) -> bytes:
    return _riff(b"VP8L", b"\x2f" + struct.pack("<I", (w - 1) | ((h - 1) << 14)) + b"\x00" * 8)


def gif(w: int, h: int, frame: tuple[int, int] | None = None) -> bytes:
    """GIF89a: logical screen w x h and a first frame of `frame` (default: the screen), LZW data cut short."""
    fw, fh = frame or (w, h)
    return (b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0)
            + b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # a graphic control extension first
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, fw, fh, 0) + b"\x02\x02\x44\x01\x00\x3b")


def pnm(magic: bytes, w: int, h: int) -> bytes:
    return magic + b"\n# a comment line\n" + b"%d %d\n255\n" % (w, h) + b"\x00" * 16


def pam(w: int, h: int) -> bytes:
    return b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" % (w, h) + b"\x00" * 16


def pfm(w: int, h: int) -> bytes:
    return b"PF\n%d %d\n-1.0\n" % (w, h) + b"\x00" * 16


def sun_raster(w: int, h: int) -> bytes:
    return struct.pack(">8I", 0x59A66A95, w, h, 24, 0, 1, 0, 0) + b"\x00" * 16


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _siz(w: int, h: int) -> bytes:
    return b"\xff\x4f\xff\x51" + struct.pack(">HHIIIIIIIIHBBB", 41, 0, w, h, 0, 0, w, h, 0, 0, 1, 7, 1, 1)


def jp2(w: int, h: int) -> bytes:
    ihdr = _box(b"ihdr", struct.pack(">IIHBBBB", h, w, 3, 7, 7, 0, 0))
    return (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + _box(b"ftyp", b"jp2 \x00\x00\x00\x00jp2 ")
            + _box(b"jp2h", ihdr) + _box(b"jp2c", _siz(w, h)))


def j2k(w: int, h: int) -> bytes:
    return _siz(w, h) + b"\xff\xd9"


def avif(w: int, h: int) -> bytes:
    ispe = _box(b"ispe", b"\x00\x00\x00\x00" + struct.pack(">II", w, h))
    meta = _box(b"meta", b"\x00\x00\x00\x00" + _box(b"iprp", _box(b"ipco", ispe)))
    return _box(b"ftyp", b"avif\x00\x00\x00\x00mif1avif") + meta


def exr(w: int, h: int) -> bytes:
    attr = b"dataWindow\x00box2i\x00" + struct.pack("<i4i", 16, 0, 0, w - 1, h - 1)
    return b"\x76\x2f\x31\x01\x02\x00\x00\x00" + attr + b"\x00"


def hdr(w: int, h: int) -> bytes:
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w) + b"\x00" * 16


# name -> (builder, format, the size the bomb announces)
BOMBS = {
    "bmp-rle8": (bmp_rle8, "BMP", (30000, 30000)),
    "bmp-os2": (bmp_os2, "BMP", (65535, 65535)),
    "bmp-top-down": (bmp_top_down, "BMP", (20000, 20000)),
    "tiff-le": (tiff, "TIFF", (100000, 100000)),
    "tiff-be": (lambda w, h: tiff(w, h, ">"), "TIFF", (100000, 100000)),
    "bigtiff-le": (lambda w, h: tiff(w, h, "<", big=True), "BigTIFF", (100000, 100000)),
    "bigtiff-be": (lambda w, h: tiff(w, h, ">", big=True), "BigTIFF", (100000, 100000)),
    "webp-vp8x": (webp_vp8x, "WebP", (16_000_000, 16_000_000)),
    "webp-vp8": (webp_vp8, "WebP", (16383, 16383)),
    "webp-vp8l": (webp_vp8l, "WebP", (16384, 16384)),
    "gif": (gif, "GIF", (65535, 65535)),
    "gif-big-first-frame": (lambda w, h: gif(64, 64, (w, h)), "GIF", (60000, 60000)),
    "ppm": (lambda w, h: pnm(b"P6", w, h), "PNM", (100000, 100000)),
    "pgm": (lambda w, h: pnm(b"P5", w, h), "PNM", (100000, 100000)),
    "pbm": (lambda w, h: pnm(b"P4", w, h), "PNM", (1_000_000, 1_000_000)),
    "pam": (pam, "PAM", (100000, 100000)),
    "pfm": (pfm, "PFM", (100000, 100000)),
    "sun-raster": (sun_raster, "Sun raster", (100000, 100000)),
    "jp2": (jp2, "JPEG 2000", (100000, 100000)),
    "j2k": (j2k, "JPEG 2000", (100000, 100000)),
    "avif": (avif, "AVIF", (100000, 100000)),
    "exr": (exr, "OpenEXR", (100000, 100000)),
    "hdr": (hdr, "Radiance HDR", (100000, 100000)),
}


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call into OpenCV's decoder fails the test: refusals must come from the header."""
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("cv2.imdecode was called")
    monkeypatch.setattr(imageio.cv2, "imdecode", refuse)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_of_every_format_are_refused_from_the_header(tmp_path: Path, name: str, no_decoding: None) -> None:
    build, fmt, (w, h) = BOMBS[name]
    data = build(w, h)
    assert len(data) < 2048, "a bomb is a small file"
    assert image_format(data) == fmt and header_size(data) == (w, h)
    path = tmp_path / f"{name}.img"
    path.write_bytes(data)
    with pytest.raises(ImageError) as e:
        load_image(path)
    assert str(path) in str(e.value) and f"{w}x{h} pixels is over the limit" in str(e.value)
    assert "not decoded" in str(e.value)


SMALL = {  # the same builders at a size OpenCV really decodes: the bombs are well-formed files of their format
    "bmp-rle8": (bmp_rle8, (300, 200)),
    "bmp-os2": (bmp_os2, (53, 37)),
    "bmp-top-down": (bmp_top_down, (53, 37)),
    "tiff-le": (tiff, (53, 37)),
    "tiff-be": (lambda w, h: tiff(w, h, ">"), (53, 37)),
    "bigtiff-le": (lambda w, h: tiff(w, h, "<", big=True), (53, 37)),
    "bigtiff-be": (lambda w, h: tiff(w, h, ">", big=True), (53, 37)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bomb_builders_make_real_files(name: str) -> None:
    build, (w, h) = SMALL[name]
    img = decode_image(build(w, h))
    assert img.shape == (h, w, 3)


def test_a_tiny_rle_bmp_really_makes_the_decoder_allocate_its_announced_size() -> None:
    """Why the header check matters: 70 bytes decode to 36 MP (108 MB) - under the cap, so allowed."""
    data = bmp_rle8(6000, 6000)
    assert len(data) < 100
    assert decode_image(data).shape == (6000, 6000, 3)
    with pytest.raises(ImageError, match="6000x6000 pixels is over the limit of 30,000,000"):
        decode_image(data, max_pixels=30_000_000)


ENCODABLE = [".bmp", ".png", ".jpg", ".tiff", ".webp", ".avif", ".jp2", ".ppm", ".pgm", ".pbm", ".pam", ".pfm",
             ".sr", ".hdr", ".gif"]


@pytest.mark.parametrize("ext", ENCODABLE)
def test_real_files_of_every_format_opencv_writes_are_sized_and_decoded(ext: str) -> None:
    img = RNG.integers(0, 255, (37, 53, 3), np.uint8)
    if ext in (".pgm", ".pbm"):
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    src = img.astype(np.float32) / 255 if ext in (".pfm", ".hdr") else img
    try:
        ok, buf = cv2.imencode(ext, src)
    except cv2.error:
        ok = False
    if not ok:
        pytest.skip(f"this OpenCV build cannot write {ext}")
    data = buf.tobytes()
    assert image_format(data) in FORMATS and header_size(data) == (53, 37)
    assert decode_image(data, ext).shape == (37, 53, 3)
    if ext == ".webp":  # lossy (VP8) and with alpha (VP8X) too; lossless above is VP8L
        for variant in (cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 80])[1],
                        cv2.imencode(".webp", np.dstack([img, img[:, :, 0]]), [cv2.IMWRITE_WEBP_QUALITY, 80])[1]):
            assert header_size(variant.tobytes()) == (53, 37)
    if ext == ".jp2":  # the bare codestream (j2k) inside it
        stream = data[data.find(b"jp2c") + 4:]
        assert image_format(stream) == "JPEG 2000" and decode_image(stream).shape == (37, 53, 3)


@pytest.mark.parametrize("data,why", [
    (b"\xff\x0a" + b"\x00" * 64, "not a recognised image format"),  # JPEG XL codestream
    (_box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + b"\x00" * 64, "not a recognised image format"),  # HEIF
    (b"II\xbc\x01" + b"\x00" * 64, "not a recognised image format"),  # JPEG XR
    (b"8BPS" + b"\x00" * 64, "not a recognised image format"),  # Photoshop
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a recognised image format"),
    (b"BM" + b"\x00" * 10, "BMP header without a readable width and height"),  # truncated header
    (b"\xff\xd8\xff\xe0" + b"\x00" * 30, "JPEG header without a readable width and height"),  # no SOF
    (b"P6\n# only a comment\n", "PNM header without a readable width and height"),
    (b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + b"\x99", "GIF header without a readable"),
    (tiff(10, 10)[:30], "TIFF header without a readable width and height"),
    (webp_vp8x(10, 10)[:26], "WebP header without a readable width and height"),
    (bmp_rle8(0, 10), "announces 0x10 pixels"),
])
def test_unknown_or_unsizable_formats_are_refused_before_decoding(data: bytes, why: str, no_decoding: None) -> None:
    with pytest.raises(ImageError) as e:
        decode_image(data, "upload.bin")
    msg = str(e.value)
    assert msg.startswith("upload.bin: ") and why in msg and "not decoded" in msg
    if "recognised" in why:
        assert "accepted: JPEG, PNG, BMP" in msg


def _child(code: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Python code in a child process: a timeout, and at most 4 GB of address space, so a guard that
    regressed fails the test instead of hanging it or eating the machine's memory."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit, env=env)


def test_bmp_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    """The issue's case: a 66-byte RLE BMP announcing 30000 x 30000 (OpenCV alone: ~14 s and 5.4 GB before
    refusing it). Measured in a fresh process: wall time of load_image and growth of the peak RSS."""
    bomb = tmp_path / "bomb.bmp"
    bomb.write_bytes(bmp_rle8(30000, 30000))
    r = _child(f"""
        import json, time
        from cameras.imageio import ImageError, load_image
        def hwm_kb():  # VmHWM belongs to this process image; ru_maxrss may carry the forking parent's peak
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        rss0 = hwm_kb()
        t0 = time.perf_counter()
        try:
            load_image({str(bomb)!r})
            error = None
        except ImageError as e:
            error = str(e)
        dt = time.perf_counter() - t0
        rss1 = hwm_kb()
        print(json.dumps({{"error": error, "seconds": dt, "peak_rss_mb": rss1 / 1024,
                          "peak_rss_growth_mb": (rss1 - rss0) / 1024}}))
    """)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.splitlines()[-1])
    print(f"BMP bomb ({bomb.stat().st_size} bytes, 30000x30000): refused in {m['seconds'] * 1000:.2f} ms, "
          f"peak RSS {m['peak_rss_mb']:.0f} MB (+{m['peak_rss_growth_mb']:.1f} MB for the refusal)")
    assert m["error"] and "30000x30000 pixels is over the limit" in m["error"]
    assert m["seconds"] < 1.0  # target 0.1 s; generous for a shared machine
    assert m["peak_rss_growth_mb"] < 200  # target 100 MB
    assert m["peak_rss_mb"] < 400  # the interpreter, numpy and OpenCV included


def test_opencv_pixel_cap_is_set_before_cv2_is_imported() -> None:
    """OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS once, at import: `smartgate` (edge.cli) sets it first, so
    even code that calls cv2 directly cannot decode a 200 MP header; decode_image turns OpenCV's refusal
    into an ImageError when a caller raised max_pixels above it."""
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    r = _child("""
        import json, os, struct, zlib
        import edge.cli  # noqa: F401  the `smartgate` entry point, imported before cv2
        import cv2, numpy as np
        from cameras import imageio
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 10000, 8, 2, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(b"\\x00" * 64)) + chunk(b"IEND", b""))
        try:
            cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
            cv2_error = None
        except cv2.error as e:
            cv2_error = str(e)
        try:
            imageio.decode_image(png, "p.png", max_pixels=10**9)
            ours = None
        except imageio.ImageError as e:
            ours = str(e)
        print(json.dumps({"env": os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"], "cap": imageio.OPENCV_MAX_PIXELS,
                          "cv2_error": cv2_error, "ours": ours}))
    """, env=env)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.splitlines()[-1])
    assert m["env"] == str(m["cap"]) == "160000000"
    assert m["cv2_error"] and "CV_IO_MAX_IMAGE_PIXELS" in m["cv2_error"]
    assert m["ours"] and m["ours"].startswith("p.png: cannot decode (PNG)")


# -- regular files only -------------------------------------------------------------------------------------

@pytest.fixture
def odd_files(tmp_path: Path) -> dict[str, Path]:
    """A FIFO with no writer, a link to /dev/zero, a folder named like an image, a good JPEG and a link to it."""
    good = tmp_path / "good.jpg"
    good.write_bytes(cv2.imencode(".jpg", RNG.integers(0, 255, (60, 80, 3), np.uint8))[1].tobytes())
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "link.jpg").symlink_to(good)
    return {p.stem: p for p in tmp_path.iterdir()}


def test_load_image_refuses_fifos_and_devices_without_hanging(odd_files: dict[str, Path]) -> None:
    r = _child(f"""
        import json
        from cameras.imageio import ImageError, load_image
        out = {{}}
        for path in {[str(odd_files[k]) for k in ("fifo", "zero", "folder", "link")] + ["/dev/zero"]!r}:
            try:
                out[path] = list(load_image(path).shape)
            except ImageError as e:
                out[path] = str(e)
        print(json.dumps(out))
    """, timeout=30)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out[str(odd_files["fifo"])] == f"{odd_files['fifo']}: a FIFO (named pipe), not a regular file; only regular files are read"
    assert "a character device, not a regular file" in out[str(odd_files["zero"])]
    assert "a character device, not a regular file" in out["/dev/zero"]
    assert "a directory, not a regular file" in out[str(odd_files["folder"])]
    assert out[str(odd_files["link"])] == [60, 80, 3]  # a symlink to a regular file is fine


def test_a_path_swapped_for_a_fifo_after_the_check_is_refused_by_fstat(odd_files: dict[str, Path]) -> None:
    """The stat() check passes (the path was a regular file then); open() is O_NONBLOCK so it returns at
    once on the FIFO, and fstat() on the descriptor refuses it."""
    r = _child(f"""
        from cameras import imageio
        imageio.not_regular_reason = lambda path: None  # the file was regular when it was checked
        try:
            imageio.load_image({str(odd_files["fifo"])!r})
        except imageio.ImageError as e:
            print(e)
    """, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "a FIFO (named pipe), not a regular file" in r.stdout


def test_file_camera_sources_refuse_fifos_and_devices(odd_files: dict[str, Path]) -> None:
    r = _child(f"""
        import json
        from cameras import CameraError, VideoFileSource, open_source
        from edge.config import CameraConfig
        out = {{}}
        for path in ({str(odd_files["fifo"])!r}, "/dev/zero"):
            try:
                open_source(CameraConfig(name="front", source=path, role="plate", lane="in1"))
            except CameraError as e:
                out[path] = str(e)
        try:
            VideoFileSource("side", "container", "in1", {str(odd_files["fifo"])!r})
        except CameraError as e:
            out["direct"] = str(e)
        print(json.dumps(out))
    """, timeout=30)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    fifo = str(odd_files["fifo"])
    assert out[fifo].startswith(f"camera 'front': video file {fifo}: a FIFO (named pipe), not a regular file")
    assert "usb:N" in out[fifo]
    assert out["/dev/zero"].startswith("camera 'front': video file /dev/zero: a character device, not a regular")
    assert out["direct"].startswith("camera 'side': video file") and "FIFO" in out["direct"]


def test_folder_source_counts_fifos_and_devices_as_corrupt_frames(tmp_path: Path) -> None:
    for i in (0, 3):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((24, 32, 3), 50 * i, np.uint8))
    os.mkfifo(tmp_path / "frame_1.png")
    (tmp_path / "frame_2.png").symlink_to("/dev/zero")
    (tmp_path / "frame_4.png").symlink_to(tmp_path / "gone.png")  # dangling
    r = _child(f"""
        import json
        from cameras import open_source
        from edge.config import CameraConfig
        src = open_source(CameraConfig(name="front", source={str(tmp_path)!r}, role="plate", lane="in1"))
        frames = [f.index for f in src.frames()]
        h = src.health()
        print(json.dumps({{"frames": frames, "state": h.state, "corrupt": h.corrupt_frames}}))
    """, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1]) == {"frames": [0, 3], "state": "ended", "corrupt": 3}
    assert "frame_1.png: a FIFO (named pipe), not a regular file" in r.stderr  # logged once, with its name
    assert "frame_2.png: a character device" in r.stderr


def test_smartgate_eval_refuses_fifos_and_devices(tmp_path: Path) -> None:
    """`smartgate eval`: a labels CSV that is a FIFO is a clear error (exit 2); an image that is a FIFO or a
    device is an unreadable image (no hang, no MemoryError)."""
    os.mkfifo(tmp_path / "labels.csv")
    os.mkfifo(tmp_path / "a.jpg")
    r = _child(f"""
        import json
        from pathlib import Path
        from smartgate_tools import evaluate
        from edge.cli import main
        rc = main(["eval", {str(tmp_path / "labels.csv")!r}])
        unreadable = [evaluate.imread(Path(p)) is None for p in ({str(tmp_path / "a.jpg")!r}, "/dev/zero")]
        print(json.dumps({{"rc": rc, "unreadable": unreadable}}))
    """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1]) == {"rc": 2, "unreadable": [True, True]}
    assert f"error: labels file {tmp_path / 'labels.csv'}: a FIFO (named pipe), not a regular file" in r.stderr


def test_smartgate_cargo_eval_refuses_fifos(tmp_path: Path) -> None:
    """`smartgate cargo-eval`: an image that is a FIFO is a clear error (exit 2), not a hang."""
    cls = tmp_path / "set" / "closed"
    cls.mkdir(parents=True)
    os.mkfifo(cls / "a.jpg")
    r = _child(f"""
        from edge.cli import main
        print("rc", main(["cargo-eval", {str(tmp_path / "set")!r}]))
    """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "rc 2"
    assert f"error: cannot read image {cls / 'a.jpg'}: a FIFO (named pipe)" in r.stderr


@pytest.mark.slow
def test_smartgate_read_reports_fifos_devices_and_bombs_and_goes_on(odd_files: dict[str, Path], tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.bmp"
    bomb.write_bytes(bmp_rle8(30000, 30000))
    files = [str(odd_files["fifo"]), "/dev/zero", str(bomb), str(odd_files["good"])]
    r = subprocess.run([sys.executable, "-m", "edge.cli", "read", "plate", *files],
                       cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["file"] for x in lines] == files
    assert "FIFO" in lines[0]["error"] and "character device" in lines[1]["error"]
    assert "30000x30000" in lines[2]["error"] and "error" not in lines[3]
