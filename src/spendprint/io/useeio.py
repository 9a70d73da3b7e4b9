"""Reader for US EPA USEEIO models in the USEEIO API's JSON layout.

Layout of a model folder (as served by the USEEIO API and its static exports)::

    sectors.json        [{"id": "1111A0/US", "index": 0, "name": ..., "code": "1111A0",
                          "location": "US"}, ...]
    indicators.json     [{"id": ..., "index": 0, "code": "GHG", "name": ..., "unit": "kg CO2 eq"}, ...]
    flows.json          [{"id": ..., "index": 0, "flowable": ..., "context": ..., "unit": "kg"}, ...]
    demands.json        [{"id": "2020_US-CA_Production_Complete", "year": 2020, "type": ...,
                          "system": ..., "location": ...}, ...]
    demands/<id>.json   [{"sector": "<sector id>", "amount": <USD>}, ...]
    matrix/A.json       n x n direct requirements (USD per USD), row-major nested lists
    matrix/B.json       flows x n direct flow intensities (flow unit per USD), optional
    matrix/C.json       indicators x flows characterisation factors, optional
    matrix/D.json       indicators x n direct impact intensities, D = C B
    matrix/N.json       indicators x n total impact intensities, N = D (I - A)^-1 (not read)
    matrix/q.json       n x 1 commodity output (USD), optional
    matrix/x.json       industry output (USD), optional (may have another length in state models)
    matrix/Rho.json     n x years price-year ratios, optional
    matrix/Phi.json     n x years producer-to-purchaser price ratios, optional
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError


def _load(path: Path, required: bool = True) -> Any:
    if not path.is_file():
        if required:
            raise InputFileError(path, "missing file (a USEEIO API model folder has sectors.json, "
                                       "indicators.json and matrix/A.json, matrix/D.json)")
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not valid JSON: {exc}") from exc


def _matrix(folder: Path, name: str, shape: tuple[int | None, int | None],
            required: bool = True) -> np.ndarray | None:
    path = folder / "matrix" / f"{name}.json"
    data = _load(path, required)
    if data is None:
        return None
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"not a numeric matrix (row-major nested lists): {exc}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    for axis, want in enumerate(shape):
        if want is not None and (arr.ndim != 2 or arr.shape[axis] != want):
            raise InputFileError(path, f"shape {arr.shape}, expected "
                                       f"{tuple('*' if s is None else s for s in shape)}")
    return arr


def _records(path: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    data = _load(path)
    if not isinstance(data, list):
        raise InputFileError(path, "expected a JSON list of objects")
    for i, rec in enumerate(data):
        missing = [k for k in keys if not isinstance(rec, dict) or k not in rec]
        if missing:
            raise InputFileError(path, f"entry {i} lacks field(s) {missing}")
    if all("index" in r for r in data):
        data = sorted(data, key=lambda r: int(r["index"]))
    return data


def _region_of(rec: dict[str, Any]) -> str:
    loc = rec.get("location")
    return str(loc) if loc else str(rec["id"]).rsplit("/", 1)[-1]


def _version(folder: Path) -> str:
    m = re.search(r"v(\d[\w.\-]*)$", folder.name)
    return m.group(1) if m else folder.name


def _price_ratios(arr: np.ndarray | None, perm: np.ndarray, year: int | None) -> dict | None:
    """Rho/Phi as JSON-able meta: ``{"years": [...] or None, "values": n x years nested list}``.

    The files carry no year labels; the columns are consecutive years and the model year is the
    column where every Rho ratio is 1, so years are inferred from it (None when no such column).
    """
    if arr is None:
        return None
    return {"values": arr[perm].tolist(), "years": None, "model_year": year}


def _layout(folder: Path, secs: list[dict[str, Any]]
            ) -> tuple[list[str], list[str], dict[str, str], np.ndarray]:
    """Regions, sector codes, names and the permutation from file order to region-major order."""
    regions: list[str] = []
    codes: dict[str, list[str]] = {}
    pos: dict[tuple[str, str], int] = {}
    names: dict[str, str] = {}
    for i, rec in enumerate(secs):
        r, c = _region_of(rec), str(rec["code"])
        if r not in codes:
            regions.append(r)
            codes[r] = []
        if (r, c) in pos:
            raise InputFileError(folder / "sectors.json", f"sector {c!r} appears twice in region {r!r}")
        codes[r].append(c)
        pos[(r, c)] = i
        names.setdefault(c, str(rec.get("name", c)))
    if not regions:
        raise InputFileError(folder / "sectors.json", "no sectors")
    sectors = codes[regions[0]]
    for r in regions[1:]:
        if set(codes[r]) != set(sectors):
            diff = sorted(set(sectors) ^ set(codes[r]))[:5]
            raise InputFileError(folder / "sectors.json", f"region {r!r} has other sectors than "
                                                          f"{regions[0]!r} (e.g. {diff})")
    perm = np.array([pos[(r, c)] for r in regions for c in sectors], dtype=np.int64)
    return regions, sectors, names, perm


def read_useeio(folder: str | Path, flows: bool = True) -> Any:
    """Read a USEEIO model folder in the USEEIO API's JSON layout.

    Parameters
    ----------
    folder : str or Path
        The model folder (holds `sectors.json`, `indicators.json`, `matrix/A.json`, ...).
    flows : bool
        When `matrix/B.json` and `matrix/C.json` are present, use `B`'s elementary flows as the
        stressors and `C` to characterise them into the indicators (default). With `False`, or when
        `B` is absent, `D`'s indicators (GHG in kg CO2 eq, JOBS, ...) are the stressors.

    Returns
    -------
    MRIO
        - `A` (USD per USD) from `matrix/A.json`, sectors region-major;
        - `regions` from each sector's `location` (or the part after the last `/` of its id:
          `1111A0/US`), `sectors` the BEA `code`s (`meta["sector_names"]` has the names);
        - `S = B` (flow unit per USD), `C` and impacts = indicator codes with their units, so that
          `sp.multipliers(m, "GHG")` is `N = D (I - A)^-1 = C B (I - A)^-1`; or `S = D` without B;
        - `x` = `q` (commodity output, USD). Without `q.json` (national v1 models) `x = (I - A)^-1 y`
          with `y` the sum of the `Production` demand vectors of the latest year
          (`meta["x_source"]` says which);
        - `meta`: source `"USEEIO"`, model (folder name), version, year (of the demand vectors),
          currency `"USD"`, money_unit `"USD"` (USEEIO tables are in dollars, coefficients USD per
          USD), price_basis `"producer"`, system `"cxc"` (commodity by commodity),
          `sector_names`, `useeio_demands` (the demand vector descriptors; vectors from
          [read_useeio_demands][spendprint.io.useeio.read_useeio_demands]), and when present
          `useeio_rho` / `useeio_phi`: `{"values": n x years nested list, "years": [...],
          "model_year": Y}`, price-year ratios (Rho) and producer-to-purchaser ratios (Phi). The
          files carry no year labels: the columns are taken as consecutive years with the model
          year where every Rho ratio is 1 (`years` is None when no column is all ones).

    Raises
    ------
    InputFileError
        Missing or malformed file, wrong matrix shape, regions with different sector lists.
    """
    from ..core.model import MRIO

    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "no such folder; expected a USEEIO API model folder with "
                                     "sectors.json, indicators.json and matrix/")
    secs = _records(folder / "sectors.json", ("id", "code"))
    inds = _records(folder / "indicators.json", ("code", "unit"))
    n = len(secs)
    regions, sectors, names, perm = _layout(folder, secs)

    A = _matrix(folder, "A", (n, n))[np.ix_(perm, perm)]
    k_ind = len(inds)
    B = _matrix(folder, "B", (None, n), required=False) if flows else None
    C = _matrix(folder, "C", (k_ind, None), required=False) if B is not None else None
    ind_names = tuple(str(r["code"]) for r in inds)
    ind_units = tuple(str(r["unit"]) for r in inds)
    if B is not None and C is not None:
        fl = _records(folder / "flows.json", ("id", "unit"))
        if len(fl) != B.shape[0] or C.shape[1] != B.shape[0]:
            raise InputFileError(folder / "matrix" / "B.json",
                                 f"{B.shape[0]} flow rows, flows.json has {len(fl)}, C has "
                                 f"{C.shape[1]} columns")
        S = B[:, perm]
        stressors = tuple(str(f["id"]) for f in fl)
        units = tuple(str(f["unit"]) for f in fl)
        impacts, impact_units, Cmat = ind_names, ind_units, C
    else:
        S = _matrix(folder, "D", (k_ind, n))[:, perm]
        stressors, units = ind_names, ind_units
        impacts, impact_units, Cmat = (), (), None

    demands = _records(folder / "demands.json", ("id",)) if (folder / "demands.json").is_file() else []
    years = [int(d["year"]) for d in demands if d.get("year") is not None]
    year = max(years) if years else None
    q = _matrix(folder, "q", (n, 1), required=False)
    if q is not None:
        x, x_source = q[perm, 0], "q (commodity output)"
    else:
        prod = [d for d in demands if str(d.get("type", "")).lower() == "production"
                and (year is None or d.get("year") == year)]
        if not prod:
            raise InputFileError(folder / "matrix" / "q.json",
                                 "missing, and no Production demand vector to derive output from")
        y = sum(_demand_vector(folder, secs, str(d["id"])) for d in prod)[perm]
        x = np.linalg.solve(np.eye(n) - A, y)
        x_source = "(I - A)^-1 y, y = sum of demand vectors " + ", ".join(str(d["id"]) for d in prod)

    meta: dict[str, Any] = {
        "source": "USEEIO", "model": folder.name, "version": _version(folder), "year": year,
        "currency": "USD", "money_unit": "USD", "price_basis": "producer", "system": "cxc",
        "x_source": x_source, "sector_names": [names[c] for c in sectors],
        "useeio_demands": [{k: d.get(k) for k in ("id", "year", "type", "system", "location")}
                           for d in demands],
    }
    rho = _matrix(folder, "Rho", (n, None), required=False)
    phi = _matrix(folder, "Phi", (n, None), required=False)
    col_years: list[int] | None = None
    if rho is not None and year is not None:
        ones = [j for j in range(rho.shape[1]) if np.allclose(rho[:, j], 1.0, rtol=0, atol=1e-12)]
        if len(ones) == 1:
            col_years = [year - ones[0] + j for j in range(rho.shape[1])]
    for key, arr in (("useeio_rho", rho), ("useeio_phi", phi)):
        ratios = _price_ratios(arr, perm, year)
        if ratios is not None:
            if col_years is not None and arr is not None and arr.shape[1] == len(col_years):
                ratios["years"] = col_years
            meta[key] = ratios
    return MRIO(A=A, x=x, S=S, regions=tuple(regions), sectors=tuple(sectors), stressors=stressors,
                stressor_units=units, C=Cmat, impacts=impacts, impact_units=impact_units, meta=meta)


def _demand_vector(folder: Path, secs: list[dict[str, Any]], demand_id: str) -> np.ndarray:
    """One demand vector in the file's sector order (USD)."""
    path = folder / "demands" / f"{demand_id}.json"
    entries = _load(path)
    index = {str(s["id"]): i for i, s in enumerate(secs)}
    lower = {k.lower(): i for k, i in index.items()}
    y = np.zeros(len(secs))
    if not isinstance(entries, list):
        raise InputFileError(path, "expected a JSON list of {sector, amount}")
    for row, e in enumerate(entries):
        try:
            sid, amount = str(e["sector"]), float(e["amount"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(path, f"entry {row}: expected sector and numeric amount") from exc
        i = index.get(sid, lower.get(sid.lower()))
        if i is None:
            raise InputFileError(path, f"entry {row}: unknown sector {sid!r}")
        y[i] += amount
    return y


def read_useeio_demands(folder: str | Path) -> dict[str, np.ndarray]:
    """The demand vectors of a USEEIO model folder, in the sector order of `read_useeio`.

    Returns
    -------
    dict
        demand id (e.g. `"2020_US-CA_Production_Complete"`) -> vector of length n (USD), region-major
        like the `MRIO` that [read_useeio][spendprint.io.useeio.read_useeio] returns.
    """
    folder = Path(folder)
    secs = _records(folder / "sectors.json", ("id", "code"))
    perm = _layout(folder, secs)[3]
    demands = _records(folder / "demands.json", ("id",))
    return {str(d["id"]): _demand_vector(folder, secs, str(d["id"]))[perm] for d in demands}
