"""Developer tools for smartgate: benchmarks, evaluation, training, dataset export, model promotion.

Installed by the development setup only (`make venv` installs `tools/` editable), never in the gate box's
runtime wheel. `smartgate bench|eval|cargo-eval|train|dataset|model` import it lazily and say how to install
it when it is missing.
"""
