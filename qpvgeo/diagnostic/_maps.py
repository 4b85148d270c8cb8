"""Maps of a diagnostic: the interactive map and the static maps of the folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd

from qpvgeo import __version__, schema
from qpvgeo.diagnostic.analysis import Diagnostic
from qpvgeo.diagnostic.data import LAYER_LABELS
from qpvgeo.errors import QpvgeoWarning

#: Commune outlines are drawn on the maps of territories with at most this many communes.
_MAX_MAP_COMMUNES = 300

def _interactive_map(diag: Diagnostic, path: Path, *, offline: bool) -> list[str]:
    """Write the Folium map; return notes on the layers that could not be drawn."""
    from qpvgeo.maps import add_layer, qpv_map, save_html

    qpv = diag.qpv_table
    column = "taux_pauvrete" if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any() \
        else schema.POPULATION
    tooltip = [c for c in (schema.POPULATION, "taux_pauvrete", "taux_emploi") if c in qpv]
    k = max(1, min(5, int(qpv[column].notna().sum())))
    m = qpv_map(
        qpv[[schema.CODE_QPV, schema.NOM_QPV, *tooltip, "geometry"]].assign(
            **{schema.MILLESIME: diag.millesime}), column,
        k=k, tooltip=tooltip, **({"tiles": None} if offline else {}),
        title=f"QPV – {diag.selection.name}", sources=diag.synthetic,
    )
    layers: list[tuple[str, gpd.GeoDataFrame]] = []
    # Thousands of commune outlines (a region) would weigh megabytes for little reading.
    if diag.communes_geo is not None and len(diag.communes_geo) <= _MAX_MAP_COMMUNES:
        layers.append(("communes", diag.communes_geo))
    layers += list(diag.layers.items())
    notes = []
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        save_html(m, path, offline=offline)
    return notes


def _static_maps(diag: Diagnostic, out: Path, *, dpi: int) -> list[dict]:
    from qpvgeo.maps import plot_choropleth, save_figure

    qpv = diag.qpv_table
    maps = [("carte_population", schema.POPULATION, "Population des QPV")]
    if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any():
        maps.append(("carte_pauvrete", "taux_pauvrete", "Taux de pauvreté des QPV (%)"))
    figures = []
    import matplotlib.pyplot as plt

    # Commune outlines help read a commune or EPCI map; thousands of them only blur a region.
    communes = diag.communes_geo
    background = (
        communes if communes is not None and len(communes) <= _MAX_MAP_COMMUNES else None
    )

    for stem, column, label in maps:
        k = max(1, min(5, int(qpv[column].notna().sum())))
        fig = plot_choropleth(
            qpv, column, k=k, title=f"{label} – {diag.selection.name}",
            background=background, sources=_sources_line(diag),
        )
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
        parts.append(f"Insee ({ind})" if ind else "Insee")
    pop = mil.get("population")
    if pop:
        parts.append(str(pop))
    com = mil.get("communes")
    if com:
        parts.append(str(com))
    return " ; ".join(parts) + f". Réalisation : qpvgeo {__version__}"
