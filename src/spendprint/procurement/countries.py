"""Country names in the buyer's language -> ISO codes (Babel's CLDR territory names).

Ledgers name supplier countries as the accounting system writes them: `Norge`, `Sverige`,
`Tyskland`, `Deutschland`, `Kina`, `Storbritannia`, `USA`, or as ISO 3166 codes (`NO`, `NOR`). The
names come from the Unicode CLDR territory names shipped with Babel (`babel.Locale(lang).territories`)
for Norwegian (Bokmål and Nynorsk), Swedish, Danish, German, Finnish and English; ISO-2 -> ISO-3 and
-> EXIOBASE 3 regions come from `country_converter`'s table. Names that CLDR does not know (e.g.
`Republic of Korea`) fall back to `country_converter`'s English regular expressions.

Matching is case-, whitespace-, punctuation- and accent-insensitive ([fold][spendprint.procurement.countries.fold]).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from typing import Any

#: CLDR locales whose territory names are recognised.
LANGUAGES = ("en", "nb", "nn", "sv", "da", "de", "fi")
_SPECIAL = str.maketrans({"ø": "o", "æ": "ae", "å": "a", "ß": "ss", "đ": "d", "ł": "l",
                          "œ": "oe", "þ": "th"})
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: object) -> str:
    """A comparison key: casefold, `ø`->`o`, `æ`->`ae`, `å`->`a`, `ß`->`ss`, accents dropped
    (Unicode NFKD without combining marks), punctuation and runs of white space -> one space.

    `" Beløp  eks. MVA "` -> `"belop eks mva"`; `"Währung"` -> `"wahrung"`; `"År"` -> `"ar"`.
    """
    s = str(text).casefold().translate(_SPECIAL)
    s = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", s).strip()


@functools.lru_cache(maxsize=1)
def _coco() -> Any:
    import country_converter as coco

    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return coco.CountryConverter()


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(folded name or code -> ISO2, ISO2 -> ISO3, ISO2 -> EXIO3)."""
    from babel import Locale

    data = _coco().data
    names: dict[str, str] = {}
    iso2, to3, toexio = [], {}, {}
    for r2, r3, rex in zip(data["ISO2"].astype(str), data["ISO3"].astype(str),
                           data["EXIO3"].astype(str), strict=True):
        # some cells are regular expressions such as ``^GB$|^UK$``: first code canonical
        c2, c3 = re.findall(r"[A-Z]{2}", r2), re.findall(r"[A-Z]{3}", r3)
        if not c2 or not c3:
            iso2.append("")
            continue
        iso2.append(c2[0])
        to3[c2[0]], toexio[c2[0]] = c3[0], rex
        for alias in c2 + c3:
            names.setdefault(fold(alias), c2[0])
    for i2, short in zip(iso2, data["name_short"].astype(str), strict=True):
        if i2:
            names.setdefault(fold(short), i2)
    for lang in LANGUAGES:
        for code, name in Locale.parse(lang).territories.items():
            if len(code) == 2 and code.isalpha() and code in to3:
                names.setdefault(fold(name), code)
    # CLDR's short forms ("USA", "UK") are alternate names, not in `territories`
    names.setdefault("uk", "GB")
    names.setdefault("usa", "US")
    return names, to3, toexio


@functools.lru_cache(maxsize=8192)
def iso2(name: object) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country name (any of [LANGUAGES]) or ISO-2/ISO-3 code.

    Returns None for a name that is not a country.
    """
    key = fold(name)
    if not key:
        return None
    names, _, _ = _tables()
    if key in names:
        return names[key]
    out = _coco().convert([str(name)], to="ISO2", not_found=None)
    code = out[0] if isinstance(out, list) else out
    return code if isinstance(code, str) and code in _tables()[1] else None


def iso3(name: object) -> str | None:
    """The ISO 3166-1 alpha-3 code (see [iso2][spendprint.procurement.countries.iso2])."""
    code = iso2(name)
    return _tables()[1].get(code) if code else None


def exio3(name: object) -> str | None:
    """The EXIOBASE 3 region: a country code (`NO`, `DE`) or a rest-of-world region (`WA`, `WL`,
    `WE`, `WF`, `WM`)."""
    code = iso2(name)
    return _tables()[2].get(code) if code else None


def country_names(lang: str = "en") -> list[str]:
    """Every country name known for a CLDR language (for did-you-mean suggestions)."""
    from babel import Locale

    to3 = _tables()[1]
    return [n for c, n in Locale.parse(lang).territories.items() if c in to3]


@functools.lru_cache(maxsize=1)
def _all_names() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for lang in LANGUAGES:
        seen.update(dict.fromkeys(country_names(lang)))
    return tuple(seen)


def suggest_country(name: object, n: int = 3) -> list[str]:
    """Close country names (any language in [LANGUAGES]) for a name that is not recognised."""
    import difflib

    names = _all_names()
    folded = {fold(x): x for x in names}
    hits = difflib.get_close_matches(fold(name), list(folded), n=n, cutoff=0.75)
    return [folded[h] for h in hits]
