"""``spendprint mrio import|info|synth``."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import app, console

mrio_app = typer.Typer(help="Import, inspect and generate MRIO databases.", no_args_is_help=True)
app.add_typer(mrio_app, name="mrio")


def load_mrio(path: Path):
    """Open a native store, or read EXIOBASE 3 (zip or folder) directly."""
    from ..errors import InputFileError
    from ..io.native_store import open_mrio

    p = Path(path)
    if not p.exists():
        raise InputFileError(p, "no such file or folder (expected a native store made by `spendprint "
                                "mrio import`/`synth`, or an EXIOBASE 3 IOT zip or folder)")
    if p.is_dir() and (p / "zarr.json").exists():
        return open_mrio(p)
    from ..io.exiobase import read_exiobase3

    return read_exiobase3(p)


@mrio_app.command("import")
def import_(
    src: Path = typer.Argument(..., help="EXIOBASE 3 IOT zip or folder, or a pymrio folder."),
    dest: Path = typer.Argument(..., help="Native Zarr store to write."),
    validate: bool = typer.Option(True, help="Validate the model before writing."),
) -> None:
    """Read an MRIO database once and write it as a native store that opens in seconds."""
    t0 = time.perf_counter()
    m = load_mrio(src)
    if validate:
        m.validate(balance_rtol=1e-3)
    m.to_zarr(dest)
    console.print(f"wrote {dest}: {m!r} in {time.perf_counter() - t0:.1f} s")


@mrio_app.command("info")
def info(path: Path = typer.Argument(..., help="Native store or EXIOBASE 3 zip/folder.")) -> None:
    """Print regions, sectors, stressors, units and metadata of a model."""
    m = load_mrio(path)
    console.print(repr(m))
    for k, v in m.meta.items():
        console.print(f"  {k}: {v}")
    console.print(f"  regions ({len(m.regions)}): {', '.join(m.regions)}")
    shown = ", ".join(m.sectors[:8]) + (" ..." if len(m.sectors) > 8 else "")
    console.print(f"  sectors ({len(m.sectors)}): {shown}", highlight=False)
    for name, unit in list(zip(m.indicators, m.indicator_units, strict=True))[:30]:
        console.print(f"  indicator: {name} [{unit}]", highlight=False)
    if len(m.indicators) > 30:
        console.print(f"  ... {len(m.indicators) - 30} more indicators")


@mrio_app.command("synth")
def synth(
    dest: Path = typer.Argument(..., help="Native Zarr store to write."),
    regions: int = typer.Option(49, help="Number of regions (1-49)."),
    sectors: int = typer.Option(200, help="Number of products (1-200)."),
    seed: int = typer.Option(0, help="Random seed; the world is a pure function of it."),
) -> None:
    """Generate a deterministic synthetic EXIOBASE-like world (labelled synthetic)."""
    from ..core.synthetic import synthetic_mrio

    t0 = time.perf_counter()
    m = synthetic_mrio(regions=regions, sectors=sectors, seed=seed)
    m.to_zarr(dest)
    console.print(f"wrote {dest}: {m!r} in {time.perf_counter() - t0:.1f} s")
