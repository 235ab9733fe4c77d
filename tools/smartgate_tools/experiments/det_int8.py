"""Is an int8 text detector faster here? PP-OCRv6-tiny's detector, fp32 against a static int8 copy.

The copy is quantised with onnxruntime (QDQ, per-channel int8 weights, uint8 activations), calibrated on frames of
the sample footage (every 40th frame of data_samples/clips/demo, never ../shared/eval), and both run on the same
frames at the pipeline's container detector size with the gate box's session settings (2 threads, no spinning).
Prints the mean time per frame of each, three rounds (the machine is noisy), and how far the int8 probability map is from
the fp32 one. Nothing is written into the repository: the quantised model goes to a temporary folder.

    .venv/bin/python -m smartgate_tools.experiments.det_int8 [--max-side 640] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

SAMPLES = Path(__file__).resolve().parents[3] / "data_samples" / "clips" / "demo"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the v6 detector's normalisation (edge.readers.ocr)


def detector_input(img: np.ndarray, max_side: int) -> np.ndarray:
    """The engine's detector pre-processing: scale to `max_side` (never up), multiples of 32, normalise, NCHW."""
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    rh, rw = max(32, int(round(h * s / 32)) * 32), max(32, int(round(w * s / 32)) * 32)
    x = cv2.resize(img, (rw, rh)).astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return x.transpose(2, 0, 1)[None]


def sample_frames(every: int = 40) -> list[np.ndarray]:
    frames = []
    for clip in sorted(SAMPLES.glob("*/*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(img)
            i += 1
    return frames


def session(path: str, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from models import model_path

    p = argparse.ArgumentParser(prog="det_int8", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-side", type=int, default=640)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    src = str(model_path("v6_tiny_det"))
    name = session(src, 1).get_inputs()[0].name
    inputs = [detector_input(f, args.max_side) for f in sample_frames()]

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{name: x} for x in inputs])

        def get_next(self) -> dict | None:
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre, int8 = f"{tmp}/pre.onnx", f"{tmp}/int8.onnx"
        quant_pre_process(src, pre, skip_symbolic_shape=True)  # the detector's dynamic shapes defeat the symbolic pass
        quantize_static(pre, int8, Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
        fp, q = session(src, args.threads), session(int8, args.threads)
        xs = inputs[::3]
        for s in (fp, q):
            s.run(None, {name: xs[0]})  # warm-up
        for _ in range(3):
            for label, s in (("fp32", fp), ("int8", q)):
                t0 = time.perf_counter()
                for x in xs:
                    s.run(None, {name: x})
                print(f"{label}: {(time.perf_counter() - t0) / len(xs) * 1000:.2f} ms a frame ({len(xs)} frames)")
        diff = [float(np.abs(fp.run(None, {name: x})[0] - q.run(None, {name: x})[0]).mean()) for x in xs]
        print(f"mean |int8 - fp32| text probability: {np.mean(diff):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
