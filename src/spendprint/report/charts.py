"""Self-contained HTML report: tables and inline SVG charts (matplotlib), no external assets."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(w: float = 9.0, h: float = 4.5):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    return plt.subplots(figsize=(w, h))


def _short(label: str, n: int = 38) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def chart_pareto(cat: pd.DataFrame, unit: str, top: int = 25) -> str:
    """Bars of the largest footprints with the cumulative share (Pareto curve)."""
    d = cat.sort_values("footprint", ascending=False).head(top)
    fig, ax = _figure(9, 4.8)
    ax.bar(range(len(d)), d["footprint"] / 1e6, color="#3a6ea5")
    ax.set_ylabel(f"footprint (million {unit})")
    ax.set_xticks(range(len(d)), [_short(c) for c in d.index], rotation=75, ha="right", fontsize=7)
    ax2 = ax.twinx()
    ax2.plot(range(len(d)), 100 * d["cumulative_share"], color="#c0392b", marker="o", ms=3)
    ax2.set_ylabel("cumulative share of all categories (%)")
    ax2.set_ylim(0, 100)
    ax.set_title(f"Largest {len(d)} categories by footprint (Pareto)")
    return _svg(fig)


def chart_spend_vs_emission(cat: pd.DataFrame) -> str:
    """Spend share against emission share per category; above the diagonal = carbon-intensive."""
    fig, ax = _figure(6.5, 5.5)
    s = 100 * cat["spend"] / cat["spend"].sum()
    e = 100 * cat["footprint"] / cat["footprint"].sum()
    ax.scatter(s, e, s=18, color="#3a6ea5", alpha=0.8)
    lim = float(max(s.max(), e.max()) * 1.1)
    ax.plot([0, lim], [0, lim], color="grey", lw=0.8, ls="--")
    for name in e.sort_values(ascending=False).index[:8]:
        ax.annotate(_short(name, 28), (s[name], e[name]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("share of spend (%)")
    ax.set_ylabel("share of footprint (%)")
    ax.set_title("Spend share vs emission share")
    return _svg(fig)


def chart_origin(origin: pd.DataFrame, unit: str, top_regions: int = 8) -> str:
    """Stacked bars: where (which region) the footprint of the top categories happens."""
    d = origin.copy()
    keep = d.sum(axis=0).sort_values(ascending=False).index[:top_regions]
    other = d.drop(columns=keep).sum(axis=1)
    d = d[keep]
    if other.abs().sum() > 0:
        d = d.assign(other=other)
    fig, ax = _figure(9, 4.8)
    left = np.zeros(len(d))
    cmap = matplotlib.colormaps["tab10"]
    for i, col in enumerate(d.columns):
        ax.barh(range(len(d)), d[col] / 1e6, left=left, color=cmap(i % 10), label=str(col))
        left += d[col].to_numpy() / 1e6
    ax.set_yticks(range(len(d)), [_short(c) for c in d.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint (million {unit}) by region where emitted")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.set_title("Origin of the footprint (region where impacts happen)")
    return _svg(fig)


def chart_savings(sav: pd.DataFrame, unit: str, top: int = 20) -> str:
    d = sav.sort_values("saving", ascending=False).head(top)
    fig, ax = _figure(9, 4.8)
    ax.barh(range(len(d)), d["saving"] / 1e6, color="#27ae60")
    ax.set_yticks(range(len(d)), [_short(c) for c in d.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"saving potential (million {unit})")
    ax.set_title("Carbon-savings potential: best available origin")
    return _svg(fig)


def chart_heatmap(mat: pd.DataFrame, title: str, label: str) -> str:
    """Heat map of categories (rows) x origin regions (columns)."""
    fig, ax = _figure(9, max(3.0, 0.22 * len(mat) + 1.5))
    vals = mat.to_numpy(dtype=float)
    im = ax.imshow(vals, aspect="auto", cmap="OrRd")
    ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns], fontsize=7, rotation=90)
    ax.set_yticks(range(mat.shape[0]), [_short(str(c)) for c in mat.index], fontsize=7)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    return _svg(fig)


def chart_intervals(mc: pd.DataFrame, unit: str, top: int = 25) -> str:
    """Mean and 90 % / 95 % intervals of the footprint per category (Monte Carlo)."""
    d = mc.sort_values("mean", ascending=False).head(top)
    fig, ax = _figure(9, 4.8)
    y = np.arange(len(d))
    ax.hlines(y, d["p2.5"] / 1e6, d["p97.5"] / 1e6, color="#95a5a6", lw=4, label="95 % interval")
    ax.hlines(y, d["p5"] / 1e6, d["p95"] / 1e6, color="#3a6ea5", lw=2, label="90 % interval")
    ax.plot(d["mean"] / 1e6, y, "o", color="#c0392b", ms=3, label="mean")
    ax.set_yticks(y, [_short(c) for c in d.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"footprint (million {unit})")
    ax.legend(fontsize=7)
    ax.set_title("Uncertainty of category footprints (Monte Carlo)")
    return _svg(fig)


def chart_rank_probability(mc: pd.DataFrame, top: int = 20) -> str:
    d = mc.sort_values("p_top10", ascending=False).head(top)
    fig, ax = _figure(9, 4.5)
    y = np.arange(len(d))
    ax.barh(y - 0.2, d["p_top5"], height=0.4, label="P(top 5)", color="#c0392b")
    ax.barh(y + 0.2, d["p_top10"], height=0.4, label="P(top 10)", color="#e67e22")
    ax.set_yticks(y, [_short(c) for c in d.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.legend(fontsize=7)
    ax.set_title("How robust is the hotspot ranking?")
    return _svg(fig)


def chart_path_tree(tree: pd.DataFrame, unit: str, title: str) -> str:
    """Tree of the largest supply-chain paths (from `spendprint.labelled.structural_paths.path_tree`).

    Stage 0 (the product bought) on the left, its suppliers to the right; line width is the value
    flowing through a node.
    """
    kids: dict[str, list[str]] = {}
    for _, r in tree.iterrows():
        kids.setdefault(str(r["parent"]), []).append(str(r["id"]))
    info = tree.set_index("id")
    order: list[str] = []

    def visit(node: str) -> None:
        order.append(node)
        for child in sorted(kids.get(node, []), key=lambda c: -float(info.loc[c, "value"])):
            visit(child)

    for root in sorted(kids.get("", []), key=lambda c: -float(info.loc[c, "value"])):
        visit(root)
    ypos = {node: i for i, node in enumerate(order)}
    vmax = float(tree["value"].max()) or 1.0
    fig, ax = _figure(9, max(2.5, 0.28 * len(order) + 1))
    for node in order:
        st, y = int(info.loc[node, "stage"]), ypos[node]
        parent = str(info.loc[node, "parent"])
        if parent:
            ax.plot([st - 1 + 0.05, st - 1 + 0.05, st], [ypos[parent], y, y], color="#8e44ad",
                    lw=0.5 + 5 * float(info.loc[node, "value"]) / vmax, alpha=0.7, solid_capstyle="butt")
        ax.text(st + 0.05, y, f"{_short(str(info.loc[node, 'label']), 34)}  "
                f"{float(info.loc[node, 'value']) / 1e6:,.3g}", va="center", fontsize=6.5)
    depth = int(tree["stage"].max()) if len(tree) else 0
    ax.set_xlim(-0.1, depth + 1.6)
    ax.set_ylim(len(order), -1)
    ax.set_xticks(range(depth + 1), ["bought"] + [f"tier {t}" for t in range(1, depth + 1)])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{title} (values in million {unit})")
    return _svg(fig)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.82rem;margin:.6rem 0} td,th{border:1px solid #ddd;
padding:.2rem .45rem;text-align:right} th{background:#f4f6f8} td:first-child,th:first-child{text-align:left}
.banner{background:#fff4d6;border:1px solid #e6c200;padding:.6rem 1rem;border-radius:4px}
.chart svg{max-width:100%;height:auto} .meta{color:#555;font-size:.85rem}
"""


def _table(df: pd.DataFrame, floatfmt: str = "{:,.4g}") -> str:
    return df.to_html(border=0, float_format=lambda v: floatfmt.format(v), escape=True)


def render(sections: list[tuple[str, str]], title: str, meta: Mapping[str, Any], banner: str | None) -> str:
    """Assemble the report. ``sections`` are (heading, html) pairs; the html is trusted markup."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if banner:
        parts.append(f"<p class='banner'>{html.escape(banner)}</p>")
    parts.append("<p class='meta'>" + " · ".join(
        f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in meta.items()) + "</p>")
    for heading, body in sections:
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{body}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def chart_block(svg: str, caption: str) -> str:
    return f"<figure class='chart'>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def table_block(df: pd.DataFrame, caption: str = "") -> str:
    cap = f"<p>{html.escape(caption)}</p>" if caption else ""
    return cap + _table(df)
