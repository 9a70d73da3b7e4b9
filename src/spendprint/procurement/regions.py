"""Map country names and ISO codes to the regions of an MRIO (country_converter, cached)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

_NOT_FOUND = "__spendprint_not_found__"


@functools.lru_cache(maxsize=1)
def _converter() -> Any:
    """The country_converter instance (slow to build: built once per process, on first use)."""
    import country_converter as coco

    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return coco.CountryConverter()


@functools.lru_cache(maxsize=4096)
def _exio3(name: str) -> str | None:
    out = _converter().convert([name], to="EXIO3", not_found=_NOT_FOUND)
    code = out[0] if isinstance(out, list) else out
    return None if code == _NOT_FOUND or not isinstance(code, str) else code


def map_regions(names: Iterable[Any], regions: Sequence[str]) -> dict[str, str | None]:
    """Map each distinct name to one of ``regions``, or to None when it maps to none.

    A name that is already a region label (case-insensitive, e.g. ``NO``, ``WA``) maps to itself;
    any other country name or ISO-2/ISO-3 code goes through ``country_converter`` to an EXIOBASE 3
    region (``EXIO3`` classification: 44 countries and the rest-of-world regions WA, WL, WE, WF,
    WM), which must be one of ``regions``.

    Parameters
    ----------
    names : iterable of str
        Country names or codes; only distinct values are converted (fast for big ledgers).
    regions : sequence of str
        The MRIO's region labels.

    Returns
    -------
    dict
        ``{name: region or None}`` for every distinct non-empty name.
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
        code = _exio3(name)
        out[name] = upper.get(code.upper()) if code else None
    return out
