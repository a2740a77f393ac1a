"""Benchmark harness (`coopo bench`) and results report (`coopo report`)."""
