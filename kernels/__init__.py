"""Numba kernels of spendprint: plain loops over contiguous arrays (numpy + numba only)."""
