"""Loading a large ledger: a plain CSV against the same rows as an accounting system exports them.

Writes N rows (default one million) of the demo categories twice: a plain UTF-8 CSV (``,``,
decimal point) and a Norwegian export (Norwegian headers, ``;``, decimal comma with space
thousands separators, Norwegian country names, cp1252, two title lines above the table). Times,
in one run, for each: reading and validating against concordance, prices and model
(`Ledger.read`), and mapping to the demand matrix (`ProcurementDemand.build`). Prints the ratio.

    python -m benchmarks.ledger_speed [--rows 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NO_COUNTRIES = {"NO": "Norge", "SE": "Sverige", "DE": "Tyskland", "CN": "Kina", "MY": "Malaysia",
                "IN": "India", "US": "USA", "": ""}


def make_rows(n: int, seed: int = 0) -> pd.DataFrame:
    from spendprint.procurement.demo import demo_inputs

    ledger, conc = demo_inputs()
    cats = np.array(conc.categories, dtype=object)
    rng = np.random.default_rng(seed)
    codes = np.array(list(NO_COUNTRIES), dtype=object)
    amount = np.round(rng.lognormal(10, 1.5, n), 2)
    amount[rng.random(n) < 0.02] *= -0.1  # credit notes
    return pd.DataFrame({"category": cats[rng.integers(0, len(cats), n)], "amount": amount,
                         "currency": "NOK", "year": rng.integers(2022, 2024, n),
                         "supplier_country": codes[rng.integers(0, len(codes), n)]})


def norwegian_amount(v: np.ndarray) -> list[str]:
    """``1234567.5`` -> ``1 234 567,50`` (the thousands separator is a plain space)."""
    return [f"{x:,.2f}".replace(",", " ").replace(".", ",") for x in v]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)

    from spendprint.io.world_cache import cached_synthetic_mrio
    from spendprint.procurement import Ledger, Prices, ProcurementDemand
    from spendprint.procurement.demo import demo_inputs

    mrio = cached_synthetic_mrio(regions=49, sectors=200, seed=0)
    _, conc = demo_inputs()
    prices = Prices.default()
    df = make_rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.csv"
        df.to_csv(plain, index=False)
        nor = Path(tmp) / "eksport.csv"
        t = df.rename(columns={"category": "Kategori", "amount": "Beløp", "currency": "Valuta",
                               "year": "År", "supplier_country": "Leverandørland"})
        t["Beløp"] = norwegian_amount(df["amount"].to_numpy())
        t["Leverandørland"] = t["Leverandørland"].map(NO_COUNTRIES)
        with open(nor, "w", encoding="cp1252", newline="") as fh:
            fh.write("Innkjøpsrapport\nGenerert 2025-01-15\n")
            t.to_csv(fh, index=False, sep=";")
        res = {}
        for name, path in (("plain CSV", plain), ("Norwegian export", nor)):
            t0 = time.perf_counter()
            led = Ledger.read(path, concordance=conc, prices=prices, mrio=mrio)
            t1 = time.perf_counter()
            d = ProcurementDemand.build(mrio, led, conc, prices, "NO")
            t2 = time.perf_counter()
            res[name] = (t1 - t0, t2 - t1, float(d.Y.sum()), path.stat().st_size / 1e6)
    print(f"{args.rows:,} rows, {len(conc.categories)} categories, model {mrio.n} sectors")
    print(f"{'file':<18} {'MB':>6} {'read+validate s':>16} {'map s':>7} {'total s':>8}")
    for name, (r, m, _, mb) in res.items():
        print(f"{name:<18} {mb:>6.1f} {r:>16.2f} {m:>7.2f} {r + m:>8.2f}")
    a, b = res["plain CSV"], res["Norwegian export"]
    print(f"ratio Norwegian / plain: {(b[0] + b[1]) / (a[0] + a[1]):.2f}; "
          f"same demand: {abs(a[2] - b[2]) <= 1e-9 * abs(a[2])}")


if __name__ == "__main__":
    main()
