"""The registry entries of the layers qpvgeo ships: one declaration per layer."""

from __future__ import annotations

from qpvgeo.exposure import _core
from qpvgeo.exposure._registry import LAYERS, Layer, MapStyle
from qpvgeo.readers import environment as _readers

LAYERS.register(Layer(
    name="flood", label="Zones inondables (TRI)", family="nuisances",
    indicator=_core.flood_exposure, reader=_readers.read_flood_extents,
    comparable=(r"part_.*",), style=MapStyle(kind="classes", color="#08519c", palette="Blues"),
    source="georisques_tri_59, georisques_eaip", publisher="Géorisques (MTECT), TRI",
))
LAYERS.register(Layer(
    name="sites", label="Sites industriels (Seveso, IREP)", family="nuisances",
    indicator=_core.industrial_exposure, reader=_readers.read_industrial_sites,
    comparable=(r"part_.*",), style=MapStyle(kind="points", color="#a50f15", palette="Reds"),
    source="georisques_icpe", publisher="Géorisques (MTECT)",
))
LAYERS.register(Layer(
    name="air", label="Qualité de l'air", family="nuisances",
    indicator=_core.air_exposure, reader=_readers.read_air_stations,
    comparable=(r"no2|pm10|pm25",), style=MapStyle(kind="points", color="#54278f",
                                                  palette="Purples"),
    source="lcsqa_annual_means, atmo_occitanie_annual_means", publisher="Atmo, LCSQA",
))
LAYERS.register(Layer(
    name="heat", label="Sensibilité à la chaleur", family="chaleur",
    indicator=_core.heat_exposure, reader=_readers.read_heat_iris,
    comparable=(r"part_.*|score_chaleur",), style=MapStyle(kind="classes", color="#e34a33",
                                                          palette="OrRd"),
    source="cerema_lcz_lille", publisher="Cerema, LCZ",
))
LAYERS.register(Layer(
    name="green_spaces", label="Espaces verts", family="nature",
    indicator=_core.green_space_access, reader=_readers.read_green_spaces,
    comparable=(r"part_.*",), style=MapStyle(kind="polygons", color="#238b45",
                                            palette="Greens"),
    source="", publisher="collectivités",
))
LAYERS.register(Layer(
    name="noise", label="Bruit (cartes stratégiques)", family="nuisances",
    indicator=_core.noise_exposure, reader=_readers.read_noise_map,
    comparable=(r"part_.*",), style=MapStyle(kind="classes", color="#6a51a3",
                                            palette="Purples"),
    source="cnig_bruit", publisher="CNIG, services de l'État",
))

# -- access to services and energy transition (issue 14) ----------------------------------
from qpvgeo.exposure import access as _access  # noqa: E402
from qpvgeo.exposure import energy as _energy  # noqa: E402
from qpvgeo.readers import energy as _energy_readers  # noqa: E402
from qpvgeo.readers import services as _services  # noqa: E402

_ACCESS_COMPARABLE = (r"distance_.*_m", r"part_(population|surface)_.*")
LAYERS.register(Layer(
    name="acces_education", label="Accès aux collèges et lycées", family="acces",
    indicator=_access.education_access, reader=_services.read_education_establishments,
    columns=_access.access_columns(
        "acces_education", ["college", "lycee_general", "lycee_professionnel"],
        source="Éducation nationale"),
    comparable=_ACCESS_COMPARABLE, coverage="source",
    thresholds={"distances_m": (500, 1000)},
    style=MapStyle(kind="points", color="#6a3d9a", palette="Purples"),
    source="education_annuaire", publisher="Ministère de l'Éducation nationale",
))
LAYERS.register(Layer(
    name="acces_emploi", label="Accès à France Travail et aux CFA", family="acces",
    indicator=_access.employment_access, reader=_services.read_bpe,
    columns=_access.access_columns("acces_emploi", ["france_travail", "cfa"],
                                   source="INSEE, BPE"),
    comparable=_ACCESS_COMPARABLE, coverage="source",
    thresholds={"distances_m": (500, 1000)},
    style=MapStyle(kind="points", color="#b15928", palette="Oranges"),
    source="insee_bpe", publisher="INSEE, Base permanente des équipements",
))
LAYERS.register(Layer(
    name="acces_gares", label="Accès aux gares", family="acces",
    indicator=_access.station_access, reader=_services.read_stations,
    columns=_access.access_columns("acces_gares", ["gare"], source="SNCF"),
    comparable=_ACCESS_COMPARABLE, coverage="source",
    thresholds={"distances_m": (500, 1000, 2000)},
    style=MapStyle(kind="points", color="#1f78b4", palette="Blues"),
    source="sncf_gares", publisher="SNCF Voyageurs",
))
LAYERS.register(Layer(
    name="reseaux_chaleur", label="Réseaux de chaleur", family="transition",
    indicator=_energy.heat_network_exposure,
    reader=_energy_readers.read_heat_network_deliveries,
    columns=_energy.HEAT_NETWORK_COLUMNS,
    comparable=(r"part_surface_desservie_reseau_chaleur", r"contenu_co2_kg_kwh", r"taux_enrr"),
    coverage="source", thresholds={"min_coverage": 0.95},
    style=MapStyle(kind="polygons", color="#e31a1c", palette="YlOrRd"),
    source="sdes_chaleur_iris, fcu_arrete_dpe, ign_contours_iris",
    publisher="SDES, France Chaleur Urbaine",
))
LAYERS.register(Layer(
    name="dpe", label="Performance énergétique des logements (DPE)", family="transition",
    indicator=_energy.dpe_exposure, reader=_energy_readers.read_dpe,
    columns=_energy.DPE_COLUMNS, comparable=(r"part_dpe_.*",), coverage="source",
    thresholds={"passoires": ("F", "G")},
    style=MapStyle(kind="points", color="#ff7f00", palette="OrRd"),
    source="ademe_dpe", publisher="ADEME",
))
