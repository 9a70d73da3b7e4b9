"""Numbers and names for people: SI prefixes, fixed significant digits, region names.

Every number the report and the workbook show goes through this module, so none is printed in
scientific notation. Digits are grouped with Babel's CLDR patterns (``locale``, default ``en``).

* `quantity` turns ``7.172e8`` with unit ``kg CO2e`` into ``717 kt CO2e``: masses in ``kg``
  move to g, kg, t, kt or Mt; other units get a word (thousand, million, billion).
* `money` turns ``1350`` in ``M EUR`` into ``1.35 bn EUR``.
* `intensity` gives the footprint per currency unit (``0.359 kg CO2e per EUR``).
* `percent` writes a share (0-1) as a percentage with fixed significant digits.
* `region_name` spells out a region code: ``MY`` -> ``Malaysia``, ``WA`` -> ``rest of Asia and
  Pacific (WA)``.
"""

from __future__ import annotations

import functools
import math

from babel.numbers import format_decimal

LOCALE = "en"

#: EXIOBASE 3's rest-of-world regions (and a few of other models) by code
REST_OF_WORLD = {
    "WA": "rest of Asia and Pacific", "WL": "rest of America", "WE": "rest of Europe",
    "WF": "rest of Africa", "WM": "rest of Middle East", "ROW": "rest of the world",
}
_MASS = ((1e9, "Mt"), (1e6, "kt"), (1e3, "t"), (1.0, "kg"), (1e-3, "g"))
_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
_MONEY = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "MN": 1e6, "BN": 1e9, "B": 1e9}
_MONEY_OUT = ((1e9, "bn"), (1e6, "M"), (1e3, "k"))


def number(x: float, sig: int = 3, locale: str = LOCALE) -> str:
    """``x`` rounded to ``sig`` significant digits with grouped thousands (never ``1e+08``).

    Integers above ``10**sig`` keep all their digits (``717,245`` stays ``717,000``, rounded);
    NaN gives an en dash.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(sig - 1 - mag, 0)
    rounded = round(x, sig - 1 - mag)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(rounded, format=pattern, locale=locale)


def percent(share: float, sig: int = 3, locale: str = LOCALE) -> str:
    """A share (0-1) as a percentage: ``0.4427`` -> ``44.3 %``, ``0.00083`` -> ``0.083 %``;
    below 0.01 % ``< 0.01 %``."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    v = 100.0 * float(share)
    if v != 0 and abs(v) < 0.01:
        return ("< 0.01 %" if v > 0 else "> -0.01 %")
    return f"{number(v, sig if abs(v) >= 1 else 2, locale)} %"


def split_unit(unit: str) -> tuple[str, str]:
    """``"kg CO2e"`` -> ``("kg", " CO2e")``: the scalable head and the rest."""
    unit = str(unit).strip()
    head, _, tail = unit.partition(" ")
    return head, (" " + tail if tail else "")


def quantity(x: float, unit: str, sig: int = 3, locale: str = LOCALE) -> str:
    """``7.172e8, "kg CO2e"`` -> ``"717 kt CO2e"``; ``2.67e7, "h"`` -> ``"26.7 million h"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if x == 0:
        return f"0 {unit}"
    head, tail = split_unit(unit)
    a = abs(x)
    if head == "kg":
        for scale, name in _MASS:
            if a >= scale or scale == _MASS[-1][0]:
                return f"{number(x / scale, sig, locale)} {name}{tail}"
    for scale, word in _WORDS:
        if a >= scale:
            return f"{number(x / scale, sig, locale)} {word} {unit}"
    return f"{number(x, sig, locale)} {unit}"


def money_unit(unit: str) -> tuple[float, str]:
    """``"M EUR"`` -> ``(1e6, "EUR")``; ``"NOK"`` -> ``(1.0, "NOK")``."""
    parts = str(unit).split()
    if len(parts) == 2 and parts[0] in _MONEY:
        return _MONEY[parts[0]], parts[1]
    return 1.0, str(unit)


def money(x: float, unit: str, sig: int = 3, locale: str = LOCALE) -> str:
    """``1350, "M EUR"`` -> ``"1.35 bn EUR"``; ``2.69e9, "NOK"`` -> ``"2.69 bn NOK"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    scale, cur = money_unit(unit)
    v = float(x) * scale
    for s, name in _MONEY_OUT:
        if abs(v) >= s:
            return f"{number(v / s, sig, locale)} {name} {cur}"
    return f"{number(v, sig, locale)} {cur}"


def intensity(footprint: float, spend: float, unit: str, money_unit_: str, sig: int = 3,
              locale: str = LOCALE) -> str:
    """Footprint per currency unit: ``(3.59e5 kg CO2e, 1 M EUR)`` -> ``"0.359 kg CO2e per EUR"``.

    ``spend`` is in ``money_unit_`` (``M EUR`` or the ledger currency); a mass unit is scaled
    (g, kg, t) to keep the number readable.
    """
    if not spend or (isinstance(spend, float) and math.isnan(spend)):
        return "–"
    scale, cur = money_unit(money_unit_)
    per = float(footprint) / (float(spend) * scale)
    head, tail = split_unit(unit)
    if head == "kg" and per != 0:
        a = abs(per)
        if a >= 1e3:
            return f"{number(per / 1e3, sig, locale)} t{tail} per {cur}"
        if a < 1e-2:
            return f"{number(per * 1e3, sig, locale)} g{tail} per {cur}"
    return f"{number(per, sig, locale)} {unit} per {cur}"


@functools.lru_cache(maxsize=4096)
def region_name(code: str, locale: str = LOCALE) -> str:
    """Full name of a region code: CLDR names for ISO-2 and ISO-3 codes, EXIOBASE's rest-of-world
    regions spelled out with their code (``rest of Asia and Pacific (WA)``); unknown codes stay."""
    code = str(code)
    if code.upper() in REST_OF_WORLD:
        return f"{REST_OF_WORLD[code.upper()]} ({code})"
    from babel import Locale

    terr = Locale.parse(locale).territories
    if len(code) == 2 and code.upper() in terr:
        return terr[code.upper()]
    if len(code) == 3:
        try:
            from ..procurement.countries import iso2

            two = iso2(code)
        except Exception:  # noqa: BLE001 - an unknown code keeps its code
            two = None
        if two and two in terr:
            return terr[two]
    return code


def region_label(code: str, locale: str = LOCALE) -> str:
    """``"Malaysia (MY)"``: the full name with the code, for tables next to the code-only files."""
    name = region_name(code, locale)
    return name if name.endswith(f"({code})") or name == code else f"{name} ({code})"


def scale_for(x: float, unit: str) -> tuple[float, str]:
    """Divisor and unit label for an axis whose largest value is ``x``: ``(1e6, "kt CO2e")``."""
    head, tail = split_unit(unit)
    a = abs(float(x)) if x else 0.0
    if head == "kg":
        for scale, name in _MASS:
            if a >= scale or scale == _MASS[-1][0]:
                return scale, f"{name}{tail}"
    for scale, word in _WORDS:
        if a >= scale:
            return scale, f"{word} {unit}"
    return 1.0, unit


def intensity_scale(values, unit: str, money_unit_: str) -> tuple[float, str]:
    """One unit for a column of intensities (footprint per ``money_unit_``, given per unit of
    ``money_unit_``): factor to multiply by and its label, e.g. ``(1e-3, "g CO2e per NOK")``
    chosen from the median so that a column never mixes g and kg."""
    import numpy as np

    scale, cur = money_unit(money_unit_)
    v = np.abs(np.asarray(values, dtype=float)) / scale
    v = v[np.isfinite(v) & (v > 0)]
    med = float(np.median(v)) if v.size else 1.0
    head, tail = split_unit(unit)
    if head == "kg":
        if med >= 1e3:
            return 1e-3 / scale, f"t{tail} per {cur}"
        if med < 0.05:
            return 1e3 / scale, f"g{tail} per {cur}"
        return 1.0 / scale, f"kg{tail} per {cur}"
    return 1.0 / scale, f"{unit} per {cur}"
