"""Getting a benchmark's config and readers ready: `--set` overrides, the site config, a warm-up read.

Shared by the sample benchmark (main.py) and the footage check (vehicles.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import Config
from edge.readers.interfaces import Readers
from smartgate_tools.bench.footage import site_config_for


def with_overrides(cfg: Config, overrides: list[str]) -> Config:
    """`KEY=VALUE` pipeline settings (VALUE parsed as YAML), validated like the config file."""
    import yaml

    from edge.config import PipelineConfig

    if not overrides:
        return cfg
    values = cfg.pipeline.model_dump()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in values:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(values)}")
        values[key] = yaml.safe_load(value)
    return cfg.model_copy(update={"pipeline": PipelineConfig.model_validate(values)})


def site_config(args: argparse.Namespace, samples: str | Path | None = None) -> Path | None:
    """`--config FILE`, else the samples' own gate config (clips/demo → demo.yaml) when there is one; 'none': no
    site config (bare cameras, default pipeline settings)."""
    given = getattr(args, "site_config", None)
    if given is None:
        return site_config_for(samples or args.samples)
    return None if str(given).lower() == "none" else Path(given)


def warm_up(cfg: Config, readers: Readers) -> None:
    """One read per camera before timing: the first onnxruntime run allocates its arenas."""
    from cameras.factory import open_source

    for cam in cfg.cameras:
        src = open_source(cam)
        try:
            frame = next(iter(src.frames()), None)
        finally:
            src.close()
        if frame is None:
            continue
        if cam.role == "plate" and readers.plate:
            readers.plate.read(frame.image)
        elif cam.role == "container" and readers.container:
            readers.container.read(frame.image)
        elif cam.role == "cargo" and readers.cargo:
            readers.cargo.classify(frame.image)
