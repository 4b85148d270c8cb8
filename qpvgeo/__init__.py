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
from qpvgeo.cog import commune_code_table, harmonise_communes
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
    exposure_profile,
    flood_exposure,
    green_space_access,
    heat_exposure,
    industrial_exposure,
    noise_exposure,
)
from qpvgeo.fetch import cache_dir, fetch_file, fetch_many
from qpvgeo.fetch import provenance_records as provenance
from qpvgeo.interpolate import areal_interpolate, grid_population
from qpvgeo.pipeline import shares_from_files
from qpvgeo.population import count_qpv, population_shares, qpv_population_by_commune
from qpvgeo.readers import (
    read_air_stations,
    read_cog_communes,
    read_cog_movements,
    read_commune_population,
    read_communes,
    read_departements,
    read_epci,
    read_epci_boundaries,
    read_filosofi_grid,
    read_flood_extents,
    read_green_spaces,
    read_heat_iris,
    read_industrial_sites,
    read_noise_map,
    read_qpv,
    read_qpv_communes,
    read_qpv_indicators,
    read_regions,
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
    "cache_dir",
    "commune_code_table",
    "column_catalogue",
    "compare_to_surroundings",
    "count_qpv",
    "datasets",
    "describe_exposure_columns",
    "diagnose",
    "exposure_profile",
    "fetch",
    "fetch_file",
    "fetch_many",
    "flood_exposure",
    "green_space_access",
    "grid_population",
    "harmonise_communes",
    "heat_exposure",
    "industrial_exposure",
    "noise_exposure",
    "plot_choropleth",
    "plot_qpv",
    "population_shares",
    "provenance",
    "qpv_map",
    "qpv_population_by_commune",
    "read_air_stations",
    "read_cog_communes",
    "read_cog_movements",
    "read_commune_population",
    "read_communes",
    "read_departements",
    "read_epci",
    "read_epci_boundaries",
    "read_filosofi_grid",
    "read_flood_extents",
    "read_green_spaces",
    "read_heat_iris",
    "read_industrial_sites",
    "read_noise_map",
    "read_qpv",
    "read_qpv_communes",
    "read_qpv_indicators",
    "read_regions",
    "save_figure",
    "save_html",
    "schema",
    "shares_from_files",
    "sources_table",
    "write_csv",
]
