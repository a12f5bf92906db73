"""The learning-effectiveness benchmark's parts (`make bench-learning`, benchmarks/bench_learning.py)."""
