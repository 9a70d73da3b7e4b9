"""Country names in the buyer's language -> the MRIO's regions (ISO-2, ISO-3, EXIOBASE RoW)."""

from __future__ import annotations

import pytest

from spendprint.procurement.countries import exio3, fold, iso2, iso3, suggest_country
from spendprint.procurement.regions import map_regions

EXIO = ["NO", "SE", "DK", "DE", "FI", "GB", "US", "CN", "IN", "WA", "WL", "WE", "WF", "WM"]


def test_fold():
    assert fold(" Beløp  eks. MVA ") == "belop eks mva"
    assert fold("Währung") == "wahrung"
    assert fold("År") == "ar"
    assert fold("Æblegrød") == "aeblegrod"
    assert fold("Straße") == "strasse"


@pytest.mark.parametrize(("name", "code"), [
    ("Norge", "NO"), ("Noreg", "NO"), ("Sverige", "SE"), ("Tyskland", "DE"),
    ("Deutschland", "DE"), ("Kina", "CN"), ("Kiina", "CN"), ("Indien", "IN"),
    ("Storbritannia", "GB"), ("Storbritannien", "GB"), ("Vereinigtes Königreich", "GB"),
    ("UK", "GB"), ("USA", "US"), ("Vereinigte Staaten", "US"), ("Danmark", "DK"),
    ("Dänemark", "DK"), ("Finland", "FI"), ("Suomi", "FI"), ("Malaysia", "MY"),
    ("NOR", "NO"), ("no", "NO"), ("  norge ", "NO"), ("Republic of Korea", "KR"),
])
def test_iso2_from_names_in_each_language(name, code):
    assert iso2(name) == code


def test_codes_and_not_countries():
    assert iso3("Tyskland") == "DEU" and iso3("Malaysia") == "MYS"
    assert exio3("Malaysia") == "WA" and exio3("Brasil") == "BR" and exio3("Namibia") == "WF"
    assert iso2("Atlantis") is None and iso2("") is None
    assert suggest_country("Tyskand") == ["Tyskland"]


def test_map_regions_exiobase_with_rest_of_world():
    out = map_regions(["Norge", "Sverige", "Tyskland", "Kina", "Malaysia", "Indien",
                       "Deutschland", "Storbritannia", "USA", "Chile", "Nigeria", "Iran",
                       "Atlantis", "wa"], EXIO)
    assert out == {"Norge": "NO", "Sverige": "SE", "Tyskland": "DE", "Kina": "CN",
                   "Malaysia": "WA", "Indien": "IN", "Deutschland": "DE", "Storbritannia": "GB",
                   "USA": "US", "Chile": "WL", "Nigeria": "WF", "Iran": "WM", "Atlantis": None,
                   "wa": "WA"}


def test_map_regions_iso3_models():
    icio = ["NOR", "SWE", "DEU", "CHN", "MYS", "GBR", "USA", "ROW"]
    out = map_regions(["Norge", "Sverige", "Tyskland", "Kina", "Malaysia", "UK", "USA", "NO",
                       "Peru"], icio)
    assert out == {"Norge": "NOR", "Sverige": "SWE", "Tyskland": "DEU", "Kina": "CHN",
                   "Malaysia": "MYS", "UK": "GBR", "USA": "USA", "NO": "NOR", "Peru": None}
