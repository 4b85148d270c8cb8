"""Interactive maps of the QPV (folium/Leaflet) that open anywhere.

:func:`qpv_map` draws the QPV outlines, optionally as a choropleth of an indicator,
with tooltips, popups, a legend of the class bounds, a layer control, a scale, a
fullscreen button and the sources in the attribution. ``add_*_layer`` add exposure
layers (flood, industrial sites with their radii, air, green spaces, heat, noise) and
territories (communes, EPCI) as layers that can be switched on and off.
:func:`save_html` writes the page, optionally with every script and stylesheet inlined
(``offline=True``) so that it works with no network at all.

Safety: no text that comes from data is ever parsed as HTML. Tooltips, popups, the
legend, the title and the notes are built in the browser with ``textContent``;
the attribution (which Leaflet inserts as HTML) and layer names (idem) are escaped in
Python. A QPV named ``<img src=x onerror=alert(1)>`` shows that text.

Web weight: geometries are simplified in Lambert-93 with a tolerance in metres,
preserving topology (``shapely.coverage_simplify`` for coverages such as communes and
EPCI, so that neighbours keep a shared edge; ``simplify(preserve_topology=True)``
otherwise), then projected to WGS84 and snapped to a grid of ``10**-precision`` degrees
(5 decimals ≈ 1.1 m in latitude). Only the properties the page shows are embedded.
"""

from __future__ import annotations

import functools
import html
import json
import os
import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from branca.element import Element, MacroElement
from jinja2 import Template

from qpvgeo import schema
from qpvgeo._atomic import atomic_path
from qpvgeo.errors import QpvgeoError, QpvgeoWarning, SchemaError
from qpvgeo.maps import _assets, _format, _pack
from qpvgeo.maps._classes import MISSING_COLOR, Classes, classify

#: Default attribution when the caller does not give one (the millésime is added).
DEFAULT_TILES = "OpenStreetMap"
#: Note shown on a map without base tiles.
NO_TILES_NOTE = (
    "Sans fond de carte : la carte fonctionne hors ligne, seuls les contours sont dessinés."
)
_AUTO = "auto"

# Leaflet panes, bottom to top: territories, exposure areas, QPV (overlayPane, 400),
# points. Territories and areas keep their tooltips (pointer events on).
_PANES = {"qpvgeo-territoires": 350, "qpvgeo-expositions": 380, "qpvgeo-points": 450}

_CSS = """
<style>
.qpvgeo-title {position:absolute; top:10px; left:50%; transform:translateX(-50%);
  z-index:1000; background:rgba(255,255,255,.9); padding:4px 10px; border-radius:4px;
  font:bold 15px/1.3 sans-serif; box-shadow:0 1px 4px rgba(0,0,0,.3); max-width:60%;
  text-align:center; pointer-events:none;}
.qpvgeo-note {position:absolute; bottom:30px; left:50%; transform:translateX(-50%);
  z-index:1000; background:rgba(255,255,224,.95); padding:3px 8px; border-radius:4px;
  font:12px/1.3 sans-serif; pointer-events:none;}
.qpvgeo-legend {background:rgba(255,255,255,.92); padding:6px 8px; border-radius:4px;
  font:12px/1.4 sans-serif; box-shadow:0 1px 4px rgba(0,0,0,.3); max-width:260px;}
.qpvgeo-legend .qpvgeo-legend-title {font-weight:bold; margin-bottom:3px;}
.qpvgeo-legend .qpvgeo-legend-row {white-space:nowrap;}
.qpvgeo-legend .qpvgeo-swatch {display:inline-block; width:14px; height:12px;
  margin-right:6px; vertical-align:middle; border:1px solid #555;}
table.qpvgeo-detail {border-collapse:collapse; font:12px/1.35 sans-serif;}
table.qpvgeo-detail th {text-align:left; padding-right:8px; font-weight:normal; color:#555;}
table.qpvgeo-detail td {font-weight:bold;}
.qpvgeo-search input, .qpvgeo-switch select {font:13px sans-serif; padding:4px 6px; max-width:300px;
  border:none; border-radius:4px; min-width:220px; background:#fff;}
.qpvgeo-switch label {display:block; font:bold 11px sans-serif; padding:3px 6px 0 6px;
  background:#fff; border-radius:4px 4px 0 0;}
</style>
"""


# -- small browser-side elements (text via textContent only) ----------------------------


class _Detail(MacroElement):
    """Bind a tooltip or popup table to a GeoJson layer, built with textContent.

    Each feature carries its formatted values in one property (a list); the labels are
    written once in the page.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var labels = {{ this.labels|tojson }};
            var prop = {{ this.prop|tojson }};
            function detail(layer) {
                var values = (layer.feature && layer.feature.properties[prop]) || [];
                var table = document.createElement("table");
                table.className = "qpvgeo-detail";
                for (var i = 0; i < labels.length; i++) {
                    var row = table.insertRow();
                    var th = document.createElement("th");
                    th.textContent = labels[i];
                    row.appendChild(th);
                    row.insertCell().textContent = values[i] == null ? "" : String(values[i]);
                }
                return table;
            }
            {%- if this.kind == "tooltip" %}
            {{ this._parent.get_name() }}.bindTooltip(detail, {sticky: true});
            {%- else %}
            {{ this._parent.get_name() }}.bindPopup(detail, {maxWidth: 360});
            {%- endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, labels: Sequence[str], prop: str, kind: str) -> None:
        super().__init__()
        self._name = "QpvgeoDetail"
        self.labels = [str(x) for x in labels]
        self.prop = prop
        self.kind = kind


class Legend(MacroElement):
    """A legend control: a title and rows of colour swatches with labels.

    Built with ``textContent``; the texts are shown as they are, never parsed.

    Parameters
    ----------
    title : str
    rows : sequence of (colour, label)
        Colours are CSS colours (``#rrggbb``).
    position : str, default "bottomright"
    kind : str, default "fill"
        ``"fill"`` (square swatches) or ``"line"`` (outline swatches) or ``"point"``.
    layer : folium layer, optional
        The layer the legend explains: the legend is shown only while that layer is on
        the map (it follows the layer control and the indicator switcher).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var spec = {{ this.spec|tojson }};
            var legend = L.control({position: spec.position});
            legend.onAdd = function() {
                var div = L.DomUtil.create("div", "qpvgeo-legend");
                var title = L.DomUtil.create("div", "qpvgeo-legend-title", div);
                title.textContent = spec.title;
                spec.rows.forEach(function(r) {
                    var row = L.DomUtil.create("div", "qpvgeo-legend-row", div);
                    var sw = L.DomUtil.create("span", "qpvgeo-swatch", row);
                    if (spec.kind === "line") {
                        sw.style.background = "transparent";
                        sw.style.border = "2px solid " + r[0];
                    } else {
                        sw.style.background = r[0];
                        if (spec.kind === "point") { sw.style.borderRadius = "50%"; }
                    }
                    var label = L.DomUtil.create("span", "qpvgeo-legend-label", row);
                    label.textContent = r[1];
                });
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            var map = {{ this._parent.get_name() }};
            legend.addTo(map);
            {%- if this.layer_name %}
            var layer = {{ this.layer_name }};
            var box = legend.getContainer();
            box.setAttribute("data-layer", {{ this.title|tojson }});
            function sync() { box.style.display = map.hasLayer(layer) ? "" : "none"; }
            layer.on("add", sync);
            layer.on("remove", sync);
            map.whenReady(sync);
            sync();
            {%- endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, title: str, rows: Sequence[tuple[str, str]], *, position: str = "bottomright",
        kind: str = "fill", layer: Any = None,
    ) -> None:
        super().__init__()
        self._name = "QpvgeoLegend"
        self.layer_name = layer.get_name() if layer is not None else ""
        self.title = str(title)
        self.rows = [(str(c), str(t)) for c, t in rows]
        self.spec = {"title": self.title, "rows": self.rows, "position": position, "kind": kind}


class _Search(MacroElement):
    """A search box on QPV names (an input with the names as suggestions): the map zooms
    to the QPV found and outlines it; ``data-found`` on the box says which one."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer_name }};
            var names = {{ this.names|tojson }};
            var ctl = L.control({position: "topleft"});
            ctl.onAdd = function() {
                var div = L.DomUtil.create("div", "qpvgeo-search leaflet-bar");
                var input = L.DomUtil.create("input", "", div);
                input.type = "search";
                input.placeholder = "Rechercher un quartier…";
                input.setAttribute("aria-label", "Rechercher un quartier prioritaire");
                var list = L.DomUtil.create("datalist", "", div);
                list.id = "qpvgeo-noms-" + Math.random().toString(36).slice(2);
                input.setAttribute("list", list.id);
                names.forEach(function(n) {
                    var o = document.createElement("option"); o.value = n; list.appendChild(o);
                });
                var last = null;
                function find(q, exact) {
                    var hit = null;
                    layer.eachLayer(function(l) {
                        var v = l.feature && String(l.feature.properties.n || "").toLowerCase();
                        if (!hit && v && (exact ? v === q : v.indexOf(q) >= 0)) { hit = l; }
                    });
                    return hit;
                }
                function go() {
                    var q = input.value.trim().toLowerCase();
                    if (!q) { return; }
                    var hit = find(q, true) || find(q, false);
                    if (last) { layer.resetStyle(last); last = null; }
                    if (!hit) { div.setAttribute("data-found", ""); return; }
                    map.fitBounds(hit.getBounds(), {maxZoom: 15});
                    hit.setStyle({weight: 4, color: "#000000"});
                    hit.bringToFront();
                    last = hit;
                    div.setAttribute("data-found", hit.feature.properties.n);
                }
                input.addEventListener("change", go);
                input.addEventListener("keydown", function(e) { if (e.key === "Enter") { go(); } });
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            ctl.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer: Any, names: Sequence[str]) -> None:
        super().__init__()
        self._name = "QpvgeoSearch"
        self.layer_name = layer.get_name()
        self.names = [str(n) for n in names]


class _Switcher(MacroElement):
    """A select control that shows one indicator layer at a time (the legends follow)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var map = {{ this._parent.get_name() }};
            var layers = [{% for n in this.layer_names %}{{ n }}{{ ", " if not loop.last }}
                          {%- endfor %}];
            var labels = {{ this.labels|tojson }};
            var ctl = L.control({position: "topright"});
            ctl.onAdd = function() {
                var div = L.DomUtil.create("div", "qpvgeo-switch leaflet-bar");
                var lab = L.DomUtil.create("label", "", div);
                lab.textContent = "Indicateur";
                var sel = L.DomUtil.create("select", "", div);
                sel.setAttribute("aria-label", "Indicateur représenté");
                labels.forEach(function(t, i) {
                    var o = document.createElement("option"); o.value = String(i);
                    o.textContent = t; sel.appendChild(o);
                });
                function show(i) {
                    layers.forEach(function(l, j) {
                        if (j === i) { if (!map.hasLayer(l)) { l.addTo(map); } }
                        else if (map.hasLayer(l)) { map.removeLayer(l); }
                    });
                    div.setAttribute("data-shown", labels[i]);
                }
                sel.addEventListener("change", function() { show(parseInt(sel.value, 10)); });
                map.whenReady(function() { show(0); });
                show(0);
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            ctl.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[Any], labels: Sequence[str]) -> None:
        super().__init__()
        self._name = "QpvgeoSwitcher"
        self.layer_names = [layer.get_name() for layer in layers]
        self.labels = [str(t) for t in labels]


class _Banner(MacroElement):
    """A title or a note laid over the map (textContent)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var div = L.DomUtil.create("div", {{ this.css_class|tojson }},
                                       {{ this._parent.get_name() }}.getContainer());
            div.textContent = {{ this.text|tojson }};
        })();
        {% endmacro %}
        """
    )

    def __init__(self, text: str, css_class: str) -> None:
        super().__init__()
        self._name = "QpvgeoBanner"
        self.text = str(text)
        self.css_class = css_class


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metric units only (folium's also shows feet and miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, position: "bottomleft"})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "QpvgeoScale"


class _Attribution(MacroElement):
    """Add an (escaped) attribution text: Leaflet inserts attributions as HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.escaped|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "QpvgeoAttribution"
        self.escaped = html.escape(str(text))


# -- geometry for the web -----------------------------------------------------------------


def web_geometry(
    gdf: gpd.GeoDataFrame,
    *,
    tolerance: float = 5.0,
    precision: int = 5,
    coverage: bool = False,
    what: str = "layer",
) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` simplified for the web, in WGS84 with rounded coordinates.

    Parameters
    ----------
    gdf : GeoDataFrame
        Any CRS (a missing CRS is an error).
    tolerance : float, default 5.0
        Simplification tolerance in metres (Lambert-93); 0 keeps every vertex.
    precision : int, default 5
        Decimals kept in longitude/latitude (5 ≈ 1.1 m).
    coverage : bool, default False
        The polygons tile the territory without overlaps (communes, EPCI): simplify
        them together with ``shapely.coverage_simplify`` so that shared edges stay
        shared. Falls back to per-geometry simplification, with a warning, when the
        layer turns out not to be a valid coverage.
    what : str
        Name of the layer in messages.

    Returns
    -------
    GeoDataFrame
        EPSG:4326. Invalid polygons are repaired (``make_valid``) with a
        :class:`~qpvgeo.errors.QpvgeoWarning` giving their count.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame(geometry=[box(700000, 7000000, 700100, 7000100)], crs=2154)
    >>> web_geometry(g).crs.to_epsg()
    4326
    """
    g = schema.to_canonical_crs(gdf, what=what)
    geoms = np.asarray(g.geometry.array, dtype=object)
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
        warnings.warn(
            f"{what}: {int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
            "repaired with make_valid before simplification",
            QpvgeoWarning, stacklevel=3,
        )
    if tolerance and tolerance > 0:
        simplified = None
        if coverage:
            if bool(shapely.coverage_is_valid(geoms)):
                simplified = shapely.coverage_simplify(geoms, tolerance)
            else:
                warnings.warn(
                    f"{what}: the polygons overlap or leave slivers, so they are not a valid "
                    "coverage; simplified one by one (shared edges may drift apart)",
                    QpvgeoWarning, stacklevel=3,
                )
        if simplified is None:
            simplified = shapely.simplify(geoms, tolerance, preserve_topology=True)
        geoms = simplified
    wgs = gpd.GeoSeries(geoms, crs=schema.CRS, index=g.index).to_crs(4326)
    raw = np.asarray(wgs.array, dtype=object)
    try:
        # Rounding the coordinates is ten times faster than snap-rounding with
        # set_precision; repeated points are then dropped. Rounding may leave a
        # self-touching ring, harmless for drawing.
        rounded = shapely.remove_repeated_points(
            shapely.transform(raw, lambda xy: np.round(xy, int(precision)))
        )
    except shapely.errors.GEOSException:  # a ring collapsed below the grid
        rounded = shapely.set_precision(raw, 10.0 ** -int(precision))
    # A sliver smaller than the grid would vanish: keep it unrounded rather than lose it.
    lost = shapely.is_empty(rounded) & ~shapely.is_empty(raw) & ~shapely.is_missing(raw)
    rounded[lost] = raw[lost]
    out = g.drop(columns=g.geometry.name).copy()
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(rounded, index=g.index), crs=4326)


def _feature_collection(
    web: gpd.GeoDataFrame, props: dict[str, Sequence[Any]], ids: Sequence[str] | None = None
) -> dict:
    """A GeoJSON FeatureCollection with only the given properties."""
    geoms = np.asarray(web.geometry.array, dtype=object)
    keys = list(props)
    columns = [list(props[k]) for k in keys]
    features = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        feature = {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geom),
            "properties": {k: col[i] for k, col in zip(keys, columns, strict=True)},
        }
        if ids is not None:
            feature["id"] = str(ids[i])
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def _formatted(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[str]]:
    """Per row, the French-formatted values of ``columns``."""
    cols = []
    for c in columns:
        series = frame[c]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            info = _format.info_of(c)
            if info is not None:
                cols.append([_format.format_column(v, info) for v in series.tolist()])
            else:
                cols.append([_format.format_value(v, c) for v in series.tolist()])
        else:
            name = c in (schema.NOM_QPV, "nom", "nom_site")
            cols.append([_format.MISSING if _format._is_missing(v) else
                         (_format.place_name(v) if name else str(v)) for v in series.tolist()])
    return [list(r) for r in zip(*cols, strict=True)] if cols else [[] for _ in range(len(frame))]


def _ensure_panes(m: folium.Map) -> None:
    if getattr(m, "_qpvgeo_panes", False):
        return
    for name, z in _PANES.items():
        folium.map.CustomPane(name, z_index=z, pointer_events=True).add_to(m)
    m._qpvgeo_panes = True  # type: ignore[attr-defined]


def _check_map(m: object) -> folium.Map:
    if not isinstance(m, folium.Map):
        raise QpvgeoError(f"expected a folium.Map (from qpv_map), got {type(m).__name__}")
    return m


# -- the QPV map --------------------------------------------------------------------------


def _attribution(qpv: pd.DataFrame, column: str | None, sources: str | None) -> str:
    millesimes = []
    if schema.MILLESIME in qpv.columns:
        millesimes = sorted({int(v) for v in qpv[schema.MILLESIME].dropna().tolist()})
    geo = ", ".join(str(v) for v in millesimes) if millesimes else "millésime non précisé"
    parts = [f"Contours des QPV : ANCT, SIG Ville (géographie {geo})"]
    if column is not None:
        parts.append("Indicateurs : INSEE, SIG Ville")
    if sources:
        parts.append(str(sources))
    parts.append("Réalisation : qpvgeo")
    return " | ".join(parts)


def qpv_map(
    qpv: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    indicators: pd.DataFrame | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    bins: Sequence[float] | None = None,
    tooltip: Sequence[str] | None = None,
    popup: Sequence[str] | bool | None = None,
    layers: Sequence[tuple[str, gpd.GeoDataFrame]] | None = None,
    tiles: str | None = DEFAULT_TILES,
    simplify: float = 5.0,
    precision: int = 5,
    title: str | None = None,
    attribution: str | None = _AUTO,
    sources: str | None = None,
    name: str = "Quartiers prioritaires (QPV)",
    search: bool = True,
    outline_only: bool = False,
) -> folium.Map:
    """Interactive map of the QPV, optionally a choropleth of one indicator.

    Parameters
    ----------
    qpv : GeoDataFrame
        Canonical QPV frame (``code_qpv``, ``nom_qpv``, optional ``code_commune``,
        ``nom_commune``, ``millesime``), any CRS.
    column : str, optional
        Indicator to map as classes (in ``qpv`` or in ``indicators``). Without it the
        QPV are drawn as outlines.
    indicators : DataFrame, optional
        Indicators indexed by ``code_qpv`` (``read_qpv_indicators``), joined to ``qpv``.
    scheme, k, cmap, bins
        Classification (see :func:`qpvgeo.maps._classes.classify`): ``"quantiles"``,
        ``"natural_breaks"``, ``"equal_interval"`` or user ``bins`` (upper bounds).
    tooltip : sequence of str, optional
        Indicators shown on hover under the QPV name and commune; default ``[column]``.
    popup : sequence of str or bool, optional
        Indicators shown on click (with the code); default none (the tooltip shows the
        same on hover); True for the tooltip's.
    layers : sequence of (kind, GeoDataFrame), optional
        Extra layers passed to :func:`add_layer` (``("communes", communes)``…).
    tiles : str or None, default "OpenStreetMap"
        Folium tiles name or URL; None for no base map (an offline map: a note says so).
    simplify : float, default 5.0
        Simplification tolerance in metres (see :func:`web_geometry`).
    precision : int, default 5
        Decimals kept in coordinates.
    title : str, optional
        Title shown over the map.
    attribution : str, optional
        Sources line; default names ANCT/SIG Ville with the millésime(s) of ``qpv`` and
        INSEE when an indicator is mapped. None for none.
    sources : str, optional
        Extra text appended to the default attribution.
    name : str
        Name of the QPV layer in the layer control.
    search : bool, default True
        A search box on the QPV names (zooms to the QPV found).
    outline_only : bool, default False
        Draw the QPV as outlines only (the indicators then come from
        :func:`add_indicator_switcher`, drawn beneath); the tooltip stays.

    Returns
    -------
    folium.Map
        With ``m.qpvgeo_classes`` (the :class:`~qpvgeo.maps._classes.Classes`, or None).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, "taux_pauvrete", indicators=d.indicators, tiles=None, k=3)
    >>> m.qpvgeo_classes.bins.size
    3
    """
    schema.require_columns(qpv, [schema.CODE_QPV, schema.NOM_QPV], what="qpv_map: qpv")
    frame = qpv
    if indicators is not None:
        extra = indicators.drop(columns=[c for c in indicators.columns if c in qpv.columns])
        if extra.index.name != schema.CODE_QPV and schema.CODE_QPV in extra.columns:
            extra = extra.set_index(schema.CODE_QPV)
        frame = qpv.merge(extra, left_on=schema.CODE_QPV, right_index=True, how="left")
    if column is not None and column not in frame.columns:
        raise SchemaError(
            f"qpv_map: column {column!r} is neither in the QPV frame nor in indicators; "
            f"available: {[c for c in frame.columns if c != frame.geometry.name]}"
        )
    shown = list(tooltip) if tooltip is not None else ([column] if column else [])
    popup_cols = shown if popup is True else (list(popup) if popup else [])
    missing = [c for c in [*shown, *popup_cols] if c not in frame.columns]
    if missing:
        raise SchemaError(f"qpv_map: tooltip/popup column(s) {missing} not found")

    web = web_geometry(frame, tolerance=simplify, precision=precision, what="QPV")
    classes: Classes | None = None
    if column is not None:
        classes = classify(frame[column], scheme=scheme, k=k, bins=bins, cmap=cmap, column=column)

    m = folium.Map(tiles=tiles, control_scale=False, prefer_canvas=False, zoom_control=True)
    _MetricScale().add_to(m)
    # Only the assets this page uses: no Bootstrap, icon fonts or awesome-markers.
    m.default_js = [(n, u) for n, u in m.default_js if n in {"leaflet", "jquery"}]
    m.default_css = [(n, u) for n, u in m.default_css if n == "leaflet_css"]
    m.get_root().header.add_child(Element(_CSS), name="qpvgeo_css")
    _ensure_panes(m)

    commune_col = next((c for c in (schema.NOM_COMMUNE, "noms_communes", schema.CODE_COMMUNE)
                        if c in frame.columns), None)
    head = [schema.NOM_QPV, schema.CODE_QPV] + ([commune_col] if commune_col else [])
    t_labels = [_format.label_of(c) for c in head] + [_format.label_of(c) for c in shown]
    p_labels = [_format.label_of(c) for c in head] + [_format.label_of(c) for c in popup_cols]
    heads = _formatted(frame, head)
    props: dict[str, Sequence[Any]] = {
        "t": [a + b for a, b in zip(heads, _formatted(frame, shown), strict=True)],
    }
    if popup_cols:
        props["p"] = [a + b for a, b in zip(heads, _formatted(frame, popup_cols), strict=True)]
    fill = classes.color_of() if classes is not None else ["#e6550d"] * len(frame)
    props["c"] = fill
    props["n"] = [_format.place_name(v) for v in frame[schema.NOM_QPV].tolist()]
    codes = frame[schema.CODE_QPV].astype(str).tolist()
    ids = codes if len(set(codes)) == len(codes) else [str(i) for i in range(len(codes))]
    data = _feature_collection(web, props, ids)
    # outline only: a near-zero fill keeps the hover inside the polygon
    opacity = 0.75 if classes is not None else (0.01 if outline_only else 0.25)

    def style(feature: dict) -> dict:
        return {"fillColor": feature["properties"]["c"], "color": "#333333", "weight": 1.2,
                "fillOpacity": opacity, "className": "qpvgeo-qpv"}

    layer = folium.GeoJson(
        data, name=html.escape(name), style_function=style,
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
    )
    _Detail(t_labels, "t", "tooltip").add_to(layer)
    if popup_cols:
        _Detail(p_labels, "p", "popup").add_to(layer)
    layer.add_to(m)

    if classes is not None:
        rows = list(zip(classes.colors, classes.labels, strict=True))
        if classes.n_missing:
            rows.append((MISSING_COLOR, f"{_format.MISSING} ({classes.n_missing})"))
        Legend(_format.legend_title(column), rows, layer=layer).add_to(m)
    elif not outline_only:
        Legend(name, [("#e6550d", f"{len(frame)} quartiers")], layer=layer).add_to(m)
    if search:
        _Search(layer, sorted(set(props["n"]))).add_to(m)

    if title:
        _Banner(title, "qpvgeo-title").add_to(m)
    if tiles is None:
        _Banner(NO_TILES_NOTE, "qpvgeo-note").add_to(m)
    text = _attribution(frame, column, sources) if attribution == _AUTO else attribution
    if text:
        _Attribution(text).add_to(m)

    fs = folium.plugins.Fullscreen(title="Plein écran", title_cancel="Quitter le plein écran")
    fs.default_js = [("Control.Fullscreen.js", _assets.FULLSCREEN_JS)]
    fs.default_css = [("Control.FullScreen.css", _assets.FULLSCREEN_CSS)]
    fs.add_to(m)

    bounds = web.total_bounds
    if np.all(np.isfinite(bounds)):
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    m.qpvgeo_classes = classes  # type: ignore[attr-defined]
    m.qpvgeo_qpv_layer = layer  # type: ignore[attr-defined]
    for kind, gdf in layers or ():
        add_layer(m, gdf, kind=kind)
    m.keep_in_front(layer)
    return m


# -- extra layers ---------------------------------------------------------------------------

_FLOOD_STYLE = {"frequent": ("#08519c", "Fréquent (forte probabilité)"),
                "moyen": ("#3182bd", "Moyen (probabilité moyenne)"),
                "extreme": ("#9ecae1", "Extrême (faible probabilité)")}
_SEVESO_STYLE = {"haut": ("#a50f15", "Seveso seuil haut"),
                 "bas": ("#fb6a4a", "Seveso seuil bas"),
                 "non": ("#636363", "Non Seveso"),
                 "nd": ("#bdbdbd", "Statut Seveso non renseigné")}

#: Layer kinds accepted by :func:`add_layer`.
LAYER_KINDS = ("communes", "epci", "territory", "flood", "sites", "air", "green_spaces",
               "heat", "noise")


def _geojson_layer(
    m: folium.Map, web: gpd.GeoDataFrame, *, name: str, pane: str,
    fill: Sequence[str], labels: Sequence[str], values: list[list[str]],
    stroke: str, weight: float, fill_opacity: float, show: bool, css_class: str,
    dash: str | None = None, fill_on: bool = True,
) -> folium.GeoJson:
    data = _feature_collection(web, {"t": values, "c": list(fill)})

    def style(feature: dict) -> dict:
        s = {"fillColor": feature["properties"]["c"], "color": stroke, "weight": weight,
             "fillOpacity": fill_opacity if fill_on else 0.0, "fill": fill_on,
             "className": css_class}
        if dash:
            s["dashArray"] = dash
        return s

    layer = folium.GeoJson(data, name=html.escape(name), style_function=style, show=show,
                           pane=pane)
    if labels:
        _Detail(labels, "t", "tooltip").add_to(layer)
    layer.add_to(m)
    return layer


def add_territory_layer(
    m: folium.Map,
    territories: gpd.GeoDataFrame,
    *,
    label: str | None = None,
    name: str = "Communes",
    color: str = "#8c8c8c",
    weight: float = 0.6,
    simplify: float = 20.0,
    precision: int = 4,
    show: bool = True,
) -> folium.GeoJson:
    """Add territory outlines (communes, EPCI…) as a layer that can be toggled.

    The polygons are simplified together as a coverage, so neighbours keep shared edges.

    Parameters
    ----------
    m : folium.Map
    territories : GeoDataFrame
        Polygons; ``label`` names the column shown on hover (default ``nom_epci``,
        ``nom_commune`` or the first text column found).
    name : str
        Layer name in the control.
    color, weight
        Outline colour and width (px).
    simplify : float, default 20.0
        Tolerance in metres.
    precision : int, default 4
        Decimals kept (1e-4 degree ≈ 11 m, consistent with the 20 m tolerance: outlines
        of context layers need no more, and the 3,782 communes of Hauts-de-France then
        weigh about 3 MB instead of 3.5).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_territory_layer(m, d.communes, name="Communes")
    """
    _check_map(m)
    _ensure_panes(m)
    if label is None:
        label = next((c for c in (schema.NOM_EPCI, schema.NOM_COMMUNE, schema.CODE_EPCI,
                                  schema.CODE_COMMUNE) if c in territories.columns), None)
    elif label not in territories.columns:
        raise SchemaError(f"{name}: label column {label!r} not found; columns: "
                          f"{list(territories.columns)}")
    web = web_geometry(territories, tolerance=simplify, precision=precision, coverage=True,
                       what=name)
    labels = [_format.label_of(label)] if label else []
    values = _formatted(territories, [label]) if label else [[] for _ in range(len(web))]
    return _geojson_layer(
        m, web, name=name, pane="qpvgeo-territoires", fill=[color] * len(web), labels=labels,
        values=values, stroke=color, weight=weight, fill_opacity=0.0, show=show,
        css_class="qpvgeo-territory", fill_on=False,
    )


def add_flood_layer(
    m: folium.Map, flood: gpd.GeoDataFrame, *, name: str = "Zones inondables (TRI)",
    simplify: float = 5.0, precision: int = 5, show: bool = True,
) -> folium.GeoJson:
    """Add flood extents by scenario (``scenario``: frequent, moyen, extreme).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_flood_layer(m, d.flood)
    """
    _check_map(m)
    _ensure_panes(m)
    schema.require_columns(flood, [schema.SCENARIO], what=name)
    unknown = sorted(set(flood[schema.SCENARIO].dropna().astype(str)) - set(_FLOOD_STYLE))
    if unknown:
        raise SchemaError(f"{name}: unknown scenario value(s) {unknown}; expected "
                          f"{list(schema.FLOOD_SCENARIOS)}")
    # Largest extent first, so that the frequent one is drawn on top.
    order = {"extreme": 0, "moyen": 1, "frequent": 2}
    ordered = flood.iloc[np.argsort(flood[schema.SCENARIO].map(order).to_numpy(), kind="stable")]
    web = web_geometry(ordered, tolerance=simplify, precision=precision, what=name)
    scen = ordered[schema.SCENARIO].astype(str).tolist()
    fill = [_FLOOD_STYLE[s][0] for s in scen]
    values = [[_FLOOD_STYLE[s][1]] for s in scen]
    layer = _geojson_layer(
        m, web, name=name, pane="qpvgeo-expositions", fill=fill,
        labels=[_format.label_of(schema.SCENARIO)], values=values, stroke="#08306b",
        weight=0.5, fill_opacity=0.45, show=show, css_class="qpvgeo-flood",
    )
    present = [s for s in ("frequent", "moyen", "extreme") if s in set(scen)]
    Legend(name, [_FLOOD_STYLE[s] for s in present], position="bottomleft",
           layer=layer).add_to(m)
    return layer


def add_sites_layer(
    m: folium.Map, sites: gpd.GeoDataFrame, *, radius: float | str | dict | None = None,
    name: str = "Sites industriels (Seveso, ICPE)", precision: int = 5, show: bool = True,
) -> folium.FeatureGroup:
    """Add industrial sites as points coloured by Seveso status, with their radii.

    Parameters
    ----------
    sites : GeoDataFrame
        Points with ``nom_site`` and ``seveso`` (``haut``/``bas``/``non``); a missing
        status is shown as "non renseigné", not as "non".
    radius : float, str or dict, optional
        Radius drawn around each site, in metres: one number, the name of a column, or
        a dict by Seveso status (``{"haut": 1000, "bas": 500}``; others get none).
        None draws the points only.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_sites_layer(m, d.sites, radius={"haut": 1000, "bas": 500})
    """
    _check_map(m)
    _ensure_panes(m)
    g = schema.to_canonical_crs(sites, what=name)
    geom_types = set(g.geom_type.dropna())
    if not geom_types <= {"Point"}:
        raise SchemaError(f"{name}: expected points, got {sorted(geom_types)}")
    # An unknown status (IREP emitters carry none) is said so, never shown as "non".
    status = (g[schema.SEVESO].astype("string").str.lower().fillna("nd")
              if schema.SEVESO in g.columns else pd.Series("nd", index=g.index))
    status = status.where(status.isin(list(_SEVESO_STYLE)), "nd")
    if radius is None:
        r = np.zeros(len(g))
    elif isinstance(radius, str):
        schema.require_columns(g, [radius], what=name)
        r = pd.to_numeric(g[radius], errors="coerce").fillna(0).to_numpy(dtype="float64")
    elif isinstance(radius, dict):
        r = status.map(lambda s: float(radius.get(s, 0) or 0)).to_numpy(dtype="float64")
    else:
        r = np.full(len(g), float(radius))
    group = folium.FeatureGroup(name=html.escape(name), show=show)
    label_cols = [c for c in (schema.NOM_SITE, schema.CODE_SITE) if c in g.columns]
    labels = [_format.label_of(c) for c in label_cols] + [_format.label_of(schema.SEVESO)]
    status_text = [_SEVESO_STYLE[s][1] for s in status.tolist()]
    values = [row + [s] for row, s in zip(_formatted(g, label_cols), status_text, strict=True)]
    colors = [_SEVESO_STYLE[s][0] for s in status.tolist()]
    has_r = r > 0
    if has_r.any():
        zones = g.loc[has_r].copy()
        zones = zones.set_geometry(shapely.buffer(np.asarray(zones.geometry.array), r[has_r],
                                                  quad_segs=16))
        web_z = web_geometry(zones, tolerance=0, precision=precision, what=name)
        zone_values = [v + [f"{_format.format_number(x)}\u00a0m"] for v, x in
                       zip([values[i] for i in np.flatnonzero(has_r)], r[has_r], strict=True)]
        data = _feature_collection(web_z, {"t": zone_values,
                                           "c": [colors[i] for i in np.flatnonzero(has_r)]})
        zl = folium.GeoJson(
            data, style_function=lambda f: {"color": f["properties"]["c"], "weight": 1.5,
                                            "dashArray": "4 4", "fillOpacity": 0.08,
                                            "fillColor": f["properties"]["c"],
                                            "className": "qpvgeo-site-radius"},
            pane="qpvgeo-expositions",
        )
        _Detail([*labels, "Rayon"], "t", "tooltip").add_to(zl)
        zl.add_to(group)
    web = web_geometry(g, tolerance=0, precision=precision, what=name)
    data = _feature_collection(web, {"t": values, "c": colors})
    pts = folium.GeoJson(
        data,
        marker=folium.CircleMarker(radius=5, pane="qpvgeo-points"),
        style_function=lambda f: {"color": "#000000", "weight": 1, "fill": True, "fillColor":
                                  f["properties"]["c"], "fillOpacity": 0.9,
                                  "className": "qpvgeo-site"},
    )
    _Detail(labels, "t", "tooltip").add_to(pts)
    pts.add_to(group)
    group.add_to(m)
    present = [s for s in ("haut", "bas", "non", "nd") if s in set(status)]
    Legend(name, [_SEVESO_STYLE[s] for s in present], position="bottomleft",
           kind="point", layer=group).add_to(m)
    return group


def add_choropleth_layer(
    m: folium.Map, gdf: gpd.GeoDataFrame, column: str, *, name: str | None = None,
    scheme: str = "quantiles", k: int = 5, cmap: str = "YlOrRd",
    bins: Sequence[float] | None = None, label: str | None = None, simplify: float = 5.0,
    precision: int = 5, coverage: bool = False, show: bool = True, opacity: float = 0.6,
    css_class: str = "qpvgeo-area",
) -> folium.GeoJson:
    """Add any polygon layer as a classed choropleth with its own legend.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_choropleth_layer(m, d.air, "no2", k=3)
    """
    _check_map(m)
    _ensure_panes(m)
    schema.require_columns(gdf, [column], what=name or column)
    title = name or _format.label_of(column)
    classes = classify(gdf[column], scheme=scheme, k=k, bins=bins, cmap=cmap, column=column)
    rows = list(zip(classes.colors, classes.labels, strict=True))
    if classes.n_missing:
        rows.append((MISSING_COLOR, _format.MISSING))
    layer = _legend_layer(
        m, gdf, column, title=title, fill=classes.color_of(), rows=rows, label=label,
        simplify=simplify, precision=precision, coverage=coverage, show=show,
        opacity=opacity, css_class=css_class,
    )
    layer.qpvgeo_classes = classes  # type: ignore[attr-defined]
    return layer


def _legend_layer(
    m: folium.Map, gdf: gpd.GeoDataFrame, column: str, *, title: str, fill: Sequence[str],
    rows: list[tuple[str, str]], label: str | None, simplify: float, precision: int,
    coverage: bool, show: bool, opacity: float, css_class: str,
) -> folium.GeoJson:
    """A filled exposure layer with hover values and its legend (colour, label) rows."""
    web = web_geometry(gdf, tolerance=simplify, precision=precision, coverage=coverage,
                       what=title)
    cols = ([label] if label else []) + [column]
    layer = _geojson_layer(
        m, web, name=title, pane="qpvgeo-expositions", fill=fill,
        labels=[_format.label_of(c) for c in cols], values=_formatted(gdf, cols),
        stroke="#777777", weight=0.3, fill_opacity=opacity, show=show, css_class=css_class,
    )
    Legend(title, rows, position="bottomleft", layer=layer).add_to(m)
    return layer


def add_indicator_switcher(
    m: folium.Map,
    qpv: gpd.GeoDataFrame,
    columns: Sequence[str],
    *,
    palettes: dict[str, str] | None = None,
    k: int = 5,
    simplify: float = 5.0,
    precision: int = 5,
) -> list[folium.GeoJson]:
    """One choropleth of the QPV per indicator, shown one at a time by a select control
    (poverty, burden, each exposure…); each has its legend, shown with it.

    Parameters
    ----------
    m : folium.Map
        From :func:`qpv_map` (``outline_only=True`` keeps the QPV hover on top).
    qpv : GeoDataFrame
        The QPV with the indicator columns.
    columns : sequence of str
        Indicators, in the order of the select; those without any value are left out.
    palettes : dict, optional
        Column -> matplotlib colormap (one family per layer); default ``YlOrRd``.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    >>> m = qpv_map(g, tiles=None, outline_only=True)
    >>> [layer.qpvgeo_column for layer in add_indicator_switcher(m, g, ["taux_pauvrete",
    ...                                                                "taux_emploi"])]
    ['taux_pauvrete', 'taux_emploi']
    """
    _check_map(m)
    _ensure_panes(m)
    g = schema.to_canonical_crs(qpv, what="indicator switcher")
    web = web_geometry(g, tolerance=simplify, precision=precision, what="QPV")
    layers, labels = [], []
    for col in columns:
        if col not in g or not pd.to_numeric(g[col], errors="coerce").notna().any():
            continue
        info = _format.info_of(col)
        values = pd.to_numeric(g[col], errors="coerce")
        if info is not None and info.kind == "share":
            values = values * 100
        cmap = (palettes or {}).get(col, "YlOrRd")
        n = int(values.notna().sum())
        classes = classify(values, k=max(1, min(k, n)), cmap=cmap, column=col, rounded=True)
        data = _feature_collection(web, {"c": classes.color_of()})

        def style(feature: dict) -> dict:
            return {"fillColor": feature["properties"]["c"], "color": "#555555",
                    "weight": 0.6, "fillOpacity": 0.8, "className": "qpvgeo-indicator"}

        title = _format.legend_title(col)
        layer = folium.GeoJson(data, name=html.escape(title), style_function=style,
                               control=False, pane="qpvgeo-expositions")
        layer.add_to(m)
        rows = list(zip(classes.colors, classes.labels, strict=True))
        if classes.n_missing:
            rows.append((MISSING_COLOR, f"{_format.MISSING} ({classes.n_missing})"))
        Legend(title, rows, layer=layer).add_to(m)
        layer.qpvgeo_column = col  # type: ignore[attr-defined]
        layer.qpvgeo_classes = classes  # type: ignore[attr-defined]
        layers.append(layer)
        labels.append(_format.label_of(col))
    if layers:
        _Switcher(layers, labels).add_to(m)
    return layers


def add_air_layer(m: folium.Map, air: gpd.GeoDataFrame, *, pollutant: str = "no2",
                  station_radius: float = 250.0, **kwargs: Any) -> folium.GeoJson:
    """Add air quality (annual means) as a choropleth of one pollutant.

    ``air`` is a modelled grid (polygons) or measuring stations (points, drawn as disks
    of ``station_radius`` metres); other keywords go to :func:`add_choropleth_layer`.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> m = qpv_map(demo().qpv, tiles=None)
    >>> _ = add_air_layer(m, demo().air, pollutant="pm25", k=3)
    """
    if pollutant not in schema.POLLUTANTS:
        raise SchemaError(f"unknown pollutant {pollutant!r}; expected {list(schema.POLLUTANTS)}")
    kwargs.setdefault("cmap", "YlOrBr")
    kwargs.setdefault("show", False)
    air = schema.to_canonical_crs(air, what="air")
    if air.geom_type.isin(["Point", "MultiPoint"]).all():
        # Measuring stations: drawn as small disks so that they carry the same classes
        # and legend as a modelled grid would.
        air = air.assign(geometry=air.geometry.buffer(station_radius))
        kwargs.setdefault("label", schema.NOM_STATION if schema.NOM_STATION in air.columns
                          else None)
    else:
        kwargs.setdefault("coverage", True)
    return add_choropleth_layer(m, air, pollutant, css_class="qpvgeo-air", **kwargs)


def add_heat_layer(m: folium.Map, heat: gpd.GeoDataFrame, **kwargs: Any) -> folium.GeoJson:
    """Add heat vulnerability (``score_chaleur``, IRIS-like polygons) as a choropleth.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> m = qpv_map(demo().qpv, tiles=None)
    >>> _ = add_heat_layer(m, demo().heat, k=3)
    """
    kwargs.setdefault("cmap", "OrRd")
    kwargs.setdefault("show", False)
    label = next((c for c in ("nom_iris", "code_iris", schema.NOM_COMMUNE) if c in heat.columns),
                 None)
    kwargs.setdefault("label", label)
    schema.require_columns(heat, [schema.SCORE_CHALEUR], what="heat")
    if not pd.api.types.is_numeric_dtype(heat[schema.SCORE_CHALEUR]):
        return _add_heat_classes(m, heat, **kwargs)
    return add_choropleth_layer(m, heat, schema.SCORE_CHALEUR, css_class="qpvgeo-heat",
                                **kwargs)


#: Heat-vulnerability classes as the publishers name them, from least to most exposed.
_HEAT_ORDERS = (("faible", "moyenne", "forte"), ("low", "medium", "high"))
_HEAT_COLORS = ("#fee8c8", "#fdbb84", "#e34a33", "#b30000", "#7f0000")


def _add_heat_classes(m: folium.Map, heat: gpd.GeoDataFrame, *, label: str | None = None,
                      name: str | None = None, simplify: float = 5.0, precision: int = 5,
                      show: bool = False, opacity: float = 0.6, **_: Any) -> folium.GeoJson:
    """Heat classes (``faible`` / ``moyenne`` / ``forte``…) with one colour each."""
    _check_map(m)
    _ensure_panes(m)
    title = name or _format.label_of(schema.SCORE_CHALEUR)
    values = heat[schema.SCORE_CHALEUR].astype("string").str.strip()
    present = set(values.dropna().str.lower())
    order = next((o for o in _HEAT_ORDERS if present <= set(o)), tuple(sorted(present)))
    colors = dict(zip(order, _HEAT_COLORS[: len(order)], strict=False))
    fill = [colors.get(v.lower(), MISSING_COLOR) if isinstance(v, str) else MISSING_COLOR
            for v in values.tolist()]
    rows = [(colors[c], c) for c in order if c in colors]
    if values.isna().any():
        rows.append((MISSING_COLOR, _format.MISSING))
    return _legend_layer(
        m, heat, schema.SCORE_CHALEUR, title=title, fill=fill, rows=rows, label=label,
        simplify=simplify, precision=precision, coverage=False, show=show, opacity=opacity,
        css_class="qpvgeo-heat",
    )


def add_green_spaces_layer(
    m: folium.Map, green: gpd.GeoDataFrame, *, name: str = "Espaces verts",
    simplify: float = 2.0, precision: int = 5, show: bool = True,
) -> folium.GeoJson:
    """Add green spaces (name and area in hectares on hover).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> m = qpv_map(demo().qpv, tiles=None)
    >>> _ = add_green_spaces_layer(m, demo().green_spaces)
    """
    _check_map(m)
    _ensure_panes(m)
    g = schema.to_canonical_crs(green, what=name)
    web = web_geometry(g, tolerance=simplify, precision=precision, what=name)
    names = _formatted(g, [schema.NOM_ESPACE_VERT]) if schema.NOM_ESPACE_VERT in g.columns \
        else [[_format.MISSING]] * len(g)
    area = [f"{_format.format_number(a / 1e4, 2)}\u00a0ha" for a in g.geometry.area.tolist()]
    values = [n + [a] for n, a in zip(names, area, strict=True)]
    layer = _geojson_layer(
        m, web, name=name, pane="qpvgeo-expositions", fill=["#31a354"] * len(g),
        labels=["Nom", "Surface"], values=values, stroke="#006d2c", weight=0.5,
        fill_opacity=0.5, show=show, css_class="qpvgeo-green",
    )
    Legend(name, [("#31a354", name)], position="bottomleft", layer=layer).add_to(m)
    return layer


def add_noise_layer(
    m: folium.Map, noise: gpd.GeoDataFrame, *, name: str = "Bruit (cartes de type C)",
    simplify: float = 5.0, precision: int = 5, show: bool = False,
) -> folium.GeoJson:
    """Add noise exceedance zones (indicator, source, level) as a layer.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> m = qpv_map(demo().qpv, tiles=None)
    >>> _ = add_noise_layer(m, demo().noise)
    """
    _check_map(m)
    _ensure_panes(m)
    cols = [c for c in (schema.INDICATEUR_BRUIT, schema.SOURCE_BRUIT, schema.LDEN_MIN)
            if c in noise.columns]
    web = web_geometry(noise, tolerance=simplify, precision=precision, what=name)
    ind = (noise[schema.INDICATEUR_BRUIT].astype(str).str.lower().tolist()
           if schema.INDICATEUR_BRUIT in noise.columns else ["lden"] * len(noise))
    fill = ["#6a51a3" if i == "ln" else "#9e9ac8" for i in ind]
    layer = _geojson_layer(
        m, web, name=name, pane="qpvgeo-expositions", fill=fill,
        labels=[_format.label_of(c) for c in cols], values=_formatted(noise, cols),
        stroke="#54278f", weight=0.5, fill_opacity=0.4, show=show, css_class="qpvgeo-noise",
    )
    Legend(name, [("#9e9ac8", "Dépassement Lden"), ("#6a51a3", "Dépassement Ln")],
           position="bottomleft", layer=layer).add_to(m)
    return layer


#: Columns shown on hover by :func:`add_registry_layer`, first present first.
_HOVER_COLUMNS = ("nom", "nom_site", "groupe", "education_prioritaire", "etiquette_dpe",
                  "etiquette_ges", "code_iris", "chaleur_reseau_mwh", "contenu_co2_kg_kwh",
                  "taux_enrr")


def add_registry_layer(
    m: folium.Map, gdf: gpd.GeoDataFrame, *, layer: str, simplify: float = 5.0,
    precision: int = 5, show: bool = False,
) -> folium.GeoJson:
    """Draw a layer of the exposure registry that has no dedicated helper, from its style.

    Points (``MapStyle.kind == "points"``) are drawn as small disks, polygons filled with
    the layer's colour; the tooltip shows the names, groups and labels the layer carries.
    A new layer of :data:`qpvgeo.exposure.LAYERS` is thus on the map with no map code.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`qpv_map`.
    gdf : GeoDataFrame
        The layer's data, as its reader returns it.
    layer : str
        Its name in :data:`qpvgeo.exposure.LAYERS`.
    simplify, precision : float, int
        Web-weight geometry (see :func:`web_geometry`).
    show : bool, default False
        Shown when the map opens.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_registry_layer(m, d.layers["acces_education"], layer="acces_education")
    """
    from qpvgeo.exposure import LAYERS

    _check_map(m)
    _ensure_panes(m)
    entry = LAYERS[layer]
    style = entry.style
    name = entry.label
    g = schema.to_canonical_crs(gdf, what=name)
    g = g[~(g.geometry.isna() | g.geometry.is_empty)]
    cols = [c for c in _HOVER_COLUMNS if c in g.columns]
    labels = [_format.label_of(c) for c in cols] or [name]
    values = _formatted(g, cols) if cols else [[name]] * len(g)
    points = set(g.geom_type.dropna()) <= {"Point"}
    web = web_geometry(g, tolerance=0 if points else simplify, precision=precision, what=name)
    data = _feature_collection(web, {"t": values, "c": [style.color] * len(g)})
    if points:
        layer_obj = folium.GeoJson(
            data, name=html.escape(name), show=show,
            marker=folium.CircleMarker(radius=4, pane="qpvgeo-points"),
            style_function=lambda f: {"color": "#000000", "weight": 0.8, "fill": True,
                                      "fillColor": f["properties"]["c"], "fillOpacity": 0.85,
                                      "className": "qpvgeo-point"},
        )
        _Detail(labels, "t", "tooltip").add_to(layer_obj)
        layer_obj.add_to(m)
    else:
        layer_obj = _geojson_layer(
            m, web, name=name, pane="qpvgeo-expositions", fill=[style.color] * len(g),
            labels=labels, values=values, stroke=style.color, weight=0.5, fill_opacity=0.35,
            show=show, css_class="qpvgeo-area",
        )
    Legend(name, [(style.color, style.legend or name)], position="bottomleft",
           kind="point" if points else "fill", layer=layer_obj).add_to(m)
    return layer_obj


def add_layer(m: folium.Map, gdf: gpd.GeoDataFrame, *, kind: str, **kwargs: Any):
    """Add a layer by kind: one entry point for :data:`LAYER_KINDS`.

    ``communes``/``epci``/``territory`` -> :func:`add_territory_layer`, ``flood``,
    ``sites``, ``air``, ``green_spaces``, ``heat``, ``noise`` -> the matching helper.

    Parameters
    ----------
    m : folium.Map
        A map made by :func:`qpv_map`.
    gdf : GeoDataFrame
        The layer, in the form the matching helper expects (communes or EPCI polygons,
        flood extents, site points, air grid or stations, green spaces, heat polygons,
        noise zones).
    kind : str
        One of :data:`LAYER_KINDS`: ``"communes"``, ``"epci"``, ``"territory"``,
        ``"flood"``, ``"sites"``, ``"air"``, ``"green_spaces"``, ``"heat"``, ``"noise"``,
        or the name of any other layer of :data:`qpvgeo.exposure.LAYERS` (drawn by
        :func:`add_registry_layer`); any other value raises
        :class:`~qpvgeo.errors.QpvgeoError`.
    **kwargs
        Passed to the helper (e.g. ``radius=`` for ``sites``, ``pollutant=`` for
        ``air``). ``communes`` defaults ``name="Communes"``; ``epci`` defaults
        ``name="EPCI"``, ``color="#333333"``, ``weight=1.8`` and ``simplify=50.0`` (m).

    Returns
    -------
    folium.GeoJson or folium.FeatureGroup
        What the helper returns (a ``FeatureGroup`` for ``sites``).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> m = qpv_map(d.qpv, tiles=None)
    >>> _ = add_layer(m, d.communes, kind="communes")
    """
    if kind == "communes":
        kwargs.setdefault("name", "Communes")
        return add_territory_layer(m, gdf, **kwargs)
    if kind == "epci":
        kwargs.setdefault("name", "EPCI")
        kwargs.setdefault("color", "#333333")
        kwargs.setdefault("weight", 1.8)
        kwargs.setdefault("simplify", 50.0)
        return add_territory_layer(m, gdf, **kwargs)
    helpers = {"territory": add_territory_layer, "flood": add_flood_layer,
               "sites": add_sites_layer, "air": add_air_layer,
               "green_spaces": add_green_spaces_layer, "heat": add_heat_layer,
               "noise": add_noise_layer}
    if kind in helpers:
        return helpers[kind](m, gdf, **kwargs)
    from qpvgeo.exposure import LAYERS

    if kind in LAYERS:  # any other layer of the registry is drawn from its style
        return add_registry_layer(m, gdf, layer=kind, **kwargs)
    raise QpvgeoError(f"unknown layer kind {kind!r}; use one of "
                      f"{[*LAYER_KINDS, *[k for k in LAYERS if k not in LAYER_KINDS]]}")


def finish(m: folium.Map) -> folium.Map:
    """Add the layer control (once) after the last layer and pack the contours.

    :func:`save_html` calls it. Embedded line and polygon layers are written with
    integer coordinate deltas (:mod:`qpvgeo.maps._pack`, decoded in the page): the same
    rounded coordinates in about a third of the characters.
    """
    _check_map(m)
    if not getattr(m, "_qpvgeo_control", False):
        # collapsed: the list of layers opens on hover and never hides the data for good
        folium.LayerControl(collapsed=True).add_to(m)
        m._qpvgeo_control = True  # type: ignore[attr-defined]
    _pack_layers(m)
    return m


_PACKED_CALL = "qpvgeoUnpack({{ this._qpvgeo_packed }})"


@functools.cache
def _geojson_template_source() -> str | None:
    """The text of folium's GeoJson template (Jinja keeps only the compiled form)."""
    import ast
    import inspect

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(folium.GeoJson)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_template"
                                                  for t in node.targets)
                and isinstance(node.value, ast.Call) and node.value.args
                and isinstance(node.value.args[0], ast.Constant)):
            return node.value.args[0].value
    return None


def _geojson_layers(element: Any) -> list[folium.GeoJson]:
    found = []
    for child in element._children.values():
        if isinstance(child, folium.GeoJson):
            found.append(child)
        found += _geojson_layers(child)
    return found


def _pack_layers(m: folium.Map) -> None:
    """Swap each embedded polygon/line layer's GeoJSON for its packed text (render time)."""
    packed_any = False
    for layer in _geojson_layers(m):
        if getattr(layer, "_qpvgeo_packed", None) is not None or not layer.embed:
            packed_any = packed_any or getattr(layer, "_qpvgeo_packed", None) is not None
            continue
        if not _pack.packable(layer.data):
            continue
        text = _geojson_template_source()
        if text is None or "{{ this.data|tojson }}" not in text:
            return  # an unknown folium template: leave every layer as folium writes it
        # the coarsest grid the coordinates sit on exactly (communes: 4 decimals)
        packed = next((pk for p in (4, 5, 6, 7)
                       if (pk := _pack.pack_geojson(layer.data, precision=p)) is not None),
                      None)
        if packed is None:
            continue
        layer._qpvgeo_packed = _pack.script_json(packed)
        # folium's own Template class: it carries the filters the text uses (tojavascript)
        kind = type(folium.GeoJson._template)
        layer._template = kind(text.replace("{{ this.data|tojson }}", _PACKED_CALL))
        packed_any = True
    if packed_any:
        m.get_root().header.add_child(
            Element(f"<script>{_pack.UNPACK_JS}</script>"), name="qpvgeo_unpack")


# -- export -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedMap:
    """What :func:`save_html` wrote.

    Attributes
    ----------
    path : pathlib.Path
    size_bytes : int
    offline : bool
        True when every script and stylesheet is inlined.
    """

    path: Path
    size_bytes: int
    offline: bool

    @property
    def size_mb(self) -> float:
        """Size in megabytes (10**6 bytes)."""
        return self.size_bytes / 1e6

    def __str__(self) -> str:
        kind = "hors ligne" if self.offline else "en ligne"
        return f"{self.path} ({_format.format_number(self.size_bytes / 1e3, 0)} ko, {kind})"


#: Shown by a map that loads Leaflet from the network when it cannot: a blank page
#: would leave the reader with nothing to go on.
NETWORK_NOTICE = (
    "Cette carte charge ses bibliothèques (Leaflet) depuis Internet, qui n'est pas "
    "joignable ici. Produisez-la avec save_html(..., offline=True) ou "
    "« qpvgeo diagnose --offline-maps » pour une carte autonome qui s'ouvre sans réseau."
)


def _with_network_notice(page: str) -> str:
    script = (
        "<script>window.addEventListener('load',function(){if(typeof L==='undefined'){"
        "var d=document.createElement('div');d.className='qpvgeo-network-notice';"
        "d.style.cssText='position:fixed;top:0;left:0;right:0;z-index:10000;padding:1em;"
        "background:#fff3cd;color:#533f03;font:16px sans-serif;border-bottom:1px solid #c9a227';"
        f"d.textContent={json.dumps(NETWORK_NOTICE)};document.body.prepend(d);}}}});</script>"
    )
    head, sep, tail = page.rpartition("</body>")
    return head + script + sep + tail if sep else page + script


def save_html(
    m: folium.Map,
    path: str | os.PathLike,
    *,
    offline: bool = False,
    mirror: str | None = None,
    cache: str | os.PathLike | None = None,
) -> SavedMap:
    """Write the map as one HTML file (atomically) and report its size.

    Parameters
    ----------
    m : folium.Map
    path : path
        Target ``.html`` file.
    offline : bool, default False
        Inline every script and stylesheet (fetched once through the cache, each
        checked against its pinned sha256, see :mod:`qpvgeo.maps._assets`) so that the
        file works without network. Base tiles cannot be inlined: a map with tiles
        still shows its data offline, without the background (a warning says so).
    mirror : str, optional
        Mirror base URL for the assets (default ``$QPVGEO_MIRROR``).
    cache : path, optional
        Download cache root (default :func:`qpvgeo.fetch.cache_dir`).

    Returns
    -------
    SavedMap

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qpvgeo.datasets import demo
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "m.html"
    >>> out = save_html(qpv_map(demo().qpv, tiles=None), target)
    >>> out.size_bytes > 0
    True
    """
    _check_map(m)
    finish(m)
    page = m.get_root().render()
    if offline:
        tiles = [c for c in m._children.values() if isinstance(c, folium.raster_layers.TileLayer)]
        if tiles:
            warnings.warn(
                f"offline export of a map with {len(tiles)} tile layer(s): the tiles need the "
                "network and will stay blank offline; build the map with tiles=None",
                QpvgeoWarning, stacklevel=2,
            )
        page = _assets.inline_assets(page, mirror=mirror, cache=cache)
    else:
        page = _with_network_notice(page)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    target = Path(path)
    return SavedMap(path=target, size_bytes=target.stat().st_size, offline=offline)


class NotebookMap:
    """A map for a notebook cell that works offline: the page with every script inlined,
    shown in an ``<iframe srcdoc>`` (see :func:`notebook_map`)."""

    def __init__(self, page: str, height: int) -> None:
        self.page = page
        self.height = height

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #ccc" '
                'title="Carte interactive"></iframe>')


def notebook_map(m: folium.Map, *, height: int = 520, mirror: str | None = None,
                 cache: str | None = None):
    """Show ``m`` in a notebook with its scripts inlined, so that it works offline.

    Needs the web assets in the cache (``qpvgeo assets``, or through ``mirror``); when
    they cannot be had, returns ``m`` itself (it then needs the network) with a
    :class:`~qpvgeo.errors.QpvgeoWarning` saying so.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from qpvgeo.datasets import demo
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     shown = notebook_map(qpv_map(demo().qpv, tiles=None), cache=tempfile.mkdtemp(),
    ...                          mirror="http://127.0.0.1:9")
    >>> isinstance(shown, folium.Map), "qpvgeo assets" in str(w[-1].message)
    (True, True)
    """
    import os
    import warnings

    from qpvgeo.errors import QpvgeoWarning

    _check_map(m)
    finish(m)
    try:
        # nothing is downloaded unless a mirror says where from: a notebook cell must not
        # reach a CDN behind the analyst's back
        if not (mirror or os.environ.get("QPVGEO_MIRROR")) and \
                not _assets.assets_available(cache=cache):
            raise QpvgeoError("web assets not in the cache")
        page = _assets.inline_assets(m.get_root().render(), mirror=mirror, cache=cache)
    except Exception as exc:  # no asset at hand: the ordinary (online) map, said so
        warnings.warn(
            f"carte affichée en ligne (elle charge Leaflet depuis Internet) : ressources "
            f"hors ligne indisponibles ({type(exc).__name__}) ; lancer `qpvgeo assets` une "
            "fois pour des cartes qui marchent sans réseau",
            QpvgeoWarning, stacklevel=2,
        )
        return m
    return NotebookMap(page, height)
