"""Maps of a diagnostic: the interactive map and the static maps of the folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np

from qpvgeo import __version__, schema
from qpvgeo.diagnostic.analysis import Diagnostic
from qpvgeo.diagnostic.data import LAYER_LABELS
from qpvgeo.errors import QpvgeoWarning

#: Commune outlines are drawn on the maps of territories with at most this many communes.
_MAX_MAP_COMMUNES = 300

#: Palettes of the QPV indicators of the switcher (the exposure layers bring theirs from
#: the registry): one colour family per indicator, none shared with a layer drawn beside.
_PALETTES = {"taux_pauvrete": "YlOrBr", "score_exposition": "RdPu",
             "n_couches_pire_quintile": "RdPu", "taux_emploi": "Blues_r"}


def _switcher_columns(diag: Diagnostic) -> tuple[list[str], dict[str, str]]:
    """Indicators of the switcher: poverty, the burden synthesis, each layer's headline."""
    from qpvgeo.diagnostic.page import _headline_of
    from qpvgeo.exposure import LAYERS

    qpv = diag.qpv_table
    cols = [c for c in ("taux_pauvrete", "score_exposition", "n_couches_pire_quintile")
            if c in qpv]
    palettes = dict(_PALETTES)
    for layer in LAYERS.values():
        head = _headline_of(layer, list(qpv.columns))
        if head is not None and head not in cols:
            cols.append(head)
            palettes[head] = layer.style.palette
    return cols, palettes


def _interactive_map(diag: Diagnostic, path: Path, *, offline: bool) -> list[str]:
    """Write the Folium map; return notes on the layers that could not be drawn."""
    from qpvgeo.maps import (
        add_indicator_switcher,
        add_layer,
        add_territory_layer,
        qpv_map,
        save_html,
    )
    from qpvgeo.territory import DEPARTEMENT_NAMES

    qpv = diag.qpv_table
    switch, palettes = _switcher_columns(diag)
    pop = ("population_dans_territoire" if "population_dans_territoire" in qpv
           else schema.POPULATION)
    tooltip = [c for c in (pop, "taux_pauvrete", "taux_emploi", "score_exposition") if c in qpv]
    frame = qpv[[schema.CODE_QPV, schema.NOM_QPV, *dict.fromkeys(tooltip + switch),
                 "geometry"]].assign(**{schema.MILLESIME: diag.millesime})
    m = qpv_map(
        frame, None, tooltip=tooltip, popup=False, outline_only=bool(switch),
        **({"tiles": None} if offline else {}),
        title=f"Quartiers prioritaires – {diag.selection.name}", sources=diag.synthetic,
    )
    notes = []
    try:
        add_indicator_switcher(m, frame, switch, palettes=palettes)
    except Exception as exc:  # the map keeps its outlines and layers
        notes.append(f"Sélecteur d'indicateurs indisponible ({type(exc).__name__} : {exc})")
    ctx = _context(diag)
    if ctx is not None and ctx.departements is not None and len(ctx.departements) > 1:
        deps = ctx.departements.assign(nom_departement=ctx.departements[
            schema.CODE_DEPARTEMENT].map(DEPARTEMENT_NAMES).fillna(
                ctx.departements[schema.CODE_DEPARTEMENT]))
        add_territory_layer(m, deps, label="nom_departement", name="Départements",
                            color="#555555", weight=1.2)
    layers: list[tuple[str, gpd.GeoDataFrame]] = []
    # Thousands of commune outlines (a region) would weigh megabytes for little reading.
    if diag.communes_geo is not None and len(diag.communes_geo) <= _MAX_MAP_COMMUNES:
        layers.append(("communes", diag.communes_geo))
    layers += list(diag.layers.items())
    for kind, layer in layers:
        # One layer that cannot be drawn must not cost the analyst the whole map: the
        # page and a warning say which one and why (the indicators are not affected).
        try:
            add_layer(m, layer, kind=kind)
        except Exception as exc:
            label = LAYER_LABELS.get(kind, kind)
            note = (f"Couche « {label} » non dessinée sur la carte interactive "
                    f"({type(exc).__name__} : {exc})")
            warnings.warn(note, QpvgeoWarning, stacklevel=2)
            notes.append(note)
    m.keep_in_front(m.qpvgeo_qpv_layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        save_html(m, path, offline=offline)
    return notes


def _context(diag: Diagnostic):
    """Context layers of the static maps: the territory's communes (outlines when there
    are few enough to read), départements, region, and the main city names."""
    from qpvgeo.maps.static import context_from_communes

    communes = diag.communes_geo
    if communes is None or not len(communes):
        return None
    level = diag.selection.territory.level
    n_cities = {"region": 10, "departement": 8, "epci": 8, "commune": 1}.get(level, 6)
    return context_from_communes(
        communes, population=diag.selection.commune_population, n_cities=n_cities,
        draw_communes=len(communes) <= _MAX_MAP_COMMUNES,
    )


def _small_qpv(qpv: gpd.GeoDataFrame, extent_width: float) -> bool:
    """True when the QPV are specks at the map's scale (a region): rates then go on
    circles sized by population rather than on invisible polygons."""
    widths = (qpv.geometry.bounds["maxx"] - qpv.geometry.bounds["minx"]).median()
    return bool(widths < 0.02 * extent_width)


def _static_maps(diag: Diagnostic, out: Path, *, dpi: int) -> list[dict]:
    import matplotlib.pyplot as plt

    from qpvgeo.maps import save_figure
    from qpvgeo.maps.static import dense_area, plot_choropleth, plot_symbols

    qpv = diag.qpv_table
    name = diag.selection.name
    ctx = _context(diag)
    # the territory's communes and every QPV whole (an intercommunal QPV overflows them)
    bounds = [qpv.total_bounds]
    if diag.communes_geo is not None:
        bounds.append(diag.communes_geo.total_bounds)
    b = np.vstack(bounds)
    extent = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    x0, x1 = extent[0], extent[2]
    small = _small_qpv(qpv, x1 - x0)
    pop_col = ("population_dans_territoire" if "population_dans_territoire" in qpv
               and qpv["population_dans_territoire"].notna().any() else schema.POPULATION)
    figures = []
    # a region's map zooms on its densest cluster of QPV (the Lille metropolis in HdF)
    zoom = dense_area(qpv, pop_col) if small else None
    makers = [("carte_population", "Population des QPV", lambda: plot_symbols(
        qpv, pop_col, title=f"Population des quartiers prioritaires – {name}",
        legend_title="Population (habitants)", context=ctx, extent=extent,
        sources=_sources_line(diag, indicator=pop_col), outlines=not small, zoom=zoom,
        zoom_label="Zoom sur la zone la plus dense"))]
    if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any():
        title = f"Taux de pauvreté des quartiers prioritaires – {name}"
        src = _sources_line(diag, indicator="taux_pauvrete")
        if small:
            makers.append(("carte_pauvrete", "Taux de pauvreté des QPV", lambda: plot_symbols(
                qpv, pop_col, color_by="taux_pauvrete", title=title, context=ctx,
                legend_title="Population (habitants)", extent=extent, sources=src,
                outlines=False, zoom=zoom, zoom_label="Zoom sur la zone la plus dense")))
        else:
            k = max(1, min(5, int(qpv["taux_pauvrete"].notna().sum())))
            makers.append(("carte_pauvrete", "Taux de pauvreté des QPV", lambda: plot_choropleth(
                qpv, "taux_pauvrete", k=k, title=title, context=ctx, extent=extent,
                sources=src)))
    for stem, label, make in makers:
        fig = make()
        try:
            save_figure(fig, out / stem, dpi=dpi, formats=("png", "pdf"))
        finally:
            plt.close(fig)
        figures.append({"png": f"{stem}.png", "pdf": f"{stem}.pdf", "label": label})
    return figures


def _sources_line(diag: Diagnostic, *, indicator: str | None = None) -> str:
    """The sources line of a static map, with the millésimes."""
    if diag.synthetic:
        return diag.synthetic
    parts = [f"ANCT, QPV {diag.millesime}"]
    mil = {r.get("role"): r.get("millesime") for r in diag.sources if r.get("millesime")}
    ind = mil.get(f"qpv{diag.millesime}_indicators")
    if indicator is not None:
        parts.append(str(ind) if ind and "Insee" in str(ind) else
                     (f"Insee, {ind}" if ind else "Insee"))
    pop = mil.get("population")
    if pop:
        parts.append(str(pop))
    com = mil.get("communes")
    if com:
        parts.append(str(com))
    return " ; ".join(parts) + f". Réalisation : qpvgeo {__version__}"


#: Colour of each type of the evolution map (2024 QPV; ``sorti``: the 2015 QPV left out).
EVOLUTION_COLORS = {
    "inchange": "#bdbdbd",
    "agrandi": "#1a9850",
    "reduit": "#f46d43",
    "redessine": "#8073ac",
    "fusionne": "#2166ac",
    "scinde": "#67a9cf",
    "nouveau": "#d73027",
    "sorti": "#fee090",
}


def _evolution_sources(diag: Diagnostic) -> str:
    """Sources line of the evolution map: both geographies, with their millésimes."""
    mil = {r.get("role"): r.get("millesime") for r in diag.sources if r.get("millesime")}
    parts = [f"ANCT, {mil.get(f'qpv{y}') or f'QPV {y}'}" for y in (2015, 2024)]
    if mil.get("communes"):
        parts.append(str(mil["communes"]))
    return " ; ".join(parts) + f". Réalisation : qpvgeo {__version__}"


def evolution_figure(diag: Diagnostic):
    """The 2024 QPV coloured by type of evolution over the 2015 outlines (the 2015 QPV
    that left the geography in their own colour); None without an evolution."""
    if diag.evolution is None:
        return None
    from qpvgeo.crosswalk import TYPE_LABELS
    from qpvgeo.maps.static import plot_categories

    rows = diag.evolution["qpv"]
    mill = rows[schema.MILLESIME]
    shown = rows[(mill == 2024) | (rows["type_evolution"] == "sorti")]
    if not len(shown):
        return None
    labels = {**TYPE_LABELS, "sorti": "Sorti (QPV 2015 seulement)"}
    bounds = [rows.total_bounds]
    if diag.communes_geo is not None:
        bounds.append(diag.communes_geo.total_bounds)
    b = np.vstack(bounds)
    extent = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    return plot_categories(
        shown, "type_evolution", colors=EVOLUTION_COLORS, labels=labels,
        outlines=rows[mill == 2015], outlines_label="Contours des QPV 2015",
        title=f"Évolution des quartiers prioritaires 2015 → 2024 – {diag.selection.name}",
        legend_title="QPV 2024, par type d’évolution", sources=_evolution_sources(diag),
        context=_context(diag), extent=extent,
    )


def _evolution_map(diag: Diagnostic, out: Path, *, dpi: int) -> dict | None:
    """Write :func:`evolution_figure` as PNG and PDF; None without an evolution."""
    import matplotlib.pyplot as plt

    from qpvgeo.maps import save_figure

    fig = evolution_figure(diag)
    if fig is None:
        return None
    try:
        save_figure(fig, out / "carte_evolution", dpi=dpi, formats=("png", "pdf"))
    finally:
        plt.close(fig)
    return {"png": "carte_evolution.png", "pdf": "carte_evolution.pdf",
            "label": "Évolution de la géographie prioritaire 2015 → 2024"}
