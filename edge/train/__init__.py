"""Training code (cargo classifier). Needs the `train` extra (torch, torchvision, ultralytics):
`pip install -e '.[train]'`. Only `edge.train.synth` is importable without torch (tests render with it)."""
