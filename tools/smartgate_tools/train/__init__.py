"""Training code for the models we ship (cargo classifier, CN province glyphs). Needs the `train` extra
(torch, torchvision, ultralytics): `pip install -e '.[train]'`. The runtime never imports this package;
`smartgate_tools.train.synth` and `smartgate_tools.train.train_cn_province`'s renderers import without torch (tests render with them)."""
