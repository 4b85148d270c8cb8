"""Charts of the diagnostic page, as inline SVG (matplotlib, no file, no script).

Each function takes the tables the analysis computed and returns an SVG string (text
kept as text, so it is searchable and prints sharp), or ``None`` when there is nothing
to draw (fewer than two values). French number formatting throughout.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from qpvgeo.maps._format import format_number

#: One colour for the territory, one for the references (Insee-like sober palette).
_MAIN = "#1d3557"
_ACCENT = "#e07b00"
_GREY = "#8d99ae"


def _svg(fig: Figure, *, title: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "qpvgeo"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # Accessible name, and a responsive width (the page decides the size).
    text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
                  rf'<svg \1role="img" aria-label="{_escape(title)}"', text, count=1)
    return text


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _pct(x: float, _pos: object = None) -> str:
    return f"{format_number(x, 0)}\u202f%"


def bars_share(
    table: pd.DataFrame, *, label: str, value: str, references: list[tuple[str, float]],
    title: str, top: int = 15,
) -> str | None:
    """Horizontal bars of a share (fraction 0–1) by territory, with reference lines.

    Examples
    --------
    >>> t = pd.DataFrame({"nom": ["A", "B"], "part": [0.3, 0.1]})
    >>> bars_share(t, label="nom", value="part", references=[("France", 0.08)],
    ...            title="t").startswith("<svg")
    True
    """
    t = table[[label, value]].dropna().sort_values(value, ascending=False).head(top)
    if len(t) < 2:
        return None
    t = t.iloc[::-1]
    fig = Figure(figsize=(6.4, 0.8 + 0.28 * len(t)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(t[label].astype(str), t[value] * 100, color=_MAIN, height=0.65)
    for name, ref in references:
        ax.axvline(ref * 100, color=_ACCENT, linewidth=1.2, linestyle="--")
        ax.annotate(f"{name} : {format_number(ref * 100, 1)}\u202f%", (ref * 100, 1.0),
                    xycoords=("data", "axes fraction"), fontsize=7.5, color=_ACCENT,
                    rotation=90, ha="right", va="top")
    for y, v in enumerate(t[value].to_numpy()):
        ax.text(v * 100, y, f" {format_number(v * 100, 1)}\u202f%", va="center", fontsize=7.5)
    ax.xaxis.set_major_formatter(FuncFormatter(_pct))
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max(float(t[value].max()), *(r for _, r in references), 0.01) * 118)
    ax.set_xlabel("Part de la population vivant en QPV", fontsize=8)
    return _svg(fig, title=title)


def scatter(
    table: pd.DataFrame, *, x: str, y: str, x_label: str, y_label: str, title: str,
    size: str | None = None, names: str | None = None, n_labels: int = 5,
) -> str | None:
    """A scatter of two indicators of the QPV (point area ∝ ``size``), the ``n_labels``
    QPV highest on both axes named.

    Examples
    --------
    >>> t = pd.DataFrame({"a": [1, 2, 3], "b": [3, 1, 2], "n": ["x", "y", "z"]})
    >>> scatter(t, x="a", y="b", x_label="A", y_label="B", title="t", names="n")[:4]
    '<svg'
    """
    t = table.dropna(subset=[x, y])
    if len(t) < 2:
        return None
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    if size is not None and size in t:
        s = pd.to_numeric(t[size], errors="coerce").fillna(0).to_numpy()
        s = 8 + 220 * s / max(float(s.max()), 1.0)
    else:
        s = 18
    ax.scatter(t[x], t[y], s=s, color=_MAIN, alpha=0.55, edgecolor="white", linewidth=0.5)
    ax.axvline(float(t[x].median()), color=_GREY, linewidth=0.8, linestyle=":")
    ax.axhline(float(t[y].median()), color=_GREY, linewidth=0.8, linestyle=":")
    if names is not None:
        rank = t[x].rank(pct=True) + t[y].rank(pct=True)
        for _, row in t.loc[rank.nlargest(min(n_labels, len(t))).index].iterrows():
            ax.annotate(str(row[names]), (row[x], row[y]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel(x_label, fontsize=8)
    ax.set_ylabel(y_label, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(v, 0 if abs(v) >= 10
                                                                           else 1)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(v, 0 if abs(v) >= 10
                                                                           else 1)))
    return _svg(fig, title=title)


def histogram(values: pd.Series, *, label: str, title: str, bins: int = 12) -> str | None:
    """Distribution of one indicator over the QPV, median marked.

    Examples
    --------
    >>> histogram(pd.Series([1.0, 2, 2, 3]), label="x", title="t")[:4]
    '<svg'
    """
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.nunique() < 2:
        return None
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(v, bins=min(bins, int(v.nunique())), color=_MAIN, edgecolor="white")
    med = float(np.median(v))
    ax.axvline(med, color=_ACCENT, linewidth=1.2, linestyle="--")
    ax.annotate(f"médiane : {format_number(med, 1)}", (med, 1.0),
                xycoords=("data", "axes fraction"), fontsize=7.5, color=_ACCENT,
                ha="left", va="top", xytext=(3, 0), textcoords="offset points")
    ax.set_xlabel(label, fontsize=8)
    ax.set_ylabel("Nombre de QPV", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, title=title)
