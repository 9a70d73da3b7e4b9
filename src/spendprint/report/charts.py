"""Charts of the report as inline SVG: matplotlib for the plots, a hand-drawn SVG for path trees.

Category names are wrapped, never cut; regions are shown by name (`format.region_name`); axes
are scaled to t / kt / Mt (`format.scale_for`) and never use scientific notation.
"""

from __future__ import annotations

import html
import io
import textwrap

import matplotlib
import numpy as np
import pandas as pd

from . import format as fm


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(w: float = 9.0, h: float = 4.5):
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9,
                         "axes.formatter.useoffset": False, "axes.formatter.limits": (-9, 12)})
    return plt.subplots(figsize=(w, h))


def wrap(label: str, width: int = 34) -> str:
    """The full label on as many lines as it needs."""
    return "\n".join(textwrap.wrap(str(label), width)) or str(label)


def _height(n: int, per: float = 0.42, lo: float = 2.8) -> float:
    return max(lo, per * n + 1.2)


def chart_pareto(cat: pd.DataFrame, unit: str, top: int = 20) -> str:
    """Horizontal bars of the largest footprints with the cumulative share of the total."""
    d = cat.sort_values("footprint", ascending=False).head(top)
    scale, label = fm.scale_for(d["footprint"].max(), unit)
    fig, ax = _figure(9, _height(len(d)))
    y = np.arange(len(d))
    ax.barh(y, d["footprint"] / scale, color="#3a6ea5")
    ax.set_yticks(y, [wrap(c) for c in d.index], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint ({label})")
    ax2 = ax.twiny()
    ax2.plot(100 * d["cumulative_share"], y, color="#c0392b", marker="o", ms=3)
    ax2.set_xlim(0, 100)
    ax2.set_xlabel("cumulative share of the total footprint (%)", color="#c0392b")
    ax.set_title(f"Largest {len(d)} categories by footprint", loc="left", pad=28)
    return _svg(fig)


def chart_spend_vs_emission(cat: pd.DataFrame) -> str:
    """Spend share against footprint share per category; above the diagonal = carbon-intensive."""
    fig, ax = _figure(7.5, 5.5)
    s = 100 * cat["spend"] / cat["spend"].sum()
    e = 100 * cat["footprint"] / cat["footprint"].sum()
    ax.scatter(s, e, s=18, color="#3a6ea5", alpha=0.8)
    lim = float(max(s.max(), e.max()) * 1.1)
    ax.plot([0, lim], [0, lim], color="grey", lw=0.8, ls="--")
    for name in e.sort_values(ascending=False).index[:3]:
        ax.annotate(wrap(name, 26), (s[name], e[name]), fontsize=7, xytext=(4, -2),
                    textcoords="offset points", va="top")
    ax.set_xlabel("share of spend (%)")
    ax.set_ylabel("share of footprint (%)")
    ax.set_title("Spend share vs footprint share", loc="left")
    return _svg(fig)


def chart_origin(origin: pd.DataFrame, unit: str, top_regions: int = 8) -> str:
    """Stacked bars: in which regions the footprint of the top categories is emitted.

    The regions shown are the largest over these categories; the rest is one grey segment, named
    "all other regions" with the number of regions it holds.
    """
    d = origin.copy()
    keep = d.sum(axis=0).sort_values(ascending=False).index[:top_regions]
    rest = d.drop(columns=keep)
    d = d[keep]
    d.columns = [fm.region_name(c) for c in d.columns]
    if rest.abs().to_numpy().sum() > 0:
        d[f"all other {rest.shape[1]} regions"] = rest.sum(axis=1)
    scale, label = fm.scale_for(d.sum(axis=1).max(), unit)
    fig, ax = _figure(9, _height(len(d)) + 0.8)
    left = np.zeros(len(d))
    cmap = matplotlib.colormaps["tab10"]
    for i, col in enumerate(d.columns):
        color = "#bbbbbb" if col.startswith("all other") else cmap(i % 10)
        ax.barh(range(len(d)), d[col] / scale, left=left, color=color, label=str(col))
        left += d[col].to_numpy() / scale
    ax.set_yticks(range(len(d)), [wrap(c) for c in d.index], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint ({label}) by region where it is emitted")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.set_title("Where the footprint is emitted", loc="left")
    return _svg(fig)


def chart_savings(sav: pd.DataFrame, unit: str, top: int = 15) -> str:
    """Two bars per category: the realistic lever and the theoretical bound of switching origin."""
    d = sav.sort_values("bound", ascending=False).head(top)
    scale, label = fm.scale_for(d["bound"].max(), unit)
    fig, ax = _figure(9, _height(len(d), 0.5))
    y = np.arange(len(d))
    ax.barh(y - 0.2, d["lever"] / scale, height=0.4, color="#27ae60",
            label="realistic lever (established suppliers)")
    ax.barh(y + 0.2, d["bound"] / scale, height=0.4, color="#b8e0c6",
            label="theoretical bound (cleanest current supplier)")
    ax.set_yticks(y, [wrap(c) for c in d.index], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint saved ({label})")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Savings from switching origin: realistic lever and theoretical bound", loc="left")
    return _svg(fig)


def chart_heatmap(mat: pd.DataFrame, title: str, label: str) -> str:
    """Heat map of categories (rows) x origin regions (columns, by name)."""
    fig, ax = _figure(9.5, max(3.5, 0.36 * len(mat) + 2.5))
    vals = mat.to_numpy(dtype=float)
    im = ax.imshow(vals, aspect="auto", cmap="OrRd")
    ax.set_xticks(range(mat.shape[1]), [wrap(fm.region_name(c), 18) for c in mat.columns],
                  fontsize=7, rotation=60, ha="right")
    ax.set_yticks(range(mat.shape[0]), [wrap(c, 40) for c in mat.index], fontsize=7)
    cb = fig.colorbar(im, ax=ax, label=label)
    cb.formatter.set_useOffset(False)
    cb.formatter.set_scientific(False)
    ax.set_title(title, loc="left")
    return _svg(fig)


def chart_intervals(mc: pd.DataFrame, unit: str, top: int = 20) -> str:
    """Median and 90 % / 95 % intervals of the footprint per category, in rank order."""
    d = mc.sort_values("rank").head(top)
    scale, label = fm.scale_for(d["p97.5"].max(), unit)
    fig, ax = _figure(9, _height(len(d)))
    y = np.arange(len(d))
    ax.hlines(y, d["p2.5"] / scale, d["p97.5"] / scale, color="#95a5a6", lw=5, label="95 % interval")
    ax.hlines(y, d["p5"] / scale, d["p95"] / scale, color="#3a6ea5", lw=2.5, label="90 % interval")
    ax.plot(d["p50"] / scale, y, "o", color="#c0392b", ms=3.5, label="median")
    ax.set_yticks(y, [wrap(c) for c in d.index], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint ({label})")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Uncertainty of category footprints, in rank order", loc="left")
    return _svg(fig)


def chart_rank_probability(mc: pd.DataFrame, top: int = 15) -> str:
    """Probability of ranking among the 5 / 10 largest, most robust hotspots first."""
    d = mc.sort_values(["p_top5", "p_top10"], ascending=False).head(top)
    fig, ax = _figure(9, _height(len(d), 0.5))
    y = np.arange(len(d))
    ax.barh(y - 0.2, 100 * d["p_top5"], height=0.4, label="among the 5 largest", color="#c0392b")
    ax.barh(y + 0.2, 100 * d["p_top10"], height=0.4, label="among the 10 largest", color="#e67e22")
    ax.set_yticks(y, [wrap(c) for c in d.index], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("How robust is the hotspot ranking?", loc="left")
    return _svg(fig)


def chart_path_tree(tree: pd.DataFrame, unit: str, total: float, title: str) -> str:
    """Indented tree of the largest supply-chain paths with bars, as a plain SVG.

    ``tree`` is `spendprint.labelled.structural_paths.path_tree`'s frame: the product bought
    (stage 0, by origin) and its suppliers indented below it. The bar of a row is the footprint
    flowing through that node (its own emission and everything upstream in the listed paths) as a
    share of the category's total; a last grey row is what the listed paths leave out.
    """
    kids: dict[str, list[str]] = {}
    for _, r in tree.iterrows():
        kids.setdefault(str(r["parent"]), []).append(str(r["id"]))
    info = tree.set_index("id")
    rows: list[tuple[str, int, str, float]] = []

    def visit(node: str) -> None:
        st = int(info.loc[node, "stage"])
        region = fm.region_name(str(info.loc[node, "region"]))
        what = ("bought from" if st == 0 else "supplied by") + f" {region}: {info.loc[node, 'sector']}"
        rows.append((node, st, what, float(info.loc[node, "value"])))
        for child in sorted(kids.get(node, []), key=lambda c: -float(info.loc[c, "value"])):
            visit(child)

    for root in sorted(kids.get("", []), key=lambda c: -float(info.loc[c, "value"])):
        visit(root)
    shown = float(sum(v for _, st, _, v in rows if st == 0))
    if total > shown * (1 + 1e-9):
        rows.append(("", 0, "all other supply-chain paths (each below the listing threshold)",
                     total - shown))
    W, row_h, bar_x, bar_w = 1000, 22, 580, 250
    H = row_h * len(rows) + 34
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='tree' width='{W}' height='{H}' "
           f"viewBox='0 0 {W} {H}' role='img' aria-label='{html.escape(title, quote=True)}' "
           "font-family='system-ui, sans-serif' font-size='12'>",
           f"<text x='0' y='14' font-weight='600'>{html.escape(title)}</text>",
           f"<text x='{bar_x}' y='14' fill='#555'>share of the category's footprint</text>"]
    denom = total if total > 0 else 1.0
    for i, (node, st, what, value) in enumerate(rows):
        y = 34 + i * row_h
        indent = 18 * st
        color = "#bbbbbb" if not node else ("#8e44ad" if st == 0 else "#b58bc9")
        prefix = "└ " if st else ""
        label = html.escape(prefix + what)
        out.append(f"<text x='{indent}' y='{y + 4}'><title>{label}</title>"
                   f"{html.escape(textwrap.shorten(prefix + what, 86 - st * 3, placeholder=' …'))}"
                   "</text>")
        w = max(1.0, bar_w * value / denom)
        out.append(f"<rect x='{bar_x}' y='{y - 9}' width='{w:.1f}' height='14' fill='{color}'/>")
        out.append(f"<text x='{bar_x + bar_w + 10}' y='{y + 4}'>"
                   f"{html.escape(fm.quantity(value, unit))} ({html.escape(fm.percent(value / denom))})"
                   "</text>")
    out.append("</svg>")
    return "".join(out)
