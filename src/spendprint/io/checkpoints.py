"""Monte Carlo checkpoints: a Zarr group of footprint samples with per-chunk done markers.

Layout of ``samples.zarr``: arrays ``footprint`` (sample, stressor, category), ``iterations``,
``residual`` and ``fallback`` (sample); attribute ``fingerprint`` (seed, samples, chunk size and
hashes of model, demand and uncertainty); folder ``_done/`` with one marker file per finished
chunk, written atomically after the chunk's data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ValidationError
from .atomic import write_bytes_atomic


class SampleStore:
    """Zarr group with footprint samples and solver statistics, plus per-chunk done markers."""

    def __init__(self, path: str | os.PathLike, fingerprint: dict, N: int, shape: tuple[int, int],
                 chunk: int, labels: dict | None = None) -> None:
        import zarr

        self.path = Path(path)
        self.done_dir = self.path / "_done"
        exists = (self.path / "zarr.json").is_file()
        if exists:
            self.group = zarr.open_group(str(self.path), mode="a")
            old = self.group.attrs.get("fingerprint")
            if old is None and not any(self.done_dir.glob("*")):
                exists = False  # killed while creating the store: start afresh
            elif old != fingerprint:
                raise ValidationError(
                    f"Monte Carlo store {self.path} holds a different run (seed, samples, chunk "
                    f"size, model, demand or uncertainty differ); use a new store path or delete it")
        if not exists:
            self.path.mkdir(parents=True, exist_ok=True)
            self.group = zarr.open_group(str(self.path), mode="w")
            k, m = shape
            self.group.create_array("footprint", shape=(N, k, m), chunks=(chunk, k, m),
                                    dtype="float64", fill_value=np.nan)
            for name, dt in (("iterations", "int64"), ("residual", "float64"), ("fallback", "bool")):
                self.group.create_array(name, shape=(N,), chunks=(chunk,), dtype=dt)
            self.group.attrs["fingerprint"] = fingerprint
            self._describe(labels or {})
        self.done_dir.mkdir(exist_ok=True)

    def _describe(self, labels: dict) -> None:
        """Units and long names of the arrays (and the labels of their axes) as attributes."""
        units = [str(u) for u in labels.get("units", [])]
        fp = {"long_name": "footprint of each Monte Carlo sample (sample, stressor, category)",
              "stressors": list(labels.get("stressors", [])),
              "categories": list(labels.get("categories", [])), "units_by_stressor": units}
        if units:
            fp["units"] = units[0] if len(set(units)) == 1 else "see units_by_stressor"
        self.group["footprint"].attrs.update(fp)
        self.group["iterations"].attrs.update(
            {"long_name": "solver iterations of the sample", "units": "1"})
        self.group["residual"].attrs.update(
            {"long_name": "largest relative residual of the sample's solves", "units": "1"})
        self.group["fallback"].attrs.update(
            {"long_name": "the sample fell back to refactorising (I - A_s)", "units": "1"})

    def is_done(self, i: int) -> bool:
        return (self.done_dir / f"{i}").is_file()

    def write(self, i: int, start: int, stop: int, E, it, res, fb) -> None:
        self.group["footprint"][start:stop] = E
        self.group["iterations"][start:stop] = it
        self.group["residual"][start:stop] = res
        self.group["fallback"][start:stop] = fb
        write_bytes_atomic(self.done_dir / f"{i}", b"done\n")

    def read(self):
        g = self.group
        return (g["footprint"][...], g["iterations"][...], g["residual"][...], g["fallback"][...])
