"""Training code for the models we ship (cargo classifier, CN province glyphs). Needs the `train` extra
(torch, torchvision, ultralytics): `pip install -e '.[train]'`. The runtime never imports this package;
`edge.train.synth` and `edge.train.cn_province`'s renderers import without torch (tests render with them)."""
