"""Readers: licence plates (plate.py) and ISO 6346 container codes (container.py)."""
