"""``spendprint mrio import|info|sectors|synth``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from ._app import app, console

mrio_app = typer.Typer(help="Import, inspect and generate MRIO databases.", no_args_is_help=True)
app.add_typer(mrio_app, name="mrio")


def load_mrio(path: Path, format: str | None = None):
    """Open any registered format (native store, EXIOBASE 3, USEEIO, ...) via `read_mrio`.

    Every load runs the cheap fatal checks (finite values, shapes, spectral radius of A below one):
    the native store does so on open, other formats here.
    """
    from ..core.validation import quick_checks
    from ..io.detect import detect_format, read_mrio

    p = Path(path)
    fmt = format or detect_format(p)
    m = read_mrio(p, format=fmt)
    if fmt != "native":  # open_mrio has run them already
        quick_checks(m)
    return m


def _print_report(report) -> None:
    for line in report.lines():
        style = "red" if line.startswith("problem") else "yellow" if line.startswith("warning") else ""
        text = escape(line)
        console.print(f"  [{style}]{text}[/]" if style else f"  {text}", highlight=False)


@mrio_app.command("import")
def import_(
    src: Path = typer.Argument(..., help="Database file or folder (EXIOBASE 3 zip/folder, USEEIO "
                                         "JSON folder, native store, ...)."),
    dest: Path = typer.Argument(..., help="Native Zarr store to write."),
    format: str = typer.Option(None, "--format", help="Format name (see spendprint.io.detect."
                                                      "FORMATS); detected from the files if omitted."),
    validate: bool = typer.Option(True, help="Full validation report before writing (the cheap "
                                             "fatal checks run always)."),
    strict: bool = typer.Option(False, help="Treat validation warnings as errors."),
    balance_rtol: float = typer.Option(1e-3, help="Relative tolerance of x = Z 1 + Y 1."),
) -> None:
    """Read an MRIO database once and write it as a native store that opens in seconds."""
    from ..core.validation import validate as full_validate

    t0 = time.perf_counter()
    m = load_mrio(src, format)
    if validate:
        report = full_validate(m, strict=strict, balance_rtol=balance_rtol)
        console.print("validation:", highlight=False)
        _print_report(report)
    m.to_zarr(dest)
    console.print(f"wrote {escape(str(dest))}: {escape(repr(m))} in {time.perf_counter() - t0:.1f} s",
                  highlight=False)


@mrio_app.command("info")
def info(
    path: Path = typer.Argument(..., help="Native store or any importable database."),
    sectors: bool = typer.Option(False, "--sectors", help="List every sector (default: the "
                                                          "first 8)."),
    indicators: bool = typer.Option(False, "--indicators", help="List every stressor (default: "
                                                                "every impact and the first 30 "
                                                                "stressors)."),
    validate: bool = typer.Option(True, help="Print the validation report."),
) -> None:
    """Print regions, sectors, indicators with their units, metadata and the validation report.

    Everything is printed as plain text (names and units such as `[kg]` are never read as rich
    markup), and lines are not wrapped, so the output can be searched with grep.
    """
    from ..core.validation import validate as full_validate

    m = load_mrio(path)

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(repr(m))
    for k, v in m.meta.items():
        if isinstance(v, (list, dict)) and len(str(v)) > 200:
            v = f"<{type(v).__name__} of {len(v)}>"
        say(f"  {k}: {v}")
    say(f"  regions ({len(m.regions)}): {', '.join(m.regions)}")
    shown = list(m.sectors) if sectors else list(m.sectors[:8])
    more = "" if sectors or len(m.sectors) <= 8 else " ... (--sectors lists all)"
    say(f"  sectors ({len(m.sectors)}): {', '.join(shown)}{more}")
    # every characterised impact, then the stressors (the first 30 unless --indicators: USEEIO
    # has 2,412 flows)
    limit = None if indicators else 30
    pairs = list(zip(m.impacts, m.impact_units, strict=True))
    pairs += list(zip(m.stressors, m.stressor_units, strict=True))[:limit]
    for name, unit in pairs:
        say(f"  indicator: {name} [{unit}]")
    if limit is not None and len(m.stressors) > limit:
        say(f"  ... {len(m.stressors) - limit} more stressors (--indicators lists all)")
    if validate:
        say("validation:")
        _print_report(full_validate(m))


@mrio_app.command("sectors")
def sectors_(
    path: Path = typer.Argument(None, help="Native store or any importable database; the synthetic "
                                           "world (49 x 200, seed 0) when omitted."),
) -> None:
    """Print the model's products, one per line: `code<TAB>name` where the model has codes."""
    if path is None:
        from ..core.synthetic import synthetic_mrio

        m = synthetic_mrio(regions=1, sectors=200, seed=0)
    else:
        m = load_mrio(path)
    names = m.meta.get("sector_names")
    if isinstance(names, (list, tuple)) and len(names) == len(m.sectors):
        lines = [f"{code}\t{name}" for code, name in zip(m.sectors, names, strict=True)]
    else:
        lines = list(m.sectors)
    typer.echo("\n".join(lines))  # plain text (tabs kept, no markup, no wrapping): pipe-able


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
    console.print(f"wrote {escape(str(dest))}: {escape(repr(m))} in {time.perf_counter() - t0:.1f} s",
                  highlight=False)
