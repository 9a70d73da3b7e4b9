"""asv benchmarks of the EXIOBASE 3 reader on files written in EXIOBASE layout (no download)."""

from __future__ import annotations

from pathlib import Path

from spendprint.io.exiobase import read_exiobase3, read_exiobase_table, write_exiobase3_like

from ._common import SIZES, world


class ReadExiobase:
    """Parse ``A.txt`` alone and the whole system, from a folder and from a zip.

    The files are written once per run (``setup_cache``, in asv's scratch folder) for all sizes.
    """

    params = [SIZES]
    param_names = ["n"]
    timeout = 600

    def setup_cache(self) -> dict[int, tuple[str, str, int]]:
        files = {}
        for n in self.params[0]:
            m = world(n)
            folder = write_exiobase3_like(m, Path(f"exio-{n}") / "IOT_2022_pxp")
            archive = write_exiobase3_like(m, Path(f"exio-{n}") / "IOT_2022_pxp.zip", zip=True)
            files[n] = (str(folder.resolve()), str(archive.resolve()), m.n)
        return files

    def setup(self, files: dict[int, tuple[str, str, int]], n: int) -> None:
        folder, archive, self.n = files[n]
        self.folder, self.zip = Path(folder), Path(archive)

    def time_read_A(self, files, n: int) -> None:
        read_exiobase_table(self.folder / "A.txt", n_rows=self.n)

    def peakmem_read_A(self, files, n: int) -> None:
        read_exiobase_table(self.folder / "A.txt", n_rows=self.n)

    def time_read_exiobase3_folder(self, files, n: int) -> None:
        read_exiobase3(self.folder)

    def time_read_exiobase3_zip(self, files, n: int) -> None:
        read_exiobase3(self.zip)

    def peakmem_read_exiobase3_zip(self, files, n: int) -> None:
        read_exiobase3(self.zip)
