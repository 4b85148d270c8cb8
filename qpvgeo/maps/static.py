"""Print-quality static maps (matplotlib), to the standard of R's mapsf.

A map has a classed choropleth (mapclassify, the same classes as the interactive map
through :func:`qpvgeo.maps._classes.classify`), a legend giving the class bounds in
French notation, a scale bar (matplotlib-scalebar, in metres: the frames are in
Lambert-93), a north arrow, a title, a sources/credits line and, optionally, an inset
locating the territory in its region. :func:`save_figure` writes PNG (at a chosen dpi)
and/or PDF atomically.

The north arrow points to the top of the map, i.e. to Lambert-93 grid north; true north
differs from it by the meridian convergence (under 2.5° in Hauts-de-France, about
-1° at Lille), invisible at the size of the arrow.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from qpvgeo import schema
from qpvgeo._atomic import atomic_path
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.maps import _format
from qpvgeo.maps._classes import MISSING_COLOR, classify

_FORMATS = {".png", ".pdf"}


def _north_arrow(ax, *, x: float = 0.06, y: float = 0.88, size: float = 0.08) -> None:
    ax.annotate(
        "", xy=(x, y + size), xytext=(x, y), xycoords="axes fraction",
        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 10,
                    "headlength": 10},
    )
    ax.text(x, y + size + 0.012, "N", transform=ax.transAxes, ha="center", va="bottom",
            fontsize=11, fontweight="bold")


def _scale_bar(ax) -> None:
    from matplotlib_scalebar.scalebar import ScaleBar

    ax.add_artist(ScaleBar(1.0, units="m", location="lower left", box_alpha=0.8,
                           frameon=True, scale_loc="top", length_fraction=0.25))


def _inset(fig: Figure, region: gpd.GeoDataFrame, extent: Sequence[float]) -> None:
    region = schema.to_canonical_crs(region, what="inset region")
    # Bottom right, under the legend.
    ax = fig.add_axes((0.74, 0.06, 0.22, 0.22))
    region.plot(ax=ax, color="#eeeeee", edgecolor="#777777", linewidth=0.4)
    x0, y0, x1, y1 = extent
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#d7301f",
                           linewidth=1.2))
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title("Localisation", fontsize=7)


def plot_choropleth(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    scheme: str = "quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    bins: Sequence[float] | None = None,
    title: str | None = None,
    legend_title: str | None = None,
    sources: str | None = None,
    background: gpd.GeoDataFrame | None = None,
    inset: gpd.GeoDataFrame | None = None,
    figsize: tuple[float, float] = (8.0, 7.0),
    edgecolor: str = "#444444",
    linewidth: float = 0.4,
    decimals: int | None = None,
    scalebar: bool = True,
    north_arrow: bool = True,
    points: gpd.GeoDataFrame | None = None,
    points_label: str = "Sites industriels",
    extent: gpd.GeoDataFrame | Sequence[float] | None = None,
) -> Figure:
    """A classed choropleth of ``column`` with legend, scale bar, north arrow and sources.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons (any CRS; drawn in Lambert-93).
    column : str
        Numeric column to classify; missing values are drawn in grey (``n.d.``).
    scheme, k, cmap, bins
        See :func:`qpvgeo.maps._classes.classify`.
    title : str, optional
    legend_title : str, optional
        Default: the column's label and unit.
    sources : str, optional
        Sources/credits line printed under the map (prefixed by ``Sources :``).
    background : GeoDataFrame, optional
        Outlines drawn beneath (communes…), in grey.
    inset : GeoDataFrame, optional
        Region drawn in a small inset with the map's extent as a red rectangle.
    points : GeoDataFrame, optional
        Points drawn on top (industrial sites…), listed in the legend with their count
        within the map's extent.
    points_label : str
        Legend label of ``points``.
    extent : GeoDataFrame or (xmin, ymin, xmax, ymax), optional
        Area shown (Lambert-93 bounds, or a frame's), padded by 5 %; default the
        bounds of ``gdf``.
    figsize : (float, float)
        Inches; a PNG saved at ``dpi`` is ``figsize * dpi`` pixels.
    decimals : int, optional
        Digits of the class bounds (default: from the magnitude).

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.qpvgeo_classes`` (the classes drawn).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    >>> fig = plot_choropleth(g, "taux_pauvrete", k=3, title="Pauvreté")
    >>> len(fig.qpvgeo_classes.bins)
    3
    """
    schema.require_columns(gdf, [column], what="plot_choropleth")
    g = schema.to_canonical_crs(gdf, what="plot_choropleth")
    classes = classify(g[column], scheme=scheme, k=k, bins=bins, cmap=cmap, column=column,
                       decimals=decimals)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    if background is not None:
        schema.to_canonical_crs(background, what="background").plot(
            ax=ax, facecolor="#f7f7f7", edgecolor="#9e9e9e", linewidth=0.3)
    colors = np.array(classes.color_of(), dtype=object)
    g.plot(ax=ax, color=list(colors), edgecolor=edgecolor, linewidth=linewidth)
    if extent is None:
        x0, y0, x1, y1 = g.total_bounds
    elif isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        x0, y0, x1, y1 = schema.to_canonical_crs(extent, what="extent").total_bounds
    else:
        x0, y0, x1, y1 = (float(v) for v in extent)
    pad = 0.05 * max(x1 - x0, y1 - y0, 1.0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    handles = [Patch(facecolor=c, edgecolor=edgecolor, linewidth=0.4, label=label)
               for c, label in zip(classes.colors, classes.labels, strict=True)]
    if classes.n_missing:
        handles.append(Patch(facecolor=MISSING_COLOR, edgecolor=edgecolor, linewidth=0.4,
                             label=_format.MISSING))
    if points is not None:
        pts = schema.to_canonical_crs(points, what="points")
        pts = pts.cx[x0 - pad:x1 + pad, y0 - pad:y1 + pad]
        if len(pts):
            pts.plot(ax=ax, marker="^", color="#3f007d", markersize=18, edgecolor="white",
                     linewidth=0.4, zorder=5)
        handles.append(Line2D([], [], marker="^", linestyle="", color="#3f007d",
                              markeredgecolor="white",
                              label=f"{points_label} ({_format.format_number(len(pts))})"))
        ax.set_xlim(x0 - pad, x1 + pad)  # geopandas may have rescaled the axes
        ax.set_ylim(y0 - pad, y1 + pad)
    heading = textwrap.fill(legend_title or _format.legend_title(column), 30)
    ax.legend(handles=handles, title=heading,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9,
              title_fontsize=9, alignment="left")
    if scalebar:
        _scale_bar(ax)
    if north_arrow:
        _north_arrow(ax)
    if title:
        fig.suptitle(title, fontsize=13, fontweight="bold")
    if sources:
        fig.text(0.01, 0.005, f"Sources : {sources}", fontsize=7, color="#444444",
                 ha="left", va="bottom")
    if inset is not None:
        _inset(fig, inset, (x0, y0, x1, y1))
    fig.qpvgeo_classes = classes  # type: ignore[attr-defined]
    return fig


def plot_qpv(
    qpv: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    indicators: pd.DataFrame | None = None,
    communes: gpd.GeoDataFrame | None = None,
    region: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    sources: str | None = None,
    **kwargs,
) -> Figure:
    """Map of the QPV: a choropleth of ``column``, or their outlines over the communes.

    Parameters
    ----------
    qpv : GeoDataFrame
        Canonical QPV frame.
    column : str, optional
        Indicator (in ``qpv`` or ``indicators``); without it the QPV are drawn in one
        colour.
    indicators : DataFrame, optional
        Indexed by ``code_qpv``.
    communes : GeoDataFrame, optional
        Commune outlines drawn beneath.
    region : GeoDataFrame, optional
        Region for the location inset.
    sources : str, optional
        Default: ANCT/SIG Ville with the millésime, and INSEE when an indicator is drawn.
    **kwargs
        Passed to :func:`plot_choropleth` (``scheme``, ``k``, ``cmap``, ``bins``…).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> fig = plot_qpv(d.qpv, "taux_emploi", indicators=d.indicators, communes=d.communes, k=2)
    >>> fig.qpvgeo_classes.bins.size
    2
    """
    schema.require_columns(qpv, [schema.CODE_QPV], what="plot_qpv: qpv")
    frame = qpv
    if indicators is not None:
        extra = indicators.drop(columns=[c for c in indicators.columns if c in qpv.columns])
        if extra.index.name != schema.CODE_QPV and schema.CODE_QPV in extra.columns:
            extra = extra.set_index(schema.CODE_QPV)
        frame = qpv.merge(extra, left_on=schema.CODE_QPV, right_index=True, how="left")
    if sources is None:
        geo = ""
        if schema.MILLESIME in frame.columns:
            years = sorted({int(v) for v in frame[schema.MILLESIME].dropna().tolist()})
            geo = f" (géographie {', '.join(map(str, years))})" if years else ""
        sources = f"ANCT, SIG Ville{geo}" + ("; INSEE" if column else "") + \
            " — Réalisation : qpvgeo"
    if column is None:
        frame = frame.assign(_qpv=1.0)
        fig = plot_choropleth(frame, "_qpv", bins=[1.0], cmap="Oranges", title=title,
                              sources=sources, background=communes, inset=region,
                              legend_title=f"Quartiers prioritaires ({len(frame)})", **kwargs)
        fig.axes[0].get_legend().get_texts()[0].set_text("QPV")
        return fig
    if column not in frame.columns:
        raise SchemaError(f"plot_qpv: column {column!r} not found in qpv nor in indicators")
    return plot_choropleth(frame, column, title=title, sources=sources, background=communes,
                           inset=region, **kwargs)


def save_figure(
    fig: Figure, path: str | os.PathLike, *, dpi: int = 300,
    formats: Sequence[str] | None = None,
) -> list[Path]:
    """Write a figure as PNG and/or PDF, atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        Target; its suffix (``.png`` or ``.pdf``) picks the format. Without a suffix,
        or with ``formats``, one file per format is written beside it.
    dpi : int, default 300
        Resolution of the PNG (the PDF is vector; its embedded images use it too).
    formats : sequence of str, optional
        ``["png", "pdf"]``…

    Returns
    -------
    list of pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qpvgeo.datasets import demo
    >>> fig = plot_qpv(demo().qpv)
    >>> [p.suffix for p in save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "carte")]
    ['.png', '.pdf']
    """
    target = Path(path)
    if formats is not None:
        suffixes = ["." + f.lower().lstrip(".") for f in formats]
        stem = target.with_suffix("") if target.suffix.lower() in _FORMATS else target
        targets = [stem.with_suffix(s) for s in suffixes]
    elif target.suffix.lower() in _FORMATS:
        targets = [target]
    elif target.suffix == "":
        targets = [target.with_suffix(".png"), target.with_suffix(".pdf")]
    else:
        raise QpvgeoError(f"{target}: unsupported map format {target.suffix!r}; use .png or .pdf")
    bad = [t for t in targets if t.suffix.lower() not in _FORMATS]
    if bad:
        raise QpvgeoError(f"unsupported map format(s) {[t.suffix for t in bad]}; use png or pdf")
    for t in targets:
        with atomic_path(t) as tmp:
            # metadata without dates, so the same map gives the same file
            meta = {"Software": None} if t.suffix.lower() == ".png" else {"CreationDate": None}
            fig.savefig(tmp, dpi=dpi, format=t.suffix.lower()[1:], metadata=meta)
    return targets
