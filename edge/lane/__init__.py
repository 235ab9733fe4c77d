"""Lane: turning one lane's frames into passage candidates.

Owns occupancy (is the lane empty?), vehicle tracks, frame grouping per lane, the per-frame processing loop
(`pipeline`) that calls the readers, read plausibility, and passage assembly (which reads belong to which
vehicle). May import `edge.domain`, `edge.readers`, `cameras` and `calibration`; nothing above it.
"""
