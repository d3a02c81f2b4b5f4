"""Benchmarks: ``python -m benchmarks.rfm_bench`` (``make bench``)."""
