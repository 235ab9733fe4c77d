"""What the lane expects of a reader, and the set of readers a lane runs.

A new reader implements one of these protocols (structurally: no base class to inherit), gets a field in
`Readers`, and is built from the config in `edge/readers/factory.py`; the lane pipeline calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.domain.types import CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence


class PlateReaderLike(Protocol):
    def read(self, image: np.ndarray) -> PlateRead: ...


class ContainerReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[ContainerRead]: ...


class CargoClassifierLike(Protocol):
    def classify(self, image: np.ndarray) -> CargoRead: ...


class HazardReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[HazardRead]: ...


class CargoTextReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[TextEvidence]: ...


@dataclass
class Readers:
    """The readers one lane runs; None: that kind is not read (no camera of that role)."""

    plate: PlateReaderLike | None = None
    container: ContainerReaderLike | None = None
    cargo: CargoClassifierLike | None = None
    hazard: HazardReaderLike | None = None  # ADR panels: front (plate camera) and sides (container camera)
    cargo_text: CargoTextReaderLike | None = None  # words on sacks and cartons (cargo camera)
