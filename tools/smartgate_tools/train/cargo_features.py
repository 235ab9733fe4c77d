"""Views of the training images and the frozen part of EfficientNet-Lite0, computed once and cached on disk.

The stem and blocks[:START] never train in any recipe, so their output for every (image, view) is computed once
through onnxruntime (five times faster than torch on these CPUs; the same numbers to 1e-4) and kept in
`CACHE/acts_<policy>_<imgsz>_<start>_v<views>_<tag>.npz` (float16), keyed by file content and name. Recipes then train the
last blocks and/or the head on the cached activations, and a linear probe on their frozen pooled features.

View policies (view 0 is always the image itself, view 1 its mirror; the rest are random augmentations,
seeded per file and view so a cache entry never depends on which other files were loaded):
- `light`: the shipped recipe's views — random resized crop 55-100 % area, flip, brightness/contrast, some blur;
- `strong`: random resized crop 25-100 %, flip, hue/saturation/brightness/contrast jitter, grey, blur,
  down-and-up scaling (a gate camera's resolution), JPEG re-encoding, sensor noise.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

from edge.readers.cargo import preprocess

START = 14  # blocks[START:] may train; the stem and blocks[:START] are cached
POLICIES = {"light": 0, "strong": 1}


def _rrc(img: np.ndarray, rng: np.random.Generator, lo: float) -> np.ndarray:
    h, w = img.shape[:2]
    area = rng.uniform(lo, 1.0) * h * w
    ar = np.exp(rng.uniform(np.log(0.75), np.log(1.33))) * w / h
    cw, ch = min(w, int(round(np.sqrt(area * ar)))), min(h, int(round(np.sqrt(area / ar))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img[y0:y0 + ch, x0:x0 + cw]


def augment_light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The shipped recipe's augmentation: random resized crop (55-100 % area), flip, brightness/contrast, blur."""
    out = _rrc(img, rng, 0.55)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    a, b = rng.uniform(0.8, 1.2), rng.uniform(-25, 25)
    out = np.clip(out.astype(np.float32) * a + b, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    return np.ascontiguousarray(out)


def augment_strong(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stronger, camera-like augmentation: the look of a photo source (colour cast, sharpness, framing, noise)
    should not decide the class."""
    out = np.ascontiguousarray(_rrc(img, rng, 0.25))
    if rng.random() < 0.5:
        out = np.ascontiguousarray(out[:, ::-1])
    hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    a, b = rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
    out = np.clip(out.astype(np.float32) * a + b, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < 0.25:
        h, w = out.shape[:2]
        s = rng.uniform(0.2, 0.6)
        small = cv2.resize(out, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(3, 10), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 80))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)


def view(img: np.ndarray, policy: str, v: int, seed: int, path: str) -> np.ndarray:
    if v == 0:
        return img
    if v == 1:
        return np.ascontiguousarray(img[:, ::-1])
    rng = np.random.default_rng([seed, zlib.crc32(Path(path).name.encode()), v, POLICIES[policy]])
    return (augment_light if policy == "light" else augment_strong)(img, rng)


# ---------------------------------------------------------------- the frozen part through onnxruntime


def _frozen_onnx(cache: Path, imgsz: int, start: int) -> Path:
    """stem + blocks[:start] of the ImageNet Lite0, exported once (dynamic batch)."""
    import torch

    from smartgate_tools.train.lite0 import EfficientNetLite0, load_imagenet

    path = cache / f"lite0_frozen_{imgsz}_{start}.onnx"
    if path.is_file():
        return path
    model = EfficientNetLite0()
    load_imagenet(model)

    class Frozen(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            return self.m.stem(x, start)

    net = Frozen().eval()  # export() restores the module's mode afterwards: it must be eval to begin with
    tmp = path.with_suffix(".tmp")
    torch.onnx.export(net, (torch.zeros(2, 3, imgsz, imgsz),), str(tmp), opset_version=17, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    os.replace(tmp, path)
    return path


def _key(path: str) -> str:
    """Content and name (the augmentation seed uses the name): a regenerated or moved copy still hits."""
    return f"{hashlib.sha1(Path(path).read_bytes()).hexdigest()[:20]}|{Path(path).name}"


def frozen_activations(paths: list[str], policy: str, n_views: int, imgsz: int, cache: Path, seed: int = 0,
                       threads: int = 1, start: int = START) -> np.ndarray:
    """float16 array N x V x C x H x W: the frozen part's output for views 0..V-1 of every image."""
    import onnxruntime as ort
    from tqdm import tqdm

    cache.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha1(f"{policy}|{imgsz}|{start}|{seed}|{n_views}".encode()).hexdigest()[:8]
    store = cache / f"acts_{policy}_{imgsz}_{start}_v{n_views}_{tag}.npz"
    have: dict[str, np.ndarray] = {}
    if store.is_file():
        with np.load(store, allow_pickle=False) as z:
            keys = json.loads(str(z["keys"]))
            acts = z["acts"]
            have = {k: acts[i] for i, k in enumerate(keys)}
    keys = [_key(p) for p in paths]
    todo = [i for i, k in enumerate(keys) if k not in have]
    if todo:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(_frozen_onnx(cache, imgsz, start)), opts, providers=["CPUExecutionProvider"])
        for i in tqdm(todo, desc=f"frozen Lite0 blocks[:{start}], {policy} views x{n_views}", file=sys.stderr,
                      disable=len(todo) < 50):
            img = cv2.imread(paths[i], cv2.IMREAD_COLOR)
            if img is None:
                raise SystemExit(f"cannot read {paths[i]}")
            x = np.concatenate([preprocess(view(img, policy, v, seed, paths[i]), imgsz) for v in range(n_views)])
            have[keys[i]] = sess.run(None, {"x": x})[0].astype(np.float16)
        all_keys = list(have)
        tmp = store.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(json.dumps(all_keys)), acts=np.stack([have[k] for k in all_keys]))
        os.replace(tmp, store)
    return np.stack([have[k] for k in keys])
