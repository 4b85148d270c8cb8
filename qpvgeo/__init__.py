"""qpvgeo: population and environmental exposure of France's quartiers prioritaires (QPV).

The public API is flat: readers (``read_*``), commune-code harmonisation, population
shares, interpolation, exposure indicators, maps, the fetch layer and the diagnose
report are all importable from ``qpvgeo``. Maps and the report (folium, matplotlib) are
imported on first use, so that ``import qpvgeo`` stays quick.

Examples
--------
>>> import qpvgeo
>>> d = qpvgeo.datasets.demo()
>>> parts = qpvgeo.qpv_population_by_commune(d.qpv, d.indicators, d.communes,
...                                          membership=d.qpv_communes)
>>> shares = qpvgeo.population_shares(parts, d.commune_population, level="region")
>>> round(float(shares["part_qpv"].iloc[0]), 3)
0.308
"""

from __future__ import annotations

import importlib

from qpvgeo import (
    datasets,
    fetch,  # the module: qpvgeo.fetch.fetch(name) fetches a source
    schema,
)
from qpvgeo.buildings import building_population
from qpvgeo.cog import CogYear, commune_code_table, detect_cog_year, harmonise_communes
from qpvgeo.crosswalk import crosswalk_summary, qpv_crosswalk
from qpvgeo.errors import (
    ChecksumError,
    DataFormatError,
    DuplicateCodeError,
    FetchError,
    MissingCRSError,
    MixedMillesimeError,
    QpvgeoError,
    QpvgeoWarning,
    SchemaError,
    UnsafeArchiveError,
)
from qpvgeo.exposure import (
    air_exposure,
    column_catalogue,
    compare_to_surroundings,
    describe_exposure_columns,
    dpe_exposure,
    education_access,
    employment_access,
    exposure_profile,
    flood_exposure,
    green_space_access,
    heat_exposure,
    heat_network_exposure,
    heat_network_iris,
    industrial_exposure,
    noise_exposure,
    service_access,
    station_access,
)
from qpvgeo.fetch import cache_dir, fetch_file, fetch_many
from qpvgeo.fetch import provenance_records as provenance
from qpvgeo.geoparquet import read_geoparquet, to_geoparquet
from qpvgeo.interpolate import areal_interpolate, grid_population
from qpvgeo.locate import locate_qpv, write_located
from qpvgeo.pipeline import shares_from_files
from qpvgeo.population import count_qpv, population_shares, qpv_population_by_commune
from qpvgeo.readers import (
    point_positions,
    points_from_table,
    read_air_stations,
    read_bpe,
    read_buildings,
    read_cog_communes,
    read_cog_movements,
    read_commune_population,
    read_communes,
    read_departements,
    read_dpe,
    read_education_establishments,
    read_epci,
    read_epci_boundaries,
    read_filosofi_grid,
    read_flood_extents,
    read_green_spaces,
    read_gtfs_stops,
    read_heat_iris,
    read_heat_network_co2,
    read_heat_network_deliveries,
    read_industrial_sites,
    read_iris_contours,
    read_noise_map,
    read_points,
    read_qpv,
    read_qpv_communes,
    read_qpv_indicators,
    read_regions,
    read_stations,
)
from qpvgeo.sources import sources_table
from qpvgeo.tables import write_csv

__version__ = "0.1.0"

# Imported on first use: they pull in folium, branca and matplotlib.
_LAZY = {
    "qpv_map": "qpvgeo.maps",
    "save_html": "qpvgeo.maps",
    "plot_choropleth": "qpvgeo.maps",
    "plot_qpv": "qpvgeo.maps",
    "save_figure": "qpvgeo.maps",
    "add_layer": "qpvgeo.maps",
    "diagnose": "qpvgeo.diagnostic",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in {"maps", "report", "diagnostic"}:
        return importlib.import_module(f"qpvgeo.{name}")
    raise AttributeError(f"module 'qpvgeo' has no attribute {name!r}")


__all__ = [
    "ChecksumError",
    "CogYear",
    "DataFormatError",
    "DuplicateCodeError",
    "FetchError",
    "MissingCRSError",
    "MixedMillesimeError",
    "QpvgeoError",
    "QpvgeoWarning",
    "SchemaError",
    "UnsafeArchiveError",
    "__version__",
    "add_layer",
    "air_exposure",
    "areal_interpolate",
    "building_population",
    "cache_dir",
    "commune_code_table",
    "column_catalogue",
    "compare_to_surroundings",
    "count_qpv",
    "crosswalk_summary",
    "datasets",
    "describe_exposure_columns",
    "detect_cog_year",
    "diagnose",
    "dpe_exposure",
    "education_access",
    "employment_access",
    "exposure_profile",
    "fetch",
    "fetch_file",
    "fetch_many",
    "flood_exposure",
    "green_space_access",
    "grid_population",
    "harmonise_communes",
    "heat_exposure",
    "heat_network_exposure",
    "heat_network_iris",
    "industrial_exposure",
    "locate_qpv",
    "noise_exposure",
    "plot_choropleth",
    "plot_qpv",
    "point_positions",
    "points_from_table",
    "population_shares",
    "provenance",
    "qpv_crosswalk",
    "qpv_map",
    "qpv_population_by_commune",
    "read_air_stations",
    "read_bpe",
    "read_buildings",
    "read_cog_communes",
    "read_cog_movements",
    "read_commune_population",
    "read_communes",
    "read_departements",
    "read_dpe",
    "read_education_establishments",
    "read_epci",
    "read_epci_boundaries",
    "read_filosofi_grid",
    "read_flood_extents",
    "read_geoparquet",
    "read_green_spaces",
    "read_gtfs_stops",
    "read_heat_iris",
    "read_heat_network_co2",
    "read_heat_network_deliveries",
    "read_industrial_sites",
    "read_iris_contours",
    "read_noise_map",
    "read_points",
    "read_qpv",
    "read_qpv_communes",
    "read_qpv_indicators",
    "read_regions",
    "read_stations",
    "save_figure",
    "save_html",
    "schema",
    "service_access",
    "shares_from_files",
    "sources_table",
    "station_access",
    "to_geoparquet",
    "write_csv",
    "write_located",
]
