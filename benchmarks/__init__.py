"""asv benchmarks and the pymrio comparison script (``python -m benchmarks.compare_pymrio``)."""
