"""Decision: from an assembled passage to a verdict. Pure functions, no I/O.

Owns voting across frames, building the final passage, matching it with a declared manifest, and the gate's
policy (clear / flag with reasons). May import `edge.domain`, `edge.readers` (result types) and `edge.lane`;
nothing that touches disks, sockets or clocks other than the ones passed in.
"""
