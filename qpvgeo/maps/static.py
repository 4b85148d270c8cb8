"""Print-quality static maps (matplotlib), to the standard of R's mapsf.

A map is laid out on a page sized to the map's extent: the map panel on the left, a
furniture column on the right (legend, north arrow) and a bottom band (scale bar,
sources with the millésimes), so that no piece of furniture ever covers the data or
another one (:func:`furniture_overlaps` checks it from the artists' extents). Context
layers (communes, départements, région outlines, the main city names) are drawn
beneath. Rates are drawn as choropleths with rounded, half-open class bounds
(``[36 ; 38[``, never more classes than distinct values); counts are drawn as
proportional symbols (:func:`plot_symbols`), as Insee and mapsf do. At most five QPV
are named directly on the map. PDFs embed TrueType (Type 42) fonts.

The north arrow points to the top of the map, i.e. to Lambert-93 grid north; true north
differs from it by the meridian convergence (under 2.5° in Hauts-de-France, about
-1° at Lille), invisible at the size of the arrow.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
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
#: Width of the page (inches) and of its furniture column; the height follows the extent.
_PAGE_W = 8.3
_SIDE_W = 2.35
_TITLE_H = 0.55
_BOTTOM_H = 0.9
_MARGIN = 0.15
_MAX_MAP_H = 9.0
_MIN_MAP_H = 3.2
#: QPV named on the map when there are at most this many.
_MAX_DIRECT_LABELS = 5


class MapFigure(Figure):
    """A matplotlib figure that shows itself in a notebook cell (``_repr_png_``), with no
    pyplot state involved."""

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


@dataclass(frozen=True)
class Context:
    """Context layers drawn beneath the data (any may be None).

    Attributes
    ----------
    communes : GeoDataFrame
        Commune outlines (thin grey).
    departements : GeoDataFrame
        Département outlines (medium grey).
    region : GeoDataFrame
        Region outline (dark grey).
    cities : GeoDataFrame
        Points with a ``nom`` column: the main city names, printed.
    """

    communes: gpd.GeoDataFrame | None = None
    departements: gpd.GeoDataFrame | None = None
    region: gpd.GeoDataFrame | None = None
    cities: gpd.GeoDataFrame | None = None


def context_from_communes(
    communes: gpd.GeoDataFrame, *, population: pd.DataFrame | None = None, n_cities: int = 8,
    draw_communes: bool = True,
) -> Context:
    """Context layers from commune outlines: départements and region by dissolving them,
    the ``n_cities`` most populous communes as names.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> ctx = context_from_communes(d.communes, population=d.commune_population, n_cities=2)
    >>> len(ctx.cities), len(ctx.departements)
    (2, 1)
    """
    import shapely

    c = schema.to_canonical_crs(communes, what="context communes")
    codes = c[schema.CODE_COMMUNE].astype(str)
    deps = codes.map(schema.departement_of_commune).fillna("?")
    geoms = c.geometry.to_numpy()
    dep_geoms = [shapely.union_all(geoms[(deps == d).to_numpy()]) for d in sorted(set(deps))]
    departements = gpd.GeoDataFrame({schema.CODE_DEPARTEMENT: sorted(set(deps))},
                                    geometry=dep_geoms, crs=schema.CRS)
    region = gpd.GeoDataFrame(geometry=[shapely.union_all(np.asarray(dep_geoms))],
                              crs=schema.CRS)
    cities = None
    if population is not None and n_cities:
        pop = population.set_index(population[schema.CODE_COMMUNE].astype(str))
        p = codes.map(pd.to_numeric(pop[schema.POPULATION], errors="coerce")).fillna(0)
        top = c.assign(_p=p.to_numpy()).nlargest(n_cities, "_p")
        names = (top[schema.NOM_COMMUNE] if schema.NOM_COMMUNE in top else
                 top[schema.CODE_COMMUNE].astype(str).map(pop[schema.NOM_COMMUNE]))
        cities = gpd.GeoDataFrame({"nom": names.astype(str).to_numpy()},
                                  geometry=top.geometry.representative_point().to_numpy(),
                                  crs=schema.CRS)
    return Context(communes=c if draw_communes else None, departements=departements,
                   region=region, cities=cities)


def _draw_context(ax, ctx: Context | None, background: gpd.GeoDataFrame | None) -> None:
    if background is not None:
        schema.to_canonical_crs(background, what="background").plot(
            ax=ax, facecolor="#f7f7f7", edgecolor="#b0b0b0", linewidth=0.3, zorder=0)
    if ctx is None:
        return
    if ctx.communes is not None:
        ctx.communes.plot(ax=ax, facecolor="#f7f7f7", edgecolor="#c8c8c8", linewidth=0.25,
                          zorder=0)
    if ctx.departements is not None:
        ctx.departements.boundary.plot(ax=ax, color="#8a8a8a", linewidth=0.7, zorder=1)
    if ctx.region is not None:
        ctx.region.boundary.plot(ax=ax, color="#444444", linewidth=1.1, zorder=1)


def _draw_names(ax, ctx: Context | None, extent) -> None:
    import matplotlib.patheffects as pe

    if ctx is None or ctx.cities is None:
        return
    x0, y0, x1, y1 = extent
    # cities come most populous first; a name too close to one already printed is
    # skipped (its neighbour's label would cover it)
    near = 0.06 * (x1 - x0)
    placed: list[tuple[float, float]] = []
    for name, pt in zip(ctx.cities["nom"], ctx.cities.geometry, strict=True):
        if any(abs(pt.x - px) < near * 1.6 and abs(pt.y - py) < near * 0.5
               for px, py in placed):
            continue
        if x0 < pt.x < x1 and y0 < pt.y < y1:
            placed.append((pt.x, pt.y))
            ax.plot(pt.x, pt.y, "o", color="#222222", markersize=2.2, zorder=6)
            ann = ax.annotate(str(name), (pt.x, pt.y), xytext=(3, 2),
                              textcoords="offset points", fontsize=7, color="#222222",
                              zorder=7,
                              path_effects=[pe.withStroke(linewidth=2, foreground="white")])
            ann.set_clip_on(True)  # a name never runs out of its map (or inset) frame


def _page(extent, *, title: bool) -> tuple[Figure, object, object, object, float]:
    """A figure sized to ``extent``: map axes, furniture axes (right), bottom band axes."""
    x0, y0, x1, y1 = extent
    aspect = (y1 - y0) / max(x1 - x0, 1.0)
    map_w = _PAGE_W - _SIDE_W - 2 * _MARGIN
    map_h = map_w * aspect
    if map_h > _MAX_MAP_H:
        map_h = _MAX_MAP_H
        map_w = map_h / aspect
    map_h = max(map_h, _MIN_MAP_H) if aspect * map_w >= _MIN_MAP_H else map_h
    top = _TITLE_H if title else _MARGIN
    height = top + map_h + _BOTTOM_H
    fig = MapFigure(figsize=(_PAGE_W, height))
    W, H = _PAGE_W, height
    ax = fig.add_axes((_MARGIN / W, _BOTTOM_H / H, map_w / W, map_h / H))
    side = fig.add_axes(((_MARGIN + map_w + 0.15) / W, _BOTTOM_H / H,
                         (_PAGE_W - map_w - _MARGIN * 2 - 0.15) / W, map_h / H))
    side.set_axis_off()
    # the band holds the scale bar, above the sources line (two lines of 6.5 pt at most)
    band = fig.add_axes((_MARGIN / W, 0.42 / H, map_w / W, 0.3 / H))
    band.set_axis_off()
    return fig, ax, side, band, map_w


def _set_extent(ax, extent) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()
    return x0, y0, x1, y1


def _padded(bounds, pad: float = 0.04) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in bounds)
    p = pad * max(x1 - x0, y1 - y0, 1.0)
    return x0 - p, y0 - p, x1 + p, y1 + p


def _nice_length(metres: float) -> float:
    power = 10 ** np.floor(np.log10(max(metres, 1.0)))
    for m in (5, 2, 1):
        if m * power <= metres:
            return float(m * power)
    return float(power)


def _scale_bar(band, ax) -> None:
    """A scale bar in the bottom band, at the map's scale (same width, same x-limits)."""
    x0, x1 = ax.get_xlim()
    band.set_xlim(x0, x1)
    band.set_ylim(0, 1)
    length = _nice_length((x1 - x0) / 4)
    band.plot([x0, x0 + length], [0.75, 0.75], color="black", linewidth=2.5,
              solid_capstyle="butt", gid="scalebar")
    label = _format.format_distance(length).replace(",0\u00a0km", "\u00a0km")
    band.text(x0, 0.95, label, fontsize=7.5, va="bottom", ha="left", gid="scalebar-label")


def _north_arrow(side) -> None:
    # a fixed size in inches, whatever the page height
    h = 0.45 / max(side.get_position().height * side.figure.get_figheight(), 0.5)
    side.annotate("", xy=(0.08, 0.02 + h), xytext=(0.08, 0.02), xycoords="axes fraction",
                  arrowprops={"facecolor": "black", "edgecolor": "black", "width": 2.5,
                              "headwidth": 8, "headlength": 8}, gid="north-arrow")
    side.text(0.08, 0.03 + h, "N", transform=side.transAxes, ha="center", va="bottom",
              fontsize=10, fontweight="bold", gid="north-label")


def _sources(fig, text: str | None, map_w: float) -> None:
    if not text:
        return
    width = int((map_w + _SIDE_W) * 17)  # characters of 6.5 pt per inch, about
    fig.text(_MARGIN / _PAGE_W, 0.05 / fig.get_figheight(),
             textwrap.fill(f"Sources : {text}", width),
             fontsize=6.5, color="#444444", ha="left", va="bottom", gid="sources")


def _direct_labels(ax, g: gpd.GeoDataFrame) -> None:
    import matplotlib.patheffects as pe

    if schema.NOM_QPV not in g or len(g) > _MAX_DIRECT_LABELS:
        return
    for name, pt in zip(g[schema.NOM_QPV], g.geometry.representative_point(), strict=True):
        # long intercommunal names on up to three short lines, kept inside the map
        text = textwrap.fill(_format.place_name(name), 26, max_lines=3, placeholder=" …")
        ann = ax.annotate(text, (pt.x, pt.y), xytext=(0, 6), textcoords="offset points",
                          ha="center", va="bottom", fontsize=7, fontweight="bold",
                          color="#1d3557", zorder=8, annotation_clip=True,
                          path_effects=[pe.withStroke(linewidth=2.2, foreground="white")])
        ann.set_clip_on(True)


def _legend(side, handles, heading: str, *, loc: str = "upper left") -> None:
    leg = side.legend(handles=handles, title=textwrap.fill(heading, 28), loc=loc,
                      bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=8,
                      title_fontsize=8.5, alignment="left", borderaxespad=0.0)
    leg.set_gid("legend")


def _extent_of(g, extent):
    if extent is None:
        return _padded(g.total_bounds)
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        return _padded(schema.to_canonical_crs(extent, what="extent").total_bounds)
    return _padded(extent)


def _points(ax, points, label, extent, handles) -> None:
    if points is None:
        return
    x0, y0, x1, y1 = extent
    pts = schema.to_canonical_crs(points, what="points").cx[x0:x1, y0:y1]
    if len(pts):
        pts.plot(ax=ax, marker="^", color="#3f007d", markersize=18, edgecolor="white",
                 linewidth=0.4, zorder=5)
    handles.append(Line2D([], [], marker="^", linestyle="", color="#3f007d",
                          markeredgecolor="white",
                          label=f"{label} ({_format.format_number(len(pts))})"))


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
    context: Context | None = None,
    inset: gpd.GeoDataFrame | None = None,
    edgecolor: str = "#444444",
    linewidth: float = 0.4,
    decimals: int | None = None,
    rounded: bool = True,
    scalebar: bool = True,
    north_arrow: bool = True,
    points: gpd.GeoDataFrame | None = None,
    points_label: str = "Sites industriels",
    extent: gpd.GeoDataFrame | Sequence[float] | None = None,
    labels: bool = True,
) -> Figure:
    """A classed choropleth of a rate, with its furniture outside the data.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons (any CRS; drawn in Lambert-93).
    column : str
        Numeric column to classify; missing values are drawn in grey (``n.d.``). A share
        (kind "share" in the column catalogue, 0–1) is classified in percent.
    scheme, k, cmap, bins
        See :func:`qpvgeo.maps._classes.classify`.
    rounded : bool, default True
        Rounded, half-open class bounds (``[36 ; 38[``); False keeps mapclassify's.
    title, legend_title, sources : str, optional
        Title; legend heading (default: the catalogue's label and unit); sources line.
    background : GeoDataFrame, optional
        Outlines drawn beneath, in grey.
    context : Context, optional
        Communes, départements, region outlines and city names.
    inset : GeoDataFrame, optional
        Region drawn small in the furniture column, the map's extent in red.
    points, points_label
        Points drawn on top (industrial sites…), counted in the legend.
    extent : GeoDataFrame or (xmin, ymin, xmax, ymax), optional
        Area shown (padded by 4 %); default the bounds of ``gdf``.
    labels : bool, default True
        Name the QPV on the map when there are at most five.

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.qpvgeo_classes`` (the classes drawn); the page is sized to the extent.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    >>> fig = plot_choropleth(g, "taux_pauvrete", k=3, title="Pauvreté")
    >>> fig.qpvgeo_classes.labels
    ['[38 ; 45[', '[45 ; 50[', '[50 ; 53]']
    >>> furniture_overlaps(fig)
    []
    """
    schema.require_columns(gdf, [column], what="plot_choropleth")
    g = schema.to_canonical_crs(gdf, what="plot_choropleth")
    info = _format.info_of(column)
    values = pd.to_numeric(g[column], errors="coerce")
    if info is not None and info.kind == "share":
        values = values * 100
    classes = classify(values, scheme=scheme, k=k, bins=bins, cmap=cmap, column=column,
                       decimals=decimals, rounded=rounded)
    ext = _extent_of(g, extent)
    fig, ax, side, band, map_w = _page(ext, title=bool(title))
    _draw_context(ax, context, background)
    g.plot(ax=ax, color=classes.color_of(), edgecolor=edgecolor, linewidth=linewidth, zorder=3)
    ext = _set_extent(ax, ext)
    handles = [Patch(facecolor=c, edgecolor=edgecolor, linewidth=0.4, label=label)
               for c, label in zip(classes.colors, classes.labels, strict=True)]
    if classes.n_missing:
        handles.append(Patch(facecolor=MISSING_COLOR, edgecolor=edgecolor, linewidth=0.4,
                             label=_format.MISSING))
    _points(ax, points, points_label, ext, handles)
    _set_extent(ax, ext)
    _draw_names(ax, context, ext)
    if labels:
        _direct_labels(ax, g)
    _finish(fig, ax, side, band, map_w, handles=handles,
            heading=legend_title or _format.legend_title(column), title=title,
            sources=sources, scalebar=scalebar, north_arrow=north_arrow, inset=inset, ext=ext)
    fig.qpvgeo_classes = classes  # type: ignore[attr-defined]
    fig.qpvgeo_data_bounds = tuple(g.total_bounds)  # type: ignore[attr-defined]
    return fig


def plot_categories(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    colors: dict[str, str],
    labels: dict[str, str] | None = None,
    outlines: gpd.GeoDataFrame | None = None,
    outlines_label: str = "Contours",
    title: str | None = None,
    legend_title: str | None = None,
    sources: str | None = None,
    context: Context | None = None,
    extent: gpd.GeoDataFrame | Sequence[float] | None = None,
    edgecolor: str = "#444444",
) -> Figure:
    """Polygons coloured by a category (a type, a class), other outlines drawn on top.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons (any CRS; drawn in Lambert-93).
    column : str
        Category of each polygon; every value must have a colour in ``colors``.
    colors : dict
        Category -> colour, in legend order (only the categories present are listed,
        each with its count).
    labels : dict, optional
        Category -> legend label (default: the category).
    outlines : GeoDataFrame, optional
        Polygons drawn as dashed outlines above the colours (another geography).
    outlines_label : str
        Legend label of ``outlines``.
    title, legend_title, sources, context, extent
        As in :func:`plot_choropleth`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SchemaError
        A category without a colour.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> q = demo().qpv.assign(t=["a", "b", "a", "b"])
    >>> fig = plot_categories(q, "t", colors={"a": "#1b9e77", "b": "#d95f02"},
    ...                       outlines=q.iloc[:1], title="Types")
    >>> furniture_overlaps(fig)
    []
    """
    schema.require_columns(gdf, [column], what="plot_categories")
    g = schema.to_canonical_crs(gdf, what="plot_categories")
    values = g[column].astype("string")
    unknown = sorted(set(values.dropna()) - set(colors))
    if unknown or values.isna().any():
        raise SchemaError(f"plot_categories: column {column!r} has values without a colour: "
                          f"{unknown or ['<NA>']}")
    labels = labels or {}
    ext = _extent_of(g, extent)
    fig, ax, side, band, map_w = _page(ext, title=bool(title))
    _draw_context(ax, context, None)
    g.plot(ax=ax, color=values.map(colors).to_numpy(), edgecolor=edgecolor, linewidth=0.4,
           zorder=3)
    handles: list = []
    counts = values.value_counts()
    for key, color in colors.items():
        if counts.get(key, 0):
            handles.append(Patch(facecolor=color, edgecolor=edgecolor, linewidth=0.4,
                                 label=f"{labels.get(key, key)} ({int(counts[key])})"))
    if outlines is not None and len(outlines):
        o = schema.to_canonical_crs(outlines, what="plot_categories outlines")
        o.boundary.plot(ax=ax, color="#111111", linewidth=0.9, linestyle=(0, (3, 2)),
                        zorder=4)
        handles.append(Line2D([], [], color="#111111", linewidth=0.9, linestyle=(0, (3, 2)),
                              label=f"{outlines_label} ({len(o)})"))
    ext = _set_extent(ax, ext)
    _draw_names(ax, context, ext)
    _direct_labels(ax, g)
    _finish(fig, ax, side, band, map_w, handles=handles, heading=legend_title or column,
            title=title, sources=sources, scalebar=True, north_arrow=True, inset=None,
            ext=ext)
    bounds = g.total_bounds if outlines is None or not len(outlines) else np.vstack(
        [g.total_bounds, schema.to_canonical_crs(outlines, what="outlines").total_bounds])
    b = np.atleast_2d(bounds)
    fig.qpvgeo_data_bounds = (b[:, 0].min(), b[:, 1].min(),  # type: ignore[attr-defined]
                              b[:, 2].max(), b[:, 3].max())
    return fig


def _finish(fig, ax, side, band, map_w, *, handles, heading, title, sources, scalebar,
            north_arrow, inset, ext) -> None:
    _legend(side, handles, heading)
    if north_arrow:
        _north_arrow(side)
    if scalebar:
        _scale_bar(band, ax)
    if title:
        fig.text(_MARGIN / _PAGE_W, 1 - 0.12 / fig.get_figheight(), title, fontsize=12.5,
                 fontweight="bold", ha="left", va="top", gid="title")
    _sources(fig, sources, map_w)
    if inset is not None:
        _inset(fig, side, inset, ext)


def _inset(fig: Figure, side, region: gpd.GeoDataFrame, extent: Sequence[float]) -> None:
    region = schema.to_canonical_crs(region, what="inset region")
    pos = side.get_position()
    w = pos.width * 0.75
    h = w * fig.get_figwidth() / fig.get_figheight()
    ax = fig.add_axes((pos.x0 + pos.width * 0.22, pos.y0, w, min(h, pos.height * 0.3)))
    region.plot(ax=ax, color="#eeeeee", edgecolor="#777777", linewidth=0.4)
    x0, y0, x1, y1 = extent
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#d7301f",
                           linewidth=1.2))
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title("Localisation", fontsize=7)


def _nice_values(vmax: float) -> list[float]:
    """Two or three round reference values for a symbol legend."""
    top = float(_nice_length(vmax))
    vals = [top, _nice_length(top / 4), _nice_length(top / 16)]
    return sorted({v for v in vals if v > 0}, reverse=True)


def plot_symbols(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    color_by: str | None = None,
    k: int = 5,
    cmap: str = "YlOrRd",
    color: str = "#1d3557",
    title: str | None = None,
    legend_title: str | None = None,
    sources: str | None = None,
    context: Context | None = None,
    background: gpd.GeoDataFrame | None = None,
    extent: gpd.GeoDataFrame | Sequence[float] | None = None,
    max_size: float = 20.0,
    outlines: bool = True,
    labels: bool = True,
    zoom: Sequence[float] | None = None,
    zoom_label: str = "",
) -> Figure:
    """Proportional circles of a count (population…), optionally coloured by the classes
    of a rate (``color_by``), as mapsf's ``prop`` / ``prop_choro``.

    The circle *area* is proportional to the value; ``max_size`` is the diameter (points)
    of the largest. The legend shows round reference values. ``zoom`` (Lambert-93
    bounds) adds an inset of a dense area in the furniture column, framed on the map
    (:func:`dense_area` finds one).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    >>> fig = plot_symbols(g, "population", color_by="taux_pauvrete", k=3)
    >>> fig.qpvgeo_symbols["values"]
    [20000.0, 5000.0, 1000.0]
    >>> furniture_overlaps(fig)
    []
    """
    schema.require_columns(gdf, [column], what="plot_symbols")
    g = schema.to_canonical_crs(gdf, what="plot_symbols")
    v = pd.to_numeric(g[column], errors="coerce")
    keep = v.notna() & (v > 0)
    g, v = g[keep], v[keep]
    if not len(g):
        raise SchemaError(f"plot_symbols: column {column!r} has no positive value")
    ext = _extent_of(g, extent)
    fig, ax, side, band, map_w = _page(ext, title=bool(title))
    _draw_context(ax, context, background)
    if outlines:
        g.plot(ax=ax, facecolor="#fbe3c7", edgecolor="#a04000", linewidth=0.3, zorder=2)
    vmax = float(v.max())
    sizes = (max_size ** 2) * v.to_numpy() / vmax  # area ∝ value (s is in points²)
    pts = g.geometry.representative_point()
    classes = None
    if color_by is not None and color_by in g:
        cv = pd.to_numeric(g[color_by], errors="coerce")
        info = _format.info_of(color_by)
        if info is not None and info.kind == "share":
            cv = cv * 100
        classes = classify(cv, k=k, cmap=cmap, column=color_by, rounded=True)
        colors = classes.color_of()
    else:
        colors = [color] * len(g)
    order = np.argsort(-sizes)  # big circles first, small on top
    ax.scatter(pts.x.to_numpy()[order], pts.y.to_numpy()[order], s=sizes[order],
               c=np.asarray(colors, dtype=object)[order].tolist(), edgecolors="white",
               linewidths=0.5, alpha=0.9, zorder=4)
    ext = _set_extent(ax, ext)
    _draw_names(ax, context, ext)
    if labels:
        _direct_labels(ax, g)
    refs = _nice_values(vmax)
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                      markeredgecolor="#333333", markersize=max_size * np.sqrt(r / vmax),
                      label=_format.format_number(r)) for r in refs]
    heading = legend_title or _format.legend_title(column)
    _legend(side, handles, heading)
    if classes is not None:
        chandles = [Patch(facecolor=c, edgecolor="#444444", linewidth=0.4, label=lab)
                    for c, lab in zip(classes.colors, classes.labels, strict=True)]
        if classes.n_missing:
            chandles.append(Patch(facecolor=MISSING_COLOR, edgecolor="#444444",
                                  linewidth=0.4, label=_format.MISSING))
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        leg1 = side.get_legend()
        side.add_artist(leg1)
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        bb = leg1.get_window_extent(canvas.get_renderer()).transformed(
            side.transAxes.inverted())
        leg2 = side.legend(handles=chandles, title=textwrap.fill(
            _format.legend_title(color_by), 28), loc="upper left",
            bbox_to_anchor=(0.0, bb.y0 - 0.04), frameon=False, fontsize=8,
            title_fontsize=8.5, alignment="left", borderaxespad=0.0)
        leg2.set_gid("legend-colours")
    _north_arrow(side)
    _scale_bar(band, ax)
    if title:
        fig.text(_MARGIN / _PAGE_W, 1 - 0.12 / fig.get_figheight(), title, fontsize=12.5,
                 fontweight="bold", ha="left", va="top", gid="title")
    _sources(fig, sources, map_w)
    if zoom is not None:
        _zoom_inset(fig, ax, side, zoom, label=zoom_label, draw=lambda zax: zax.scatter(
            pts.x.to_numpy()[order], pts.y.to_numpy()[order], s=sizes[order],
            c=np.asarray(colors, dtype=object)[order].tolist(), edgecolors="white",
            linewidths=0.5, alpha=0.9, zorder=4), context=context)
    fig.qpvgeo_symbols = {"values": refs, "max": vmax}  # type: ignore[attr-defined]
    fig.qpvgeo_data_bounds = tuple(g.total_bounds)  # type: ignore[attr-defined]
    fig.qpvgeo_classes = classes  # type: ignore[attr-defined]
    return fig


def dense_area(gdf: gpd.GeoDataFrame, column: str, *, radius: float = 12_000.0,
               min_share: float = 0.25) -> tuple[float, float, float, float] | None:
    """Bounds of the densest cluster of ``gdf`` (the most ``column`` within ``radius``
    of one feature), when it holds at least ``min_share`` of the total and is small
    beside the whole extent — where a map needs a zoomed inset; else None.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    >>> dense_area(g, "population") is None  # four QPV spread over the map: no inset
    True
    """
    import shapely

    g = schema.to_canonical_crs(gdf, what="dense_area")
    v = pd.to_numeric(g[column], errors="coerce").fillna(0).to_numpy()
    if len(g) < 8 or v.sum() <= 0:
        return None
    pts = g.geometry.representative_point()
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    tree = shapely.STRtree(pts.to_numpy())
    pairs = tree.query(pts.to_numpy(), predicate="dwithin", distance=radius)
    mass = np.bincount(pairs[0], weights=v[pairs[1]], minlength=len(g))
    best = int(np.argmax(mass))
    if mass[best] < min_share * v.sum():
        return None
    near = pairs[1][pairs[0] == best]
    x0, y0 = xy[near].min(axis=0)
    x1, y1 = xy[near].max(axis=0)
    bx0, by0, bx1, by1 = g.total_bounds
    if max(x1 - x0, y1 - y0) > 0.35 * max(bx1 - bx0, by1 - by0):
        return None  # the cluster is most of the map: nothing to zoom on
    side = max(x1 - x0, y1 - y0) * 1.15 + 2000
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _zoom_inset(fig, ax, side, zoom, *, label, draw, context) -> None:
    """A square inset of ``zoom`` in the furniture column, between the legends and the
    north arrow, framed in red on the map; symbols keep the main map's scale, so that the
    legend reads the same on both."""
    x0, y0, x1, y1 = zoom
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#d7301f",
                           linewidth=1.0, zorder=9))
    pos = side.get_position()
    w_in = min(pos.width * fig.get_figwidth() * 0.92, 2.1)
    bottom_in = pos.y0 * fig.get_figheight() + 0.85  # above the north arrow
    zax = fig.add_axes((pos.x0, bottom_in / fig.get_figheight(), w_in / fig.get_figwidth(),
                        w_in / fig.get_figheight()))
    _draw_context(zax, context, None)
    draw(zax)
    zax.set_xlim(x0, x1)
    zax.set_ylim(y0, y1)
    zax.set_aspect("equal", adjustable="box")
    _draw_names(zax, context, zoom)
    zax.set_xticks([])
    zax.set_yticks([])
    zax.set_xlabel("")
    zax.set_ylabel("")
    for spine in zax.spines.values():
        spine.set_edgecolor("#d7301f")
    zax.set_gid("zoom")
    if label:
        zax.set_title(label, fontsize=7.5, loc="left")


def furniture_overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of map furniture (legends, north arrow, scale bar, sources, title, the data)
    whose drawn extents intersect; ``[]`` when the layout is clean.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> furniture_overlaps(plot_qpv(demo().qpv))
    []
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes: dict[str, object] = {}
    for a in fig.findobj():
        gid = a.get_gid() if hasattr(a, "get_gid") else None
        if gid in {"legend", "legend-colours", "north-arrow", "north-label", "scalebar",
                   "scalebar-label", "sources", "title", "zoom"}:
            bb = a.get_window_extent(renderer)
            boxes[gid] = bb if gid not in boxes else type(bb).union([boxes[gid], bb])
    bounds = getattr(fig, "qpvgeo_data_bounds", None)
    if bounds is not None:
        from matplotlib.transforms import Bbox

        ax = fig.axes[0]
        x0, y0, x1, y1 = bounds
        (a, b), (c, d) = ax.transData.transform([(x0, y0), (x1, y1)])
        box = Bbox.from_extents(min(a, c), min(b, d), max(a, c), max(b, d))
        # what of the data lies inside the map frame (the rest is clipped away)
        boxes["data"] = Bbox.intersection(box, ax.get_window_extent(renderer)) or box
    names = sorted(boxes)
    pairs = []
    same = {frozenset({"north-arrow", "north-label"}), frozenset({"scalebar", "scalebar-label"})}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if frozenset({a, b}) in same:
                continue
            A, B = boxes[a], boxes[b]
            if A.x0 < B.x1 - 0.5 and B.x0 < A.x1 - 0.5 and A.y0 < B.y1 - 0.5 and B.y0 < A.y1 - 0.5:
                pairs.append((a, b))
    return pairs


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
        Commune outlines drawn beneath, with their départements and region outlined
        (:func:`context_from_communes`).
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
    ctx = context_from_communes(communes, n_cities=0) if communes is not None else None
    if column is None:
        frame = frame.assign(_qpv=1.0)
        fig = plot_choropleth(frame, "_qpv", bins=[1.0], cmap="Oranges", title=title,
                              sources=sources, context=ctx, inset=region,
                              legend_title=f"Quartiers prioritaires ({len(frame)})", **kwargs)
        fig.axes[1].get_legend().get_texts()[0].set_text("QPV")
        return fig
    if column not in frame.columns:
        raise SchemaError(f"plot_qpv: column {column!r} not found in qpv nor in indicators")
    return plot_choropleth(frame, column, title=title, sources=sources, context=ctx,
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
    import matplotlib

    for t in targets:
        with atomic_path(t) as tmp:
            # metadata without dates, so the same map gives the same file
            meta = {"Software": None} if t.suffix.lower() == ".png" else {"CreationDate": None}
            # TrueType (Type 42) fonts: editable and searchable in Illustrator / Inkscape,
            # accepted by printers that refuse Type 3.
            with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
                fig.savefig(tmp, dpi=dpi, format=t.suffix.lower()[1:], metadata=meta)
    return targets
