"""The canonical schema: column names, dtypes and CRS, written down once.

Every reader translates a publisher's layout into these names; nothing downstream of
the readers knows a publisher's column name. Columns are French, as the publishers and
the analysts say them; shares are fractions in ``[0, 1]``; every geometry is in
Lambert-93 (EPSG:2154).

Frames
------
QPV (``read_qpv``)
    ``code_qpv`` (str, ``QPdddnnn`` for 2015, ``QNdddnnX`` for 2024), ``nom_qpv`` (str),
    ``millesime`` (Int64: 2015 or 2024), ``code_departement`` (str, ``"59"``, ``"2A"``,
    ``"974"``), ``code_commune`` (str, main commune, may be NA), ``geometry``; plus
    ``codes_communes`` / ``noms_communes`` (every commune the file lists, ``", "``-joined)
    where the publisher gives them.
QPV x commune membership (``read_qpv_communes``)
    ``code_qpv``, ``nom_qpv``, ``code_commune``, ``nom_commune``, ``code_departement``.
QPV indicators (``read_qpv_indicators``)
    indexed by ``code_qpv``; INSEE columns in lower case, plus the aliases of
    :data:`INDICATOR_ALIASES` (``population``, ``taux_pauvrete``…).
Communes (``read_communes``)
    ``code_commune``, ``nom_commune``, ``geometry``.
Commune populations (``read_commune_population``)
    ``code_commune``, ``nom_commune``, ``population``, ``code_departement``,
    ``code_region``.
EPCI membership (``read_epci``)
    ``code_commune``, ``code_epci``, ``nom_epci``.
Population shares (``population_shares``)
    ``population``, ``population_qpv``, ``part_qpv``, ``n_qpv``.
Filosofi 200 m grid (``read_filosofi_grid``)
    ``idcar_200m`` and INSEE's variables in lower case (``ind``, ``men``, ``men_pauv``,
    ``ind_snv``…), geometry: the 200 m square in EPSG:2154 (built in EPSG:3035).

Examples
--------
>>> from qpvgeo import schema
>>> schema.CRS
'EPSG:2154'
>>> schema.millesime_of_code("QN05972M")
2024
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from qpvgeo.errors import SchemaError

#: Lambert-93, the one CRS of every frame qpvgeo returns.
CRS = "EPSG:2154"
#: INSEE's grid CRS (ETRS89-LAEA), in which the Filosofi 200 m squares are defined.
GRID_CRS = "EPSG:3035"

# -- column names -------------------------------------------------------------------
CODE_QPV = "code_qpv"
NOM_QPV = "nom_qpv"
MILLESIME = "millesime"
CODE_COMMUNE = "code_commune"
NOM_COMMUNE = "nom_commune"
CODE_DEPARTEMENT = "code_departement"
CODE_REGION = "code_region"
NOM_REGION = "nom_region"
CODE_EPCI = "code_epci"
NOM_EPCI = "nom_epci"
POPULATION = "population"
POPULATION_QPV = "population_qpv"
PART_QPV = "part_qpv"
N_QPV = "n_qpv"
METHODE = "methode"
GEOMETRY = "geometry"
IDCAR_200M = "idcar_200m"

#: Canonical columns of the environmental layers (readers in ``qpvgeo.readers``
#: translate Géorisques, IREP, CNIG, Atmo, Cerema layouts into these).
SCENARIO = "scenario"  # flood: "frequent", "moyen", "extreme" (TRI high / medium / low probability)
FLOOD_SCENARIOS: tuple[str, ...] = ("frequent", "moyen", "extreme")
CODE_SITE = "code_site"
NOM_SITE = "nom_site"
SEVESO = "seveso"  # industrial sites: "haut" (upper tier), "bas" (lower tier), "non"
SEVESO_LEVELS: tuple[str, ...] = ("haut", "bas", "non")
POLLUTANTS: tuple[str, ...] = ("no2", "pm10", "pm25")  # annual means, µg/m³
CODE_STATION = "code_station"
NOM_STATION = "nom_station"
SCORE_CHALEUR = "score_chaleur"  # heat vulnerability, higher = more exposed
NOM_ESPACE_VERT = "nom"
INDICATEUR_BRUIT = "indicateur"  # noise: "lden" or "ln"
SOURCE_BRUIT = "source"  # noise: "route", "fer", "aerien", "industrie"
LDEN_MIN = "lden_min"  # noise bands (type A maps): lower bound in dB(A); type C: the limit
LDEN_MAX = "lden_max"

#: Columns and dtypes of each canonical frame (geometry aside).
QPV_COLUMNS: dict[str, str] = {
    CODE_QPV: "string",
    NOM_QPV: "string",
    MILLESIME: "Int64",
    CODE_DEPARTEMENT: "string",
    CODE_COMMUNE: "string",
}
QPV_COMMUNE_COLUMNS: dict[str, str] = {
    CODE_QPV: "string",
    NOM_QPV: "string",
    CODE_COMMUNE: "string",
    NOM_COMMUNE: "string",
    CODE_DEPARTEMENT: "string",
}
COMMUNE_COLUMNS: dict[str, str] = {CODE_COMMUNE: "string", NOM_COMMUNE: "string"}
COMMUNE_POPULATION_COLUMNS: dict[str, str] = {
    CODE_COMMUNE: "string",
    NOM_COMMUNE: "string",
    POPULATION: "Int64",
    CODE_DEPARTEMENT: "string",
    CODE_REGION: "string",
}
EPCI_COLUMNS: dict[str, str] = {
    CODE_COMMUNE: "string",
    CODE_EPCI: "string",
    NOM_EPCI: "string",
}
SHARE_COLUMNS: dict[str, str] = {
    POPULATION: "float64",
    POPULATION_QPV: "float64",
    PART_QPV: "float64",
    N_QPV: "Int64",
}

#: Canonical aliases of the main INSEE / SIG Ville indicators: alias -> publisher
#: columns (lower case) that carry it, first match wins. Rates are kept in percent,
#: as INSEE publishes them (``taux_pauvrete`` 43.5 means 43.5 %), and say so in
#: :data:`INDICATOR_UNITS`; the 0-1 convention applies to the shares qpvgeo computes.
INDICATOR_ALIASES: dict[str, tuple[str, ...]] = {
    "population": ("pop_mun", "population_municipale_2013", "popmuniqpv", "population"),
    "population_communes": ("pop_com",),
    "population_qpv_communes": ("pop_com_qp",),
    "taux_pauvrete": (
        "disp_tp60_a19", "disp_tp60_a18", "tp60_a17", "tp60_a16", "tp60",
        "disp_tp60", "taux_pauvrete_60%",
    ),
    "revenu_disponible_median": (
        "disp_med_a19", "disp_med_a18", "disp_q2_a17", "disp_q2_a16", "disp_q2",
        "disp_med",
    ),
    "revenu_declare_median": ("decuc_q2", "dec_med"),
    "taux_emploi": ("tx_tot_empl", "taux_d_emploi"),
    "taux_emploi_femmes": ("tx_f_empl",),
    "demandeurs_emploi": ("abcde",),
    "indice_jeunesse": ("ind_jeune", "indicejeunesse"),
    "part_moins_25_ans": ("tx_tot_0a24",),
    "part_60_ans_plus": ("tx_tot_60etplus",),
    "part_etrangers": ("tx_tot_et", "partpopet"),
    "part_immigres": ("partpopimmi",),
    # Not INSEE's bare `A`: in the IPRO tables it counts category-A job seekers.
    "allocataires_caf": ("allocataires_caf",),
    "logements_sociaux": ("nombre_logements_sociaux",),
    "taux_logements_sociaux": ("taux_logements_sociaux",),
}

#: Unit of each alias, for tables and legends.
INDICATOR_UNITS: dict[str, str] = {
    "population": "habitants",
    "population_communes": "habitants",
    "population_qpv_communes": "habitants",
    "taux_pauvrete": "% (seuil 60 %)",
    "revenu_disponible_median": "€ par UC et par an",
    "revenu_declare_median": "€ par UC et par an",
    "taux_emploi": "%",
    "taux_emploi_femmes": "%",
    "demandeurs_emploi": "personnes",
    "indice_jeunesse": "ratio",
    "part_moins_25_ans": "%",
    "part_60_ans_plus": "%",
    "part_etrangers": "%",
    "part_immigres": "%",
    "allocataires_caf": "allocataires",
    "logements_sociaux": "logements",
    "taux_logements_sociaux": "%",
}

#: INSEE statistical-secrecy and not-available markers: NA, never 0.
SECRECY_MARKERS: frozenset[str] = frozenset({"", "s", "nd", "ns", "c", "nc", "na", "n/a", "-"})

#: Regions of metropolitan France (2016 regions) with their départements.
REGIONS: dict[str, str] = {
    "11": "Île-de-France", "24": "Centre-Val de Loire", "27": "Bourgogne-Franche-Comté",
    "28": "Normandie", "32": "Hauts-de-France", "44": "Grand Est",
    "52": "Pays de la Loire", "53": "Bretagne", "75": "Nouvelle-Aquitaine",
    "76": "Occitanie", "84": "Auvergne-Rhône-Alpes", "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse", "01": "Guadeloupe", "02": "Martinique", "03": "Guyane",
    "04": "La Réunion", "06": "Mayotte",
}
METROPOLITAN_REGIONS: frozenset[str] = frozenset(
    k for k in REGIONS if k not in {"01", "02", "03", "04", "06"}
)
DEPARTEMENTS_BY_REGION: dict[str, tuple[str, ...]] = {
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "24": ("18", "28", "36", "37", "41", "45"),
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "28": ("14", "27", "50", "61", "76"),
    "32": ("02", "59", "60", "62", "80"),
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "52": ("44", "49", "53", "72", "85"),
    "53": ("22", "29", "35", "56"),
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "93": ("04", "05", "06", "13", "83", "84"),
    "94": ("2A", "2B"),
    "01": ("971",), "02": ("972",), "03": ("973",), "04": ("974",), "06": ("976",),
}
REGION_OF_DEPARTEMENT: dict[str, str] = {
    d: r for r, deps in DEPARTEMENTS_BY_REGION.items() for d in deps
}

_QPV2015 = re.compile(r"^QP(\d{3}|02[AB])\d{3}$")
_QPV2024 = re.compile(r"^QN(\d{3}|02[AB])\d{2}[A-Z]$")


def millesime_of_code(code: str) -> int | None:
    """Return the QPV geography (2015 or 2024) a code belongs to, or None.

    ``QP`` + 6 characters is the 2015 geography (decree 2014-1750), ``QN`` + 5
    characters + a letter the 2024 one (decree 2023-1314).

    Examples
    --------
    >>> millesime_of_code("QP059074"), millesime_of_code("QN05972M"), millesime_of_code("x")
    (2015, 2024, None)
    """
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    if _QPV2015.match(code):
        return 2015
    if _QPV2024.match(code):
        return 2024
    return None


def departement_of_qpv(code: str) -> str | None:
    """Département of a QPV from its code: ``QP059074`` -> ``"59"``, ``QN02A01M`` -> ``"2A"``.

    Examples
    --------
    >>> departement_of_qpv("QP059074"), departement_of_qpv("QN97414I")
    ('59', '974')
    """
    if millesime_of_code(code) is None:
        return None
    d = code.strip().upper()[2:5]
    return d[1:] if d.startswith("0") else d


def departement_of_commune(code: str) -> str | None:
    """Département of an INSEE commune code: ``59350`` -> ``"59"``, ``97411`` -> ``"974"``.

    Examples
    --------
    >>> departement_of_commune("59350"), departement_of_commune("2A004")
    ('59', '2A')
    """
    if not isinstance(code, str) or len(code) != 5:
        return None
    return code[:3] if code.startswith("97") else code[:2]


def normalise_commune_code(values: pd.Series) -> pd.Series:
    """Bring INSEE commune codes to 5 characters, restoring a dropped leading zero.

    Spreadsheet round-trips turn ``01053`` into ``1053`` (or ``1053.0``); Corsican codes
    (``2A004``) are kept as they are.

    Examples
    --------
    >>> normalise_commune_code(pd.Series(["1053", "59350", "2a004", "1053.0"])).tolist()
    ['01053', '59350', '2A004', '01053']
    """
    s = values.astype("string").str.strip().str.upper()
    s = s.str.replace(r"\.0+$", "", regex=True)
    return s.where(s.isna() | (s.str.len() != 4) | ~s.str.isdigit(), "0" + s)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """Raise :class:`~qpvgeo.errors.SchemaError` naming the missing columns.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"code_qpv": []}), ["code_qpv"], what="qpv")
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what}: missing column(s) {missing}; columns present: {list(frame.columns)}"
        )


def to_canonical_crs(frame, *, what: str = "layer"):
    """Return ``frame`` in EPSG:2154; a frame without a CRS is an error.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(2.35, 48.85)], crs=4326)
    >>> round(to_canonical_crs(g).geometry.x.iloc[0])
    652302
    """
    from qpvgeo.errors import MissingCRSError

    if frame.crs is None:
        raise MissingCRSError(f"{what}: the layer has no CRS; pass crs= to say which it is")
    if frame.crs.to_epsg() == 2154:
        return frame
    return frame.to_crs(CRS)


# -- plausibility bounds ----------------------------------------------------------------
# What a reader refuses (QpvgeoError naming the file, the column and the first rows) or
# warns about. Each bound is far beyond any real value, so that only a wrong file (a
# wrong column, a unit slip, a shifted decimal) trips it; the comment says where the
# real maximum comes from.

#: Largest plausible population of one commune: Paris, the largest, has 2.1 million
#: inhabitants (populations légales 2023); above 3 million is not a commune.
MAX_COMMUNE_POPULATION = 3_000_000
#: Largest plausible population of one QPV. The largest real ones are intercommunal
#: QPV of Seine-Saint-Denis: QN09328M, 132,511 inhabitants (SIG Ville 2024), QP093028,
#: 126,034 (INSEE DEMO 2022); QP013032 (Marseille) 104,302. Over twice the largest.
MAX_QPV_POPULATION = 300_000
#: Largest plausible area of one QPV, km². The largest real QPV, QN97329M "Fatima-Route
#: De Mana" (Saint-Laurent-du-Maroni, Guyane), covers 48.5 km²; the largest in
#: metropolitan France (2015, QP059082 Roubaix-Tourcoing) 6.7 km². Twice the largest.
MAX_QPV_AREA_KM2 = 100.0
#: Geometry types a QPV or commune contour may have.
POLYGON_TYPES: frozenset[str] = frozenset({"Polygon", "MultiPolygon"})
#: Margin, in degrees, around a CRS's area of use (pyproj) inside which coordinates are
#: accepted (a layer slightly past its CRS's published bounds is still right).
AREA_OF_USE_MARGIN_DEG = 2.0
#: How many offending rows an error message shows.
PLAUSIBILITY_EXAMPLES = 5


# -- the column catalogue ------------------------------------------------------------
# One description of every column qpvgeo puts in a table, a map, a CSV or a page. The
# report, the maps, the CSV dictionary and the notebooks all read it through
# :func:`column_info`; a layer of the exposure registry declares its own columns with the
# same :class:`Column` type.

#: Kinds of values, which decide how a value is formatted for people.
COLUMN_KINDS: frozenset[str] = frozenset({
    "count",     # a number of people, sites, dwellings… (thousands grouped, no decimals)
    "share",     # a fraction in [0, 1] computed by qpvgeo (shown as a percentage)
    "percent",   # a rate already in percent, as INSEE publishes it
    "mean",      # a mean or a concentration (µg/m³, dB(A), €…)
    "distance",  # metres (shown in km beyond 1,000 m)
    "area",      # m²
    "ratio",     # QPV / surroundings and other ratios around 1
    "score",     # an index or percentile
    "text",      # names, codes, classes
})


@dataclass(frozen=True)
class Column:
    """How one column (or a family of columns, when ``pattern``) is named for people.

    Parameters
    ----------
    name : str
        The column name, or a regular expression matched in full when ``pattern``.
    label : str
        French label for tables, legends and tooltips ("Taux de pauvreté").
    unit : str
        Unit as printed ("%", "habitants", "µg/m³", "m", "dB(A)", "" for none).
    kind : str
        One of :data:`COLUMN_KINDS`; decides the formatting.
    direction : int
        ``+1`` when a higher value is worse for the inhabitants (poverty, NO₂, noise),
        ``-1`` when it is better (income, access to green space), ``0`` when neutral.
    source : str
        Publisher and layer, e.g. "INSEE, Filosofi" or "Géorisques, TRI".
    decimals : int
        Digits after the comma when formatted.
    description : str
        One sentence for the data dictionary.
    pattern : bool
        ``name`` is a regular expression (``part_surface_inondable_(frequent|moyen)``).

    Examples
    --------
    >>> c = Column("taux_pauvrete", "Taux de pauvreté", "%", kind="percent", direction=1)
    >>> c.matches("taux_pauvrete"), c.matches("taux_emploi")
    (True, False)
    """

    name: str
    label: str
    unit: str = ""
    kind: str = "mean"
    direction: int = 0
    source: str = ""
    decimals: int = 1
    description: str = ""
    pattern: bool = False

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise SchemaError(
                f"Column {self.name!r}: kind {self.kind!r} not in {sorted(COLUMN_KINDS)}"
            )
        if self.direction not in (-1, 0, 1):
            raise SchemaError(f"Column {self.name!r}: direction must be -1, 0 or +1")

    def matches(self, column: str) -> bool:
        """True when this entry describes ``column``."""
        if self.pattern:
            return re.fullmatch(self.name, column) is not None
        return column == self.name


_INSEE = "INSEE"
#: The catalogue of the population and socio-economic columns. The exposure layers
#: declare theirs in their registry entry (:mod:`qpvgeo.exposure`); both are read through
#: :func:`column_info`.
COLUMNS: tuple[Column, ...] = (
    Column(CODE_QPV, "Code du QPV", kind="text", source="ANCT"),
    Column(NOM_QPV, "Quartier prioritaire", kind="text", source="ANCT"),
    Column(CODE_COMMUNE, "Code commune", kind="text", source=_INSEE),
    Column(NOM_COMMUNE, "Commune", kind="text", source=_INSEE),
    Column(POPULATION, "Population", "habitants", kind="count", decimals=0,
           source=f"{_INSEE}, recensement de la population"),
    Column(POPULATION_QPV, "Population en QPV", "habitants", kind="count", decimals=0,
           source=_INSEE),
    Column(PART_QPV, "Part de la population vivant en QPV", "%", kind="share", direction=1,
           source=_INSEE),
    Column(N_QPV, "Nombre de QPV", "", kind="count", decimals=0, source="ANCT"),
    Column("taux_pauvrete", "Taux de pauvreté (seuil 60 %)", "%", kind="percent",
           direction=1, source=f"{_INSEE}, Filosofi"),
    Column("revenu_disponible_median", "Revenu disponible médian par UC", "€ par an",
           kind="mean", direction=-1, decimals=0, source=f"{_INSEE}, Filosofi"),
    Column("revenu_declare_median", "Revenu déclaré médian par UC", "€ par an",
           kind="mean", direction=-1, decimals=0, source=f"{_INSEE}, Filosofi"),
    Column("taux_emploi", "Taux d'emploi des 15-64 ans", "%", kind="percent", direction=-1,
           source=_INSEE),
    Column("taux_emploi_femmes", "Taux d'emploi des femmes de 15-64 ans", "%",
           kind="percent", direction=-1, source=_INSEE),
    Column("demandeurs_emploi", "Demandeurs d'emploi (cat. A à E)", "personnes",
           kind="count", direction=1, decimals=0, source="France Travail, DARES"),
    Column("indice_jeunesse", "Indice de jeunesse (moins de 20 ans / 60 ans et plus)", "",
           kind="ratio", decimals=2, source=_INSEE),
    Column("part_moins_25_ans", "Part des moins de 25 ans", "%", kind="percent",
           source=_INSEE),
    Column("part_60_ans_plus", "Part des 60 ans et plus", "%", kind="percent",
           source=_INSEE),
    Column("part_etrangers", "Part des étrangers", "%", kind="percent", source=_INSEE),
    Column("part_immigres", "Part des immigrés", "%", kind="percent", source=_INSEE),
    Column("allocataires_caf", "Allocataires CAF", "allocataires", kind="count",
           decimals=0, source="CNAF"),
    Column("logements_sociaux", "Logements sociaux", "logements", kind="count",
           decimals=0, source="RPLS"),
    # SIG Ville publishes it per 100 households: a rate, not a share of dwellings.
    Column("taux_logements_sociaux", "Logements sociaux pour 100 ménages", "pour 100 ménages",
           kind="mean", source="RPLS, SIG Ville"),
    Column("nombre_menages", "Ménages", "ménages", kind="count", decimals=0, source=_INSEE),
    # -- territory and geography ----------------------------------------------------
    Column(MILLESIME, "Géographie prioritaire", kind="text", source="ANCT"),
    Column(CODE_DEPARTEMENT, "Code département", kind="text", source=_INSEE),
    Column(CODE_REGION, "Code région", kind="text", source=_INSEE),
    Column("nom_region", "Région", kind="text", source=_INSEE),
    Column("nom_departement", "Département", kind="text", source=_INSEE),
    Column(CODE_EPCI, "SIREN de l'EPCI", kind="text", source="DGCL"),
    Column("nom_epci", "EPCI", kind="text", source="DGCL"),
    Column("communes", "Commune(s) du territoire", kind="text", source="ANCT, liste QPV × communes",
           description="Communes du territoire que le QPV couvre."),
    Column("noms_communes", "Commune(s)", kind="text", source="ANCT"),
    Column("codes_communes", "Code(s) commune", kind="text", source="ANCT"),
    Column("population_dans_territoire", "Population du QPV dans le territoire", "habitants",
           kind="count", decimals=0, source=f"{_INSEE}, partage par commune (qpvgeo)",
           description="Population du QPV résidant dans le territoire : le QPV entier, ou "
                       "sa part dans les communes du territoire quand il déborde."),
    Column("population_communes", "Population de la (des) commune(s) du QPV", "habitants",
           kind="count", decimals=0, source=_INSEE),
    Column("part_qpv_communes", "Part de la population de la (des) commune(s) en QPV", "%",
           kind="share", direction=1, source=_INSEE),
    # -- Filosofi 200 m grid, QPV and surroundings (qpvgeo.profile) -------------------
    Column("part_menages_pauvres_qpv", "Ménages pauvres dans le QPV (carroyage)", "%",
           kind="share", direction=1, source=f"{_INSEE}, Filosofi 200 m"),
    Column("part_menages_pauvres_environs", "Ménages pauvres dans les environs (carroyage)",
           "%", kind="share", direction=1, source=f"{_INSEE}, Filosofi 200 m"),
    Column("ratio_menages_pauvres", "Ménages pauvres : rapport QPV / environs", "",
           kind="ratio", direction=1, decimals=2, source=f"{_INSEE}, Filosofi 200 m"),
    Column("niveau_vie_moyen_qpv", "Niveau de vie moyen dans le QPV (carroyage)", "€ par an",
           kind="mean", direction=-1, decimals=0, source=f"{_INSEE}, Filosofi 200 m"),
    Column("niveau_vie_moyen_environs", "Niveau de vie moyen dans les environs (carroyage)",
           "€ par an", kind="mean", direction=-1, decimals=0,
           source=f"{_INSEE}, Filosofi 200 m"),
    Column("ratio_niveau_vie", "Niveau de vie moyen : rapport QPV / environs", "",
           kind="ratio", direction=-1, decimals=2, source=f"{_INSEE}, Filosofi 200 m"),
    Column("population_grille", "Population (carroyage)", "habitants", kind="count",
           decimals=0, source=f"{_INSEE}, Filosofi 200 m"),
    Column(r"nom_(site|seveso_haut)_plus_proche", "Nom du site industriel le plus proche",
           kind="text", source="Géorisques (MTECT)", pattern=True,
           description="nom de l'établissement, à côté de son code"),
)


def column_info(column: str, *, extra: Iterable[Column] = ()) -> Column | None:
    """The catalogue entry of ``column`` (``extra`` first, then :data:`COLUMNS`), or None.

    ``extra`` carries the columns of other catalogues, typically every column declared by
    the layers of the exposure registry (``qpvgeo.exposure.column_catalogue()``).

    Examples
    --------
    >>> column_info("taux_pauvrete").label
    'Taux de pauvreté (seuil 60 %)'
    >>> column_info("no_such_column") is None
    True
    """
    for entry in (*extra, *COLUMNS):
        if entry.matches(column):
            return entry
    return None
