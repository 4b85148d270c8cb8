"""Readers: publishers' files -> canonical frames (one schema, EPSG:2154).

Each reader accepts the real layouts of the official sources (see each function) and
returns the columns of :mod:`qpvgeo.schema`; nothing after the readers knows a
publisher's column name. Every path goes through
:func:`qpvgeo.readers._common.resolve_input`.
"""

from qpvgeo.readers.cog import read_cog_communes, read_cog_movements
from qpvgeo.readers.environment import (
    read_air_stations,
    read_flood_extents,
    read_green_spaces,
    read_heat_iris,
    read_industrial_sites,
    read_noise_map,
)
from qpvgeo.readers.grid import read_filosofi_grid
from qpvgeo.readers.insee import read_commune_population, read_qpv_indicators
from qpvgeo.readers.points import point_positions, points_from_table, read_points
from qpvgeo.readers.qpv import read_qpv, read_qpv_communes
from qpvgeo.readers.territories import (
    read_communes,
    read_departements,
    read_epci,
    read_epci_boundaries,
    read_regions,
)

__all__ = [
    "point_positions",
    "points_from_table",
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
    "read_points",
    "read_qpv",
    "read_qpv_communes",
    "read_qpv_indicators",
    "read_regions",
]
