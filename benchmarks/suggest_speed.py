"""Speed of the concordance assistant (`spendprint concordance suggest`): a script, not a test.

Ranks candidate products for 100 categories: the 80 of the demo concordance plus 20 with CPV codes
of hospital purchases, against the 200 EXIOBASE 3 products. Reports the first call in a fresh
process (it builds the word index of the product names and the CPV labels) and the mean of repeated
calls, and the top-1 / top-3 hit rates against the demo concordance::

    python -m benchmarks.suggest_speed
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import pandas as pd

CPV_CATEGORIES = {
    "Examination gloves": ["33141420"], "Medicines": ["33600000"], "X-ray equipment": ["33111000"],
    "Cleaning services": ["90910000"], "Catering": ["55520000"], "Bed linen": ["39512100"],
    "Syringes": ["33141310"], "Hospital beds": ["33192100"], "Dressings": ["33141110"],
    "Laboratory reagents": ["33696500"], "Computers": ["30213000"], "Software": ["48000000"],
    "Electricity supply contract": ["09310000"], "Heating oil": ["09135000"], "Ambulance services": ["85143000"],
    "Waste collection": ["90511000"], "Printing": ["79810000"], "Office furniture": ["39130000"],
    "Construction works": ["45210000"], "Security services": ["79710000"],
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    from spendprint.procurement.assist import hit_rate, suggest

    t_import = time.perf_counter() - t
    truth = pd.read_csv(resources.files("spendprint.data").joinpath("demo_concordance.csv"))
    cats = [*dict.fromkeys(truth["category"]), *CPV_CATEGORIES]
    t = time.perf_counter()
    first = suggest(cats, cpv=CPV_CATEGORIES)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(args.repeat):
        suggest(cats, cpv=CPV_CATEGORIES)
    t_warm = (time.perf_counter() - t) / args.repeat
    rate = hit_rate([c for c in first if c.category in set(truth["category"])], truth)
    print(f"concordance suggest: {len(cats)} categories x 200 EXIOBASE products, top 3 each")
    print(f"  import {t_import:.2f} s; first call {t_first:.3f} s (builds the index); "
          f"then {t_warm * 1e3:.1f} ms per call (mean of {args.repeat})")
    print(f"  hit rate against the demo concordance: {rate}")


if __name__ == "__main__":
    main()
