"""`make scale`: the scheduled jobs' fan-out simulated for N connections (docs/scale.md)."""
