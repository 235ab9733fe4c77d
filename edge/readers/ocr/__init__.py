"""OCR engine: PP-OCR ONNX text detection and CTC recognition on onnxruntime."""

from edge.readers.ocr.engine import OcrEngine, RecResult, TextLine, crop_quad

__all__ = ["OcrEngine", "RecResult", "TextLine", "crop_quad"]
