"""Bad input crashes nothing: corrupt and huge images (loader, readers, `smartgate read`), tampered models."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import models
from cameras.imageio import ImageError, decode_image, header_size, load_image, reader_image

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(7)


def _png(w: int, h: int) -> bytes:
    """A valid PNG header announcing w x h (with a tiny, wrong IDAT): a decompression-bomb lookalike."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _jpeg() -> bytes:
    return cv2.imencode(".jpg", RNG.integers(0, 255, (60, 80, 3), np.uint8))[1].tobytes()


def corrupt_files() -> dict[str, bytes]:
    jpg = _jpeg()
    png = cv2.imencode(".png", RNG.integers(0, 255, (60, 80, 3), np.uint8))[1].tobytes()
    return {
        "random.jpg": RNG.integers(0, 255, 5000, np.uint8).tobytes(),
        "truncated.jpg": jpg[: len(jpg) // 3],
        "truncated.png": png[: len(png) // 3],
        "header-only.jpg": jpg[:20],
        "empty.png": b"",
        "bomb.png": _png(100_000, 100_000),
        "text.png": b"this is not an image\n" * 10,
    }


def test_header_sizes_are_read_without_decoding() -> None:
    assert header_size(_png(123, 45)) == (123, 45)
    assert header_size(_jpeg()) == (80, 60)
    assert header_size(b"GIF89a...") is None


@pytest.mark.parametrize("name", sorted(corrupt_files()))
def test_corrupt_and_huge_images_give_clear_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(corrupt_files()[name])
    with pytest.raises(ImageError) as e:
        load_image(path)
    msg = str(e.value)
    assert str(path) in msg
    if name == "bomb.png":
        assert "100000x100000" in msg and "not decoded" in msg
    elif name == "empty.png":
        assert "empty" in msg
    else:
        assert "cannot decode" in msg


def test_size_cap_and_missing_file(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(_jpeg() + b"\0" * 2_000_000)
    with pytest.raises(ImageError, match="over the limit of 1 MB"):
        load_image(big, max_bytes=1 * 2**20)
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "missing.jpg")
    assert decode_image(_jpeg()).shape == (60, 80, 3)


GARBAGE = {
    "1x1": np.zeros((1, 1, 3), np.uint8),
    "2x2": np.zeros((2, 2, 3), np.uint8),
    "strip-20000x20": RNG.integers(0, 255, (20, 20000, 3), np.uint8),
    "strip-20x20000": RNG.integers(0, 255, (20000, 20, 3), np.uint8),
    "noise": RNG.integers(0, 255, (120, 160, 3), np.uint8),
    "gray": RNG.integers(0, 255, (60, 120), np.uint8),
    "bgra": RNG.integers(0, 255, (60, 120, 4), np.uint8),
    "empty": np.zeros((0, 0, 3), np.uint8),
    "float": RNG.random((60, 120, 3)).astype(np.float32),
    "int16": RNG.integers(0, 255, (60, 120, 3)).astype(np.int16),
    "five-channels": RNG.integers(0, 255, (60, 120, 5), np.uint8),
}


def test_reader_image_guard() -> None:
    assert reader_image(GARBAGE["gray"]).shape == (60, 120, 3)
    assert reader_image(GARBAGE["bgra"]).shape == (60, 120, 3)
    for bad in ("1x1", "empty", "float", "int16", "five-channels"):
        assert reader_image(GARBAGE[bad]) is None, bad
    assert reader_image("not an array") is None
    assert reader_image(np.zeros((9000, 9000), np.uint8)) is None  # 81 MP: over the pixel cap


@pytest.mark.slow
def test_readers_on_garbage_arrays_answer_no_read() -> None:
    from edge.readers.cargo import CargoClassifier
    from edge.readers.cargo_text import CargoTextReader
    from edge.readers.container import ContainerReader
    from edge.readers.hazard import HazardPanelReader
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader

    engine = OcrEngine(threads=1)
    plate, container = PlateReader(engine), ContainerReader(engine, threads=1)
    hazard, text, cargo = HazardPanelReader(engine), CargoTextReader(engine), CargoClassifier(threads=1)
    for name, img in GARBAGE.items():
        assert plate.read(img).text is None, name
        assert container.read(img) == [], name
        assert hazard.read(img) == [], name
        assert text.read(img) == [], name
        c = cargo.classify(img)
        if name not in ("noise", "gray", "bgra", "2x2"):  # random pixels may look like something to a CNN
            assert c.cls == "unknown", (name, c)


@pytest.mark.slow
def test_smartgate_read_reports_bad_files_and_goes_on(tmp_path: Path) -> None:
    files = []
    for name, data in corrupt_files().items():
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    good = tmp_path / "good.jpg"
    good.write_bytes(_jpeg())
    files.append(str(good))
    r = subprocess.run([sys.executable, "-m", "edge.cli", "read", "plate", *files],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == len(files)
    errors = {Path(x["file"]).name: x["error"] for x in lines if "error" in x}
    assert set(errors) == set(corrupt_files())
    assert "not decoded" in errors["bomb.png"]
    assert lines[-1]["file"] == str(good) and "error" not in lines[-1]


def test_model_file_with_a_wrong_sha256_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fake_model_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "det.onnx").write_bytes(b"tampered model bytes")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = {"package": "fake_model_pkg", "path": "det.onnx", "version": "1.0", "sha256": "0" * 64}
    monkeypatch.setattr(models, "load_manifest", lambda: {"det": entry})
    with pytest.raises(models.ModelError, match="sha256 mismatch") as e:
        models.model_path("det")
    assert str(pkg / "det.onnx") in str(e.value)
    entry["sha256"] = models.sha256_file(pkg / "det.onnx")
    assert models.model_path("det") == pkg / "det.onnx"
    with pytest.raises(models.ModelError, match="unknown model file"):
        models.model_path("nope")
