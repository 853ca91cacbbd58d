"""Benchmarks: ``python -m bench`` (small default) or ``python -m bench --scale 100k``."""
