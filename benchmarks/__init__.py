"""asv benchmarks and the pymrio comparison script (``python benchmarks/compare_pymrio.py``)."""
