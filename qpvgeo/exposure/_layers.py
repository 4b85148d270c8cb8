"""The registry entries of the layers qpvgeo ships: one declaration per layer."""

from __future__ import annotations

from qpvgeo.exposure import air, flood, green, heat, noise, sites
from qpvgeo.exposure._registry import LAYERS, Layer, MapStyle
from qpvgeo.readers import environment as _readers

LAYERS.register(Layer(
    name="flood", label="Zones inondables (TRI)", family="nuisances",
    indicator=flood.flood_exposure, reader=_readers.read_flood_extents,
    comparable=(r"part_.*",), style=MapStyle(kind="classes", color="#08519c", palette="Blues"),
    source="georisques_tri_59, georisques_eaip", publisher="Géorisques (MTECT), TRI",
))
LAYERS.register(Layer(
    name="sites", label="Sites industriels (Seveso, IREP)", family="nuisances",
    indicator=sites.industrial_exposure, reader=_readers.read_industrial_sites,
    comparable=(r"part_.*",), style=MapStyle(kind="points", color="#a50f15", palette="Reds"),
    source="georisques_icpe", publisher="Géorisques (MTECT)",
))
LAYERS.register(Layer(
    name="air", label="Qualité de l'air", family="nuisances",
    indicator=air.air_exposure, reader=_readers.read_air_stations,
    comparable=(r"no2|pm10|pm25",), style=MapStyle(kind="points", color="#54278f",
                                                  palette="Purples"),
    source="lcsqa_annual_means, atmo_occitanie_annual_means", publisher="Atmo, LCSQA",
))
LAYERS.register(Layer(
    name="heat", label="Sensibilité à la chaleur", family="chaleur",
    indicator=heat.heat_exposure, reader=_readers.read_heat_iris,
    comparable=(r"part_.*|score_chaleur",), style=MapStyle(kind="classes", color="#e34a33",
                                                          palette="OrRd"),
    source="cerema_lcz_lille", publisher="Cerema, LCZ",
))
LAYERS.register(Layer(
    name="green_spaces", label="Espaces verts", family="nature",
    indicator=green.green_space_access, reader=_readers.read_green_spaces,
    comparable=(r"part_.*",), style=MapStyle(kind="polygons", color="#238b45",
                                            palette="Greens"),
    source="", publisher="collectivités",
))
LAYERS.register(Layer(
    name="noise", label="Bruit (cartes stratégiques)", family="nuisances",
    indicator=noise.noise_exposure, reader=_readers.read_noise_map,
    comparable=(r"part_.*",), style=MapStyle(kind="classes", color="#6a51a3",
                                            palette="Purples"),
    source="cnig_bruit", publisher="CNIG, services de l'État",
))
