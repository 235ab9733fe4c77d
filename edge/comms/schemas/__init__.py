"""JSON Schemas of the public payloads (a package so the files ship in the wheel)."""
