"""Regenerate the bridge CSVs in this folder (a maintainer script, not imported by the package).

    python src/spendprint/data/bridges/derive.py /work/shared/classifications

* ``exio3_pxp__figaro64.csv``: EXIOBASE 3 pxp product -> FIGARO's 64 CPA 2.1 products, from the
  rule table ``FIGARO_RULES`` below (EXIOBASE product codes follow CPA 2002 / NACE Rev. 1.1, so
  a product's code prefix names its NACE 1.1 division; each division is placed in the CPA 2.1
  divisions it was split into by the NACE Rev. 1.1 -> Rev. 2 correspondence). Written by this
  project; the bonsai-classifications chain EXIOBASE -> BONSUT -> BONSAI -> CPA 2.1 (MIT) was
  used as evidence for the 67 products it reaches.
* ``exio3_pxp__icio45.csv``: FIGARO's CPA 2.1 groups merged into the 45 ISIC Rev. 4 groups of
  OECD ICIO (``ICIO_OF_CPA``), with the mining split (B05_06, B07_08, B09) decided per EXIOBASE
  product.
* ``exio3_pxp__useeio_bea.csv``: USEPA's EXIOBASE -> BEA detail 2017 table as published.
* ``exio3_pxp__gloria120.csv``: an EXIOBASE product maps to every GLORIA sector that shares at
  least one BEA detail commodity with it in USEPA's two tables (EXIOBASE -> BEA, GLORIA -> BEA).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRODUCTS = HERE.parent / "exio3_pxp_products.tsv"

FIGARO64 = {
    "A01": "Products of agriculture, hunting and related services",
    "A02": "Products of forestry, logging and related services",
    "A03": "Fish and other fishing products; aquaculture products",
    "B": "Mining and quarrying",
    "C10-12": "Food, beverages and tobacco products",
    "C13-15": "Textiles, wearing apparel, leather and related products",
    "C16": "Wood and products of wood and cork, except furniture",
    "C17": "Paper and paper products",
    "C18": "Printing and recording services",
    "C19": "Coke and refined petroleum products",
    "C20": "Chemicals and chemical products",
    "C21": "Basic pharmaceutical products and pharmaceutical preparations",
    "C22": "Rubber and plastic products",
    "C23": "Other non-metallic mineral products",
    "C24": "Basic metals",
    "C25": "Fabricated metal products, except machinery and equipment",
    "C26": "Computer, electronic and optical products",
    "C27": "Electrical equipment",
    "C28": "Machinery and equipment n.e.c.",
    "C29": "Motor vehicles, trailers and semi-trailers",
    "C30": "Other transport equipment",
    "C31_32": "Furniture and other manufactured goods",
    "C33": "Repair and installation services of machinery and equipment",
    "D35": "Electricity, gas, steam and air conditioning",
    "E36": "Natural water; water treatment and supply services",
    "E37-39": "Sewerage, waste collection, treatment and disposal; materials recovery; remediation",
    "F": "Constructions and construction works",
    "G45": "Wholesale and retail trade and repair services of motor vehicles and motorcycles",
    "G46": "Wholesale trade services, except of motor vehicles and motorcycles",
    "G47": "Retail trade services, except of motor vehicles and motorcycles",
    "H49": "Land transport services and transport services via pipelines",
    "H50": "Water transport services",
    "H51": "Air transport services",
    "H52": "Warehousing and support services for transportation",
    "H53": "Postal and courier services",
    "I": "Accommodation and food services",
    "J58": "Publishing services",
    "J59_60": "Motion picture, video, television, sound recording; programming and broadcasting",
    "J61": "Telecommunications services",
    "J62_63": "Computer programming, consultancy and information services",
    "K64": "Financial services, except insurance and pension funding",
    "K65": "Insurance, reinsurance and pension funding services",
    "K66": "Services auxiliary to financial services and insurance services",
    "L68": "Real estate services",
    "M69_70": "Legal and accounting services; head offices; management consultancy",
    "M71": "Architectural and engineering services; technical testing and analysis",
    "M72": "Scientific research and development services",
    "M73": "Advertising and market research services",
    "M74_75": "Other professional, scientific and technical services; veterinary services",
    "N77": "Rental and leasing services",
    "N78": "Employment services",
    "N79": "Travel agency, tour operator and other reservation services",
    "N80-82": "Security, building services, office administrative and business support services",
    "O84": "Public administration and defence; compulsory social security",
    "P85": "Education services",
    "Q86": "Human health services",
    "Q87_88": "Residential care services; social work services without accommodation",
    "R90-92": "Creative, arts, entertainment, library, museum, gambling services",
    "R93": "Sporting services and amusement and recreation services",
    "S94": "Services furnished by membership organisations",
    "S95": "Repair services of computers and personal and household goods",
    "S96": "Other personal services",
    "T": "Services of households as employers",
    "U": "Services provided by extraterritorial organisations and bodies",
}

# EXIOBASE code prefix -> FIGARO CPA groups; the longest matching prefix wins. A ".w" product
# (secondary material re-processed into new material) is materials recovery (NACE Rev. 2 38.3).
FIGARO_RULES: dict[str, list[str]] = {
    "p01": ["A01"], "p01.w": ["E37-39"], "p02": ["A02"], "p05": ["A03"],
    "p10": ["B"], "p11": ["B"], "p12": ["B"], "p13": ["B"], "p14": ["B"],
    "p15": ["C10-12"], "p16": ["C10-12"], "p17": ["C13-15"], "p18": ["C13-15"],
    "p19": ["C13-15"], "p20": ["C16"], "p21": ["C17"], "p22": ["C18", "J58", "J59_60"],
    "p23": ["C19"], "p23.3": ["C24"],  # nuclear fuel: NACE Rev. 2 24.46
    "p24": ["C20"], "p24.d": ["C20", "C21"],  # chemicals nec includes pharmaceuticals
    "p25": ["C22"], "p26": ["C23"], "p27": ["C24"], "p28": ["C25"],
    "p29": ["C28", "C27", "C33"],  # NACE 1.1 29 holds domestic appliances and repair
    "p30": ["C26"], "p31": ["C27"], "p32": ["C26"], "p33": ["C26", "C31_32", "C33"],
    "p34": ["C29"], "p35": ["C30"], "p36": ["C31_32"], "p37": ["E37-39"],
    "p40": ["D35"], "p41": ["E36"], "p45": ["F"],
    "p50.a": ["G45"], "p50.b": ["G47"], "p51": ["G46"], "p52": ["G47", "S95"],
    "p55": ["I"], "p60": ["H49"], "p61": ["H50"], "p62": ["H51"], "p63": ["H52", "N79"],
    "p64": ["H53", "J61"], "p65": ["K64"], "p66": ["K65"], "p67": ["K66"], "p70": ["L68"],
    "p71": ["N77"], "p72": ["J62_63", "J58", "S95"], "p73": ["M72"],
    "p74": ["M69_70", "M71", "M73", "M74_75", "N78", "N80-82"],
    "p75": ["O84"], "p80": ["P85"], "p85": ["Q86", "Q87_88", "M74_75"],
    "p90": ["E37-39"], "p91": ["S94"], "p92": ["J59_60", "R90-92", "R93"], "p93": ["S96"],
    "p95": ["T"], "p99": ["U"],
}

ICIO45 = {
    "A01_02": "Agriculture, hunting, forestry", "A03": "Fishing and aquaculture",
    "B05_06": "Mining and quarrying, energy producing products",
    "B07_08": "Mining and quarrying, non-energy producing products",
    "B09": "Mining support service activities",
    "C10T12": "Food products, beverages and tobacco",
    "C13T15": "Textiles, textile products, leather and footwear",
    "C16": "Wood and products of wood and cork", "C17_18": "Paper products and printing",
    "C19": "Coke and refined petroleum products", "C20": "Chemical and chemical products",
    "C21": "Pharmaceuticals, medicinal chemical and botanical products",
    "C22": "Rubber and plastics products", "C23": "Other non-metallic mineral products",
    "C24": "Basic metals", "C25": "Fabricated metal products",
    "C26": "Computer, electronic and optical equipment", "C27": "Electrical equipment",
    "C28": "Machinery and equipment, nec", "C29": "Motor vehicles, trailers and semi-trailers",
    "C30": "Other transport equipment",
    "C31T33": "Manufacturing nec; repair and installation of machinery and equipment",
    "D": "Electricity, gas, steam and air conditioning supply",
    "E": "Water supply; sewerage, waste management and remediation activities",
    "F": "Construction", "G": "Wholesale and retail trade; repair of motor vehicles",
    "H49": "Land transport and transport via pipelines", "H50": "Water transport",
    "H51": "Air transport", "H52": "Warehousing and support activities for transportation",
    "H53": "Postal and courier activities", "I": "Accommodation and food service activities",
    "J58T60": "Publishing, audiovisual and broadcasting activities",
    "J61": "Telecommunications", "J62_63": "IT and other information services",
    "K": "Financial and insurance activities", "L": "Real estate activities",
    "M": "Professional, scientific and technical activities",
    "N": "Administrative and support services",
    "O": "Public administration and defence; compulsory social security",
    "P": "Education", "Q": "Human health and social work activities",
    "R": "Arts, entertainment and recreation", "S": "Other service activities",
    "T": "Activities of households as employers",
}

ICIO_OF_CPA = {
    "A01": "A01_02", "A02": "A01_02", "A03": "A03", "C10-12": "C10T12", "C13-15": "C13T15",
    "C16": "C16", "C17": "C17_18", "C18": "C17_18", "C31_32": "C31T33", "C33": "C31T33",
    "D35": "D", "E36": "E", "E37-39": "E", "G45": "G", "G46": "G", "G47": "G",
    "J58": "J58T60", "J59_60": "J58T60", "K64": "K", "K65": "K", "K66": "K", "L68": "L",
    "M69_70": "M", "M71": "M", "M72": "M", "M73": "M", "M74_75": "M", "N77": "N", "N78": "N",
    "N79": "N", "N80-82": "N", "O84": "O", "P85": "P", "Q86": "Q", "Q87_88": "Q",
    "R90-92": "R", "R93": "R", "S94": "S", "S95": "S", "S96": "S", "T": "T",
    "U": "O",  # ICIO has no U: extraterritorial bodies go with public administration
}
# products whose BEA codes no GLORIA sector shares
GLORIA_FALLBACK = {"p37": ["Materials recovery"]}

ICIO_MINING = {"p10": ["B05_06"], "p11": ["B05_06", "B09"], "p12": ["B07_08"],
               "p13": ["B07_08"], "p14": ["B07_08"]}


def _rule(code: str, rules: dict[str, list[str]]) -> list[str]:
    keys = [k for k in rules if code == k or code.startswith(k + ".")]
    if not keys:
        raise KeyError(f"no rule for EXIOBASE product {code}")
    return rules[max(keys, key=len)]


def _products() -> list[tuple[str, str]]:
    with PRODUCTS.open(encoding="utf-8") as fh:
        return [(r["code"], r["name"]) for r in csv.DictReader(fh, delimiter="\t")]


def _write(name: str, rows: list[tuple[str, str, str, str]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["src_code", "src_name", "dst_code", "dst_name"])
        w.writerows(rows)


def main(shared: Path) -> None:
    prods = _products()
    fig, icio = [], []
    for code, name in prods:
        groups = _rule(code, FIGARO_RULES)
        fig += [(code, name, g, FIGARO64[g]) for g in groups]
        if code.split(".")[0] in ICIO_MINING:
            targets = ICIO_MINING[code.split(".")[0]]
        else:
            targets = list(dict.fromkeys(g if g in ICIO45 else ICIO_OF_CPA[g] for g in groups))
        icio += [(code, name, t, ICIO45[t]) for t in targets]
    _write("exio3_pxp__figaro64.csv", fig)
    _write("exio3_pxp__icio45.csv", icio)

    by_name = {n: c for c, n in prods}
    names: dict[str, str] = {}
    for p in sorted(shared.parent.glob("realdata/useeio/*/sectors.json")):
        for s in json.loads(p.read_text(encoding="utf-8")):
            names.setdefault(s["code"], s["name"])
    with (shared / "exio_to_useeio2_commodity_concordance.csv").open(encoding="utf-8-sig") as fh:
        exio_bea = [(r["Exiobase Sector"].strip(), r["USEEIO_Detail_2017"].strip())
                    for r in csv.DictReader(fh)]
    bea = [(by_name[e], e, b, names.get(b, "")) for e, b in exio_bea]
    _write("exio3_pxp__useeio_bea.csv", list(dict.fromkeys(bea)))

    with (shared / "GLORIA_to_useeio2_commodity_concordance.csv").open(encoding="utf-8-sig") as fh:
        glo_bea = [(r["GLORIA Sector"].strip(), r["USEEIO_Detail_2017"].strip())
                   for r in csv.DictReader(fh)]
    glo_of_bea: dict[str, list[str]] = {}
    for g, b in glo_bea:
        glo_of_bea.setdefault(b, []).append(g)
    rows = []
    for code, name in prods:
        targets = [g for e, b in exio_bea if e == name for g in glo_of_bea.get(b, [])]
        targets = targets or GLORIA_FALLBACK[code]
        rows += [(code, name, g, g) for g in dict.fromkeys(targets)]
    _write("exio3_pxp__gloria120.csv", rows)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/classifications"))
