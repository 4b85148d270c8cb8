"""Maps of the QPV: interactive (folium, offline-capable HTML) and static (matplotlib).

Examples
--------
>>> from qpvgeo.maps import qpv_map, save_html, plot_choropleth
"""

from qpvgeo.maps._classes import Classes, classify
from qpvgeo.maps._format import french_table
from qpvgeo.maps.interactive import (
    LAYER_KINDS,
    Legend,
    SavedMap,
    add_air_layer,
    add_choropleth_layer,
    add_flood_layer,
    add_green_spaces_layer,
    add_heat_layer,
    add_indicator_switcher,
    add_layer,
    add_noise_layer,
    add_registry_layer,
    add_sites_layer,
    add_territory_layer,
    notebook_map,
    qpv_map,
    save_html,
    web_geometry,
)
from qpvgeo.maps.static import (
    Context,
    context_from_communes,
    dense_area,
    furniture_overlaps,
    plot_choropleth,
    plot_qpv,
    plot_symbols,
    save_figure,
)

__all__ = [
    "Context",
    "LAYER_KINDS",
    "Classes",
    "Legend",
    "SavedMap",
    "add_air_layer",
    "add_choropleth_layer",
    "add_flood_layer",
    "add_green_spaces_layer",
    "add_heat_layer",
    "add_indicator_switcher",
    "add_layer",
    "add_noise_layer",
    "add_registry_layer",
    "add_sites_layer",
    "add_territory_layer",
    "classify",
    "context_from_communes",
    "dense_area",
    "french_table",
    "furniture_overlaps",
    "notebook_map",
    "plot_choropleth",
    "plot_qpv",
    "plot_symbols",
    "qpv_map",
    "save_figure",
    "save_html",
    "web_geometry",
]
