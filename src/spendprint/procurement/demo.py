"""The embedded default: a demo ledger of a Norwegian health region and its concordance.

The amounts in ``demo_ledger.csv`` are illustrative (see ``data/PROCUREMENT_DATA.md``); the
concordance maps 80 hospital procurement categories to EXIOBASE 3 pxp products, so the same
files run on the synthetic world (``sp.synthetic_mrio()``, any size from 8 regions x 60 products)
and on a real EXIOBASE 3 pxp download. The default world is SYNTHETIC (not real data)::

    import spendprint as sp
    ledger, concordance = sp.demo_inputs()
    world = sp.synthetic_mrio()                      # synthetic, labelled as such in its meta
    ds = sp.procurement_footprint(world, ledger, concordance, buyer_region="NO")
    print(sp.hotspots(ds, "CO2e"))

    # the same ledger and concordance on EXIOBASE 3 pxp (downloaded by the user from Zenodo)
    exio = sp.read_exiobase3("IOT_2022_pxp.zip")
    ghg = [s for s in exio.indicators if s.startswith("GHG emissions")][:1]
    ds = sp.procurement_footprint(exio, ledger, concordance, stressors=ghg)
    hours = [s for s in exio.stressors if s.startswith("Employment hours")]
    risk = sp.labour_risk(exio, sp.procurement_demand(exio, ledger, concordance),
                          employment=hours)
"""

from __future__ import annotations

from importlib import resources

from ..io.tabular import read_table
from .concordance import Concordance
from .ledger import Ledger


def demo_paths() -> dict[str, str]:
    """Paths of the shipped demo files (ledger, concordance, labour risk table)."""
    base = resources.files("spendprint.data")
    return {"ledger": str(base.joinpath("demo_ledger.csv")),
            "concordance": str(base.joinpath("demo_concordance.csv")),
            "risk": str(base.joinpath("labour_risk_example.csv")),
            "scenarios": str(base.joinpath("demo_scenarios.yaml"))}


def demo_inputs() -> tuple[Ledger, Concordance]:
    """The demo ledger (NOK, 2022-2024, buyer region NO) and its concordance."""
    p = demo_paths()
    ledger = Ledger.from_frame(read_table(p["ledger"]), source="demo_ledger.csv", _numbered=True)
    conc = Concordance.from_frame(read_table(p["concordance"]), source="demo_concordance.csv",
                                  _numbered=True)
    return ledger, conc
