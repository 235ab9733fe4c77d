"""smartgate: edge computer-vision inspection pipeline for smart border gates."""

__version__ = "0.1.0"  # the only place the version is written (pyproject reads it)
