"""Map country names and ISO codes to the regions of an MRIO.

Names in Norwegian, Swedish, Danish, German, Finnish and English and ISO-2/ISO-3 codes are
resolved by [spendprint.procurement.countries][] (Babel's CLDR names, `country_converter`'s
code table); the ISO code is then matched to the model's labels:

* a name that is already a region label (case-insensitive, e.g. `NO`, `WA`, `NOR`) maps to itself;
* a model whose regions are ISO-3 codes (OECD ICIO, GLORIA, Eora) gets the ISO-3 code;
* a model whose regions are ISO-2 codes (EXIOBASE 3) gets the ISO-2 code, and a country outside
  its 44 gets the EXIOBASE rest-of-world region (`WA` Asia-Pacific, `WL` Americas, `WE` Europe,
  `WF` Africa, `WM` Middle East), when the model has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import countries


def _converter() -> Any:
    """The shared `country_converter` instance (built once per process; used by `compare`)."""
    return countries._coco()


def map_regions(names: Iterable[Any], regions: Sequence[str]) -> dict[str, str | None]:
    """Map each distinct name to one of ``regions``, or to None when it maps to none.

    Parameters
    ----------
    names : iterable of str
        Country names (see [LANGUAGES][spendprint.procurement.countries.LANGUAGES]) or ISO
        codes; only distinct values are converted (fast for big ledgers).
    regions : sequence of str
        The MRIO's region labels.

    Returns
    -------
    dict
        ``{name: region or None}`` for every distinct non-empty name.

    Examples
    --------
    `map_regions(["Norge", "Kina", "Malaysia"], exiobase.regions)` -> `{"Norge": "NO",
    "Kina": "CN", "Malaysia": "WA"}`; with ICIO's ISO-3 regions `{"Norge": "NOR", ...,
    "Malaysia": "MYS"}`.
    """
    regions = [str(r) for r in regions]
    upper = {r.upper(): r for r in regions}
    out: dict[str, str | None] = {}
    for name in dict.fromkeys(str(n).strip() for n in names):
        if not name:
            continue
        if name.upper() in upper:
            out[name] = upper[name.upper()]
            continue
        code2 = countries.iso2(name)
        hit = None
        if code2 is not None:
            for cand in (code2, countries.iso3(name), countries.exio3(name)):
                if cand and cand.upper() in upper:
                    hit = upper[cand.upper()]
                    break
        out[name] = hit
    return out
