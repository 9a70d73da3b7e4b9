"""``spendprint mrio download``: the only command that touches the network."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import console
from .mrio import mrio_app


@mrio_app.command("download")
def download_(
    database: str = typer.Argument(..., help="exiobase3, oecd-icio, figaro, wiod, useeio "
                                             "(direct link: --url), gloria, eora26 (login only)."),
    dest: Path = typer.Argument(..., help="Folder to download into."),
    year: int | None = typer.Option(None, help="Year of the table."),
    system: str = typer.Option("pxp", help="pxp (product x product) or ixi (industry x industry)."),
    version: str | None = typer.Option(None, help="Database version (EXIOBASE 3: 3.8.2, 3.9.5)."),
    url: str | None = typer.Option(None, help="Zenodo API base URL (EXIOBASE; default "
                                              "$SPENDPRINT_DOWNLOAD_BASE or https://zenodo.org) "
                                              "or the file's URL (direct-link databases)."),
    checksum: str | None = typer.Option(None, help="md5:<hex> or sha256:<hex> to verify a "
                                                   "direct-link file against."),
    retries: int = typer.Option(5, help="Interruptions to resume from before giving up."),
) -> None:
    """Download a database file (resumable; verified against the published checksum)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from ..io.download import download

    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(f"{database} {year or ''} {system}".strip(), total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        path = download(database, year, dest, system=system, url=url, progress=progress,
                        version=version, checksum=checksum, retries=retries)
    size = path.stat().st_size
    console.print(f"downloaded {path} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s; "
                  f"import it with `spendprint mrio import {path} STORE`", highlight=False)
