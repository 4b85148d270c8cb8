"""The registry entries of the layers qpvgeo ships: one declaration per layer.

Keep this file a flat list of ``LAYERS.register(Layer(...))`` calls: a new layer is one
module of :mod:`qpvgeo.exposure` plus one entry here (see the package docstring).
Column labels may hold ``{0}``, ``{1}``…: the groups of the column's pattern, put into
words by the layer's ``words`` function (:func:`qpvgeo.exposure.column_catalogue`).
"""

from __future__ import annotations

from qpvgeo.exposure import air, flood, green, heat, noise, sites
from qpvgeo.exposure._registry import LAYERS, Layer, MapStyle
from qpvgeo.readers import environment as _readers
from qpvgeo.schema import Column

_TRI = "Géorisques (MTECT), TRI"
_ICPE = "Géorisques (MTECT), ICPE / IREP"
_AIR = "Atmo, LCSQA"
_HEAT = "Cerema, LCZ"
_GREEN = "collectivités, espaces verts"
_NOISE = "CNIG, cartes stratégiques de bruit"
_SCEN = r"(?:_(frequent|moyen|extreme|[a-z0-9_]+?))?"

LAYERS.register(Layer(
    name="flood",
    headline=(r"part_population_inondable_moyen", r"part_population_inondable(_.+)?",
              r"part_surface_inondable_moyen", r"part_surface_inondable(_.+)?"),
    label="Zones inondables (TRI)", family="nuisances",
    indicator=flood.flood_exposure, reader=_readers.read_flood_extents,
    comparable=(r"part_.*",), coverage="source", extent=flood.flood_extent,
    words=flood.scenario_words, demo=flood.demo_layer, zonewise=True,
    columns=(
        Column(rf"surface_inondable{_SCEN}_m2", "Surface en zone inondable{0}", "m²",
               kind="area", direction=1, source=_TRI, decimals=0, pattern=True),
        Column(rf"part_surface_inondable{_SCEN}", "Part de la surface en zone inondable{0}",
               "%", kind="share", direction=1, source=_TRI, pattern=True),
        Column(rf"part_population_inondable{_SCEN}",
               "Part de la population en zone inondable{0}", "%", kind="share", direction=1,
               source=_TRI, pattern=True),
        Column(rf"population_inondable{_SCEN}", "Population en zone inondable{0}",
               "habitants", kind="count", direction=1, source=_TRI, decimals=0, pattern=True),
    ),
    style=MapStyle(kind="classes", color="#08519c", palette="Blues",
                   legend="Zone inondable",
                   classes={"frequent": "#08519c", "moyen": "#3182bd", "extreme": "#9ecae1"}),
    source="georisques_tri_59, georisques_eaip", publisher=_TRI,
))
LAYERS.register(Layer(
    name="sites",
    headline=(r"part_population_sites_1000m", r"part_surface_sites_1000m",
              r"part_population_sites_\d+m", r"part_surface_sites_\d+m"),
    label="Sites industriels (Seveso, IREP)", family="nuisances",
    indicator=sites.industrial_exposure, reader=_readers.read_industrial_sites,
    comparable=(r"part_.*",), coverage="hull", options={"radii": (500, 1000, 2000)},
    demo=sites.demo_layer, zonewise=True,
    columns=(
        Column("distance_site_m", "Distance au site industriel le plus proche", "m",
               kind="distance", direction=-1, source=_ICPE, decimals=0,
               description="du bord de la zone au site (0 si le site est dans la zone)"),
        Column("site_plus_proche", "Site industriel le plus proche", kind="text", source=_ICPE),
        Column("distance_seveso_haut_m", "Distance au site Seveso seuil haut le plus proche",
               "m", kind="distance", direction=-1, source=_ICPE, decimals=0),
        Column("seveso_haut_plus_proche", "Site Seveso seuil haut le plus proche",
               kind="text", source=_ICPE),
        Column(r"n_sites_(\d+)m", "Sites industriels à {0} m ou moins", "sites",
               kind="count", direction=1, source=_ICPE, decimals=0, pattern=True),
        Column(r"n_seveso_(haut|bas)_(\d+)m", "Sites Seveso seuil {0} à {1} m ou moins",
               "sites", kind="count", direction=1, source=_ICPE, decimals=0, pattern=True,
               description="NA quand la source ne recense pas ce seuil (liste seuil haut "
                           "seulement)"),
        Column(r"part_surface_sites_(\d+)m", "Part de la surface à {0} m ou moins d'un site",
               "%", kind="share", direction=1, source=_ICPE, pattern=True),
        Column(r"part_population_sites_(\d+)m",
               "Part de la population à {0} m ou moins d'un site", "%", kind="share",
               direction=1, source=_ICPE, pattern=True),
        Column(r"population_sites_(\d+)m", "Population à {0} m ou moins d'un site",
               "habitants", kind="count", direction=1, source=_ICPE, decimals=0, pattern=True),
    ),
    style=MapStyle(kind="points", color="#a50f15", palette="Reds", legend="Site industriel",
                   classes={"haut": "#a50f15", "bas": "#fb6a4a", "non": "#fcbba1"}),
    source="georisques_icpe", publisher=_ICPE,
))
LAYERS.register(Layer(
    name="air",
    headline=("no2", "pm25", "pm10"),
    label="Qualité de l'air", family="nuisances",
    indicator=air.air_exposure, reader=_readers.read_air_stations,
    comparable=(r"(no2|pm10|pm25)",), coverage="source", extent=air.air_extent,
    options={"max_distance": air.STATION_MAX_DISTANCE},
    thresholds={"oms_2021": air.WHO_2021, "ue_2030": air.EU_2030},
    words=air.pollutant_words, incomparable=air.same_station, demo=air.demo_layer, zonewise=True,
    columns=(
        Column(r"(no2|pm10|pm25)", "Concentration moyenne annuelle de {0}", "µg/m³",
               kind="mean", direction=1, source=_AIR, pattern=True,
               description="pondérée par la population (sinon la surface) ; pour des "
                           "stations, la station la plus proche dans la distance maximale"),
        Column(r"(no2|pm10|pm25)_station", "Station de mesure de {0}", kind="text",
               source=_AIR, pattern=True),
        Column(r"(no2|pm10|pm25)_distance_station_m", "Distance à la station de mesure de {0}",
               "m", kind="distance", direction=0, source=_AIR, decimals=0, pattern=True),
        Column("part_surface_couverte_air", "Part de la zone couverte par la couche air", "%",
               kind="share", source=_AIR),
        Column(r"part_population_sup_(oms_2021|ue_2030)_(no2|pm10|pm25)",
               "Part de la population au-dessus {0} pour {1}", "%", kind="share",
               direction=1, source=_AIR, pattern=True),
        Column(r"population_sup_(oms_2021|ue_2030)_(no2|pm10|pm25)",
               "Population au-dessus {0} pour {1}", "habitants", kind="count", direction=1,
               source=_AIR, decimals=0, pattern=True),
        Column(r"part_surface_sup_(oms_2021|ue_2030)_(no2|pm10|pm25)",
               "Part de la surface au-dessus {0} pour {1}", "%", kind="share", direction=1,
               source=_AIR, pattern=True),
    ),
    style=MapStyle(kind="points", color="#54278f", palette="Purples",
                   legend="Concentration moyenne annuelle (µg/m³)"),
    source="lcsqa_annual_means, atmo_occitanie_annual_means", publisher=_AIR,
))
LAYERS.register(Layer(
    name="heat",
    headline=("score_chaleur", "part_population_chaleur_forte",
              "part_surface_chaleur_forte"),
    label="Sensibilité à la chaleur", family="chaleur",
    indicator=heat.heat_exposure, reader=_readers.read_heat_iris,
    comparable=(r"part_(?!surface_couverte).*|score_chaleur",), coverage="source",
    extent=heat.heat_extent, words=heat.class_words, demo=heat.demo_layer, zonewise=True,
    columns=(
        Column("score_chaleur", "Score de sensibilité à la chaleur", "", kind="score",
               direction=1, source=_HEAT, decimals=2,
               description="moyenne sur la zone ; plus haut = plus exposé"),
        Column(r"part_surface_chaleur_(forte)", "Part de la surface en sensibilité {0}", "%",
               kind="share", direction=1, source=_HEAT, pattern=True),
        Column(r"part_surface_chaleur_(moyenne|faible)", "Part de la surface en sensibilité {0}",
               "%", kind="share", direction=0, source=_HEAT, pattern=True),
        Column(r"part_population_chaleur_(forte)", "Part de la population en sensibilité {0}",
               "%", kind="share", direction=1, source=_HEAT, pattern=True),
        Column(r"part_population_chaleur_(moyenne|faible)",
               "Part de la population en sensibilité {0}", "%", kind="share", direction=0,
               source=_HEAT, pattern=True),
        Column(r"population_chaleur_(faible|moyenne|forte)", "Population en sensibilité {0}",
               "habitants", kind="count", source=_HEAT, decimals=0, pattern=True),
        Column("part_surface_couverte_chaleur", "Part de la zone couverte par la couche chaleur",
               "%", kind="share", source=_HEAT),
    ),
    style=MapStyle(kind="classes", color="#e34a33", palette="OrRd",
                   legend="Sensibilité à la chaleur",
                   classes={"forte": "#e34a33", "moyenne": "#fdbb84", "faible": "#fee8c8"}),
    source="cerema_lcz_lille", publisher=_HEAT,
))
LAYERS.register(Layer(
    name="green_spaces",
    headline=("part_population_acces_espace_vert",
              "part_surface_acces_espace_vert"),
    label="Espaces verts", family="nature",
    indicator=green.green_space_access, reader=_readers.read_green_spaces,
    comparable=(r"part_.*",), coverage="hull",
    options={"distance": 300, "min_area": 5000}, demo=green.demo_layer, zonewise=True,
    columns=(
        Column("part_surface_acces_espace_vert",
               "Part de la surface à 300 m d'un espace vert d'au moins 0,5 ha", "%",
               kind="share", direction=-1, source=_GREEN,
               description="indicateur OMS Europe (distance et surface réglables)"),
        Column("part_population_acces_espace_vert",
               "Part de la population à 300 m d'un espace vert d'au moins 0,5 ha", "%",
               kind="share", direction=-1, source=_GREEN,
               description="indicateur OMS Europe (distance et surface réglables)"),
        Column("population_acces_espace_vert", "Population à portée d'un espace vert",
               "habitants", kind="count", direction=-1, source=_GREEN, decimals=0),
        Column("distance_espace_vert_m", "Distance à l'espace vert d'au moins 0,5 ha le plus "
               "proche", "m", kind="distance", direction=1, source=_GREEN, decimals=0),
        Column("n_espaces_verts", "Espaces verts d'au moins 0,5 ha à portée", "espaces verts",
               kind="count", direction=-1, source=_GREEN, decimals=0),
    ),
    style=MapStyle(kind="polygons", color="#238b45", palette="Greens", legend="Espace vert"),
    source="", publisher=_GREEN,
))
LAYERS.register(Layer(
    name="noise",
    headline=(r"part_population_bruit_route_lden_68",
              r"part_surface_bruit_route_lden_68",
              r"part_population_bruit_.+", r"part_surface_bruit_.+"),
    label="Bruit (cartes stratégiques)", family="nuisances",
    indicator=noise.noise_exposure, reader=_readers.read_noise_map,
    comparable=(r"part_.*",), coverage="hull", words=noise.noise_words,
    thresholds={"valeurs_limites": noise.LIMIT_VALUES}, demo=noise.demo_layer, zonewise=True,
    columns=(
        Column(r"surface_bruit_(.+)_m2", "Surface exposée au bruit {0}", "m²", kind="area",
               direction=1, source=_NOISE, decimals=0, pattern=True),
        Column(r"part_surface_bruit_(.+)", "Part de la surface exposée au bruit {0}", "%",
               kind="share", direction=1, source=_NOISE, pattern=True),
        Column(r"part_population_bruit_(.+)", "Part de la population exposée au bruit {0}",
               "%", kind="share", direction=1, source=_NOISE, pattern=True),
        Column(r"population_bruit_(.+)", "Population exposée au bruit {0}", "habitants",
               kind="count", direction=1, source=_NOISE, decimals=0, pattern=True),
    ),
    style=MapStyle(kind="classes", color="#6a51a3", palette="Purples",
                   legend="Bruit (dépassement des valeurs limites)"),
    source="cnig_bruit", publisher=_NOISE,
))

# -- access to services and energy transition (issue 14) ----------------------------------
from qpvgeo.exposure import access as _access  # noqa: E402
from qpvgeo.exposure import energy as _energy  # noqa: E402
from qpvgeo.readers import energy as _energy_readers  # noqa: E402
from qpvgeo.readers import services as _services  # noqa: E402

_ACCESS_COMPARABLE = (r"distance_.*_m", r"part_(population|surface)_.*")
# exposure_profile clips the zones to the coverage and adds part_couverte_<couche> itself
_CLIPPED = {"coverage": False}
# No ``headline=``, on purpose: the synthesis (``burden``) is an *environmental* burden,
# CalEnviroScreen's pollution-burden idea. Distance to services and the energy label of the
# housing are other dimensions of the rev3 diagnostic: folded into one score, a QPV beside
# a collège would read as "less exposed" to noise or flooding. They are profiled, compared
# with the surroundings and mapped like every layer; ``burden.percentiles(profile,
# columns=[...])`` ranks any of their columns.
LAYERS.register(Layer(
    name="acces_education", label="Accès aux collèges et lycées", family="acces",
    indicator=_access.education_access, reader=_services.read_education_establishments,
    columns=_access.access_columns(
        "acces_education", ["college", "lycee_general", "lycee_professionnel"],
        source="Éducation nationale"),
    comparable=_ACCESS_COMPARABLE, coverage="source", extent=_access.facility_extent,
    options=_CLIPPED,
    thresholds={"distances_m": (500, 1000)},
    style=MapStyle(kind="points", color="#6a3d9a", palette="Purples",
                   legend="Collèges et lycées"),
    source="education_annuaire", publisher="Ministère de l'Éducation nationale",
    demo=_access.demo_schools,
))
LAYERS.register(Layer(
    name="acces_emploi", label="Accès à France Travail et aux CFA", family="acces",
    indicator=_access.employment_access, reader=_services.read_bpe,
    columns=_access.access_columns("acces_emploi", ["france_travail", "cfa"],
                                   source="INSEE, BPE"),
    comparable=_ACCESS_COMPARABLE, coverage="source", extent=_access.facility_extent,
    options=_CLIPPED,
    thresholds={"distances_m": (500, 1000)},
    style=MapStyle(kind="points", color="#b15928", palette="Oranges",
                   legend="France Travail et CFA"),
    source="insee_bpe", publisher="INSEE, Base permanente des équipements",
    demo=_access.demo_employment,
))
LAYERS.register(Layer(
    name="acces_gares", label="Accès aux gares", family="acces",
    indicator=_access.station_access, reader=_services.read_stations,
    columns=_access.access_columns("acces_gares", ["gare"], source="SNCF"),
    comparable=_ACCESS_COMPARABLE, coverage="source", extent=_access.facility_extent,
    options=_CLIPPED,
    thresholds={"distances_m": (500, 1000, 2000)},
    style=MapStyle(kind="points", color="#1f78b4", palette="Blues", legend="Gares"),
    source="sncf_gares", publisher="SNCF Voyageurs", demo=_access.demo_stations,
))
LAYERS.register(Layer(
    name="reseaux_chaleur", label="Réseaux de chaleur", family="transition",
    # no single-file reader: the layer is heat_network_iris(deliveries, IRIS, networks)
    indicator=_energy.heat_network_exposure, reader=None,
    columns=_energy.HEAT_NETWORK_COLUMNS,
    comparable=(r"part_surface_desservie_reseau_chaleur", r"contenu_co2_kg_kwh", r"taux_enrr"),
    coverage="source", extent=_energy.iris_extent, options={"coverage": False},
    style=MapStyle(kind="polygons", color="#e31a1c", palette="YlOrRd",
                   legend="IRIS desservis par un réseau de chaleur"),
    source="sdes_chaleur_iris, fcu_arrete_dpe, ign_contours_iris",
    publisher="SDES, France Chaleur Urbaine", demo=_energy.demo_heat_networks,
))
LAYERS.register(Layer(
    name="dpe", label="Performance énergétique des logements (DPE)", family="transition",
    indicator=_energy.dpe_exposure, reader=_energy_readers.read_dpe,
    columns=_energy.DPE_COLUMNS, comparable=(r"part_dpe_.*",), coverage="source",
    extent=_access.facility_extent, options=_CLIPPED,
    thresholds={"passoires": ("F", "G")},
    style=MapStyle(kind="points", color="#ff7f00", palette="OrRd", legend="DPE"),
    source="ademe_dpe", publisher="ADEME", demo=_energy.demo_dpe,
))
