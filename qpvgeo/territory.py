"""Territories of a diagnostic: parse ``region:32``, ``epci:200093201``… and select its rows.

A territory is one region, département, EPCI or commune. Selecting it returns the QPV,
the (QPV, commune) membership rows and the commune populations that belong to it, so
that every later step (population shares, profile, exposure, maps) works on the same
set of rows.

Which QPV belong to a territory
-------------------------------
- ``region`` and ``departement``: the QPV whose code carries one of the territory's
  départements (``QN059…`` is in the Nord). The code is official and exact; no geometry
  is involved. The départements of a region are those of its communes in the population
  file, or :data:`qpvgeo.schema.DEPARTEMENTS_BY_REGION` when the file lacks them.
- ``epci`` and ``commune``: the QPV with at least one commune of the territory in the
  membership table (ANCT list, SIG Ville rows, or the spatial overlay of 2015 contours),
  so a QPV that straddles two communes belongs to both.

Examples
--------
>>> from qpvgeo.datasets import demo
>>> d = demo()
>>> sel = select_territory(parse_territory("commune:99002"), qpv=d.qpv,
...                        membership=d.qpv_communes,
...                        commune_population=d.commune_population)
>>> sorted(sel.qpv["code_qpv"])
['QN09902M', 'QN09903M']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError

#: Territory levels, as written on the command line.
LEVELS: tuple[str, ...] = ("region", "departement", "epci", "commune")

_LEVEL_ALIASES = {
    "region": "region", "reg": "region", "région": "region",
    "departement": "departement", "dep": "departement", "département": "departement",
    "epci": "epci", "siren": "epci",
    "commune": "commune", "com": "commune",
}
_LEVEL_NAMES = {"region": "région", "departement": "département", "epci": "EPCI",
                "commune": "commune"}
#: Names of the départements (COG), for pages and legends: a reader sees "Nord", not "59".
DEPARTEMENT_NAMES: dict[str, str] = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

_CODE_PATTERNS = {
    "region": re.compile(r"^\d{2}$"),
    "departement": re.compile(r"^(\d{2}|2[AB]|97\d)$"),
    "epci": re.compile(r"^\d{9}$"),
    "commune": re.compile(r"^(\d{5}|2[AB]\d{3})$"),
}


@dataclass(frozen=True)
class Territory:
    """One territory: ``level`` in :data:`LEVELS` and its INSEE code (SIREN for an EPCI).

    Examples
    --------
    >>> Territory("departement", "59").slug
    'departement-59'
    """

    level: str
    code: str

    @property
    def slug(self) -> str:
        """A name usable in file names: ``region-32``."""
        return f"{self.level}-{self.code}"

    def __str__(self) -> str:
        return f"{self.level}:{self.code}"


def parse_territory(text: str) -> Territory:
    """Parse ``region:32``, ``departement:59``, ``epci:<siren>`` or ``commune:<code>``.

    Parameters
    ----------
    text : str
        ``level:code``; the level may be abbreviated (``dep``, ``com``, ``reg``);
        a département or commune code that lost its leading zero is restored.

    Returns
    -------
    Territory

    Raises
    ------
    DataFormatError
        Unknown level or a code of the wrong shape; the message quotes the text.

    Examples
    --------
    >>> parse_territory("dep:2")
    Territory(level='departement', code='02')
    >>> parse_territory("commune:1053").code
    '01053'
    """
    if not isinstance(text, str) or ":" not in text:
        raise DataFormatError(
            f"territory {text!r}: expected level:code, e.g. region:32, departement:59, "
            "epci:200093201 or commune:59350"
        )
    level_text, code = (part.strip() for part in text.split(":", 1))
    level = _LEVEL_ALIASES.get(level_text.lower())
    if level is None:
        raise DataFormatError(
            f"territory {text!r}: unknown level {level_text!r}; use one of {list(LEVELS)}"
        )
    code = code.upper()
    if level in {"departement", "region"} and code.isdigit() and len(code) == 1:
        code = "0" + code
    if level == "commune" and code.isdigit() and len(code) == 4:
        code = "0" + code
    if not _CODE_PATTERNS[level].match(code):
        raise DataFormatError(f"territory {text!r}: {code!r} is not a valid {level} code")
    return Territory(level, code)


@dataclass(frozen=True)
class TerritorySelection:
    """The rows of one territory.

    Attributes
    ----------
    territory : Territory
    name : str
        The territory's name when the data give it (commune, EPCI, region), else its code.
    qpv : GeoDataFrame
        The territory's QPV (whole QPV, even where one straddles the territory's edge).
    membership : DataFrame
        Every (QPV, commune) row of those QPV, including the communes outside the
        territory of a QPV that straddles its edge (splits need them all).
    commune_population : DataFrame
        The communes of the territory with their population.
    departements : tuple of str
        Départements the territory lies in.
    """

    territory: Territory
    name: str
    qpv: gpd.GeoDataFrame
    membership: pd.DataFrame
    commune_population: pd.DataFrame
    departements: tuple[str, ...]

    @property
    def communes(self) -> list[str]:
        """Commune codes of the territory."""
        return self.commune_population[schema.CODE_COMMUNE].astype(str).tolist()


def territory_communes(
    territory: Territory,
    commune_population: pd.DataFrame,
    *,
    epci: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the rows of ``commune_population`` that lie in ``territory``.

    Parameters
    ----------
    territory : Territory
    commune_population : DataFrame
        Canonical commune populations (``code_commune``, ``population``,
        ``code_departement``, ``code_region``).
    epci : DataFrame, optional
        EPCI membership (``code_commune``, ``code_epci``, ``nom_epci``); required for an
        ``epci`` territory.

    Raises
    ------
    DataFormatError
        The territory has no commune in the data (wrong code, or data of another area).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> territory_communes(Territory("epci", "299000002"), d.commune_population,
    ...                    epci=d.epci)["code_commune"].tolist()
    ['99003', '99004']
    """
    pop = commune_population.copy()
    schema.require_columns(pop, [schema.CODE_COMMUNE], what="commune populations")
    pop[schema.CODE_COMMUNE] = schema.normalise_commune_code(pop[schema.CODE_COMMUNE])
    if schema.CODE_DEPARTEMENT not in pop.columns:
        pop[schema.CODE_DEPARTEMENT] = pop[schema.CODE_COMMUNE].map(
            schema.departement_of_commune
        )
    level, code = territory.level, territory.code
    if level == "commune":
        keep = pop[schema.CODE_COMMUNE] == code
    elif level == "departement":
        keep = pop[schema.CODE_DEPARTEMENT].astype(str) == code
    elif level == "region":
        if schema.CODE_REGION in pop.columns:
            keep = pop[schema.CODE_REGION].astype(str) == code
        else:
            keep = pop[schema.CODE_DEPARTEMENT].isin(schema.DEPARTEMENTS_BY_REGION.get(code, ()))
    else:
        if epci is None:
            raise SchemaError(
                f"territory {territory}: an EPCI membership table (read_epci) is needed"
            )
        schema.require_columns(epci, [schema.CODE_COMMUNE, schema.CODE_EPCI], what="EPCI")
        members = schema.normalise_commune_code(
            epci.loc[epci[schema.CODE_EPCI].astype(str) == code, schema.CODE_COMMUNE]
        )
        keep = pop[schema.CODE_COMMUNE].isin(set(members.dropna()))
    out = pop.loc[keep].reset_index(drop=True)
    if out.empty:
        raise DataFormatError(
            f"territory {territory}: no commune of the population file belongs to it "
            "(check the code and that the data cover this area)"
        )
    return out


def _territory_name(
    territory: Territory, communes: pd.DataFrame, epci: pd.DataFrame | None
) -> str:
    level, code = territory.level, territory.code
    if level == "commune" and schema.NOM_COMMUNE in communes.columns:
        return str(communes[schema.NOM_COMMUNE].iloc[0])
    if level == "epci" and epci is not None and schema.NOM_EPCI in epci.columns:
        names = epci.loc[epci[schema.CODE_EPCI].astype(str) == code, schema.NOM_EPCI].dropna()
        if len(names):
            return str(names.iloc[0])
    if level == "region" and code in schema.REGIONS:
        return schema.REGIONS[code]
    if level == "region" and schema.NOM_REGION in communes.columns:
        return str(communes[schema.NOM_REGION].iloc[0])
    if level == "departement" and code in DEPARTEMENT_NAMES:
        return DEPARTEMENT_NAMES[code]
    return f"{_LEVEL_NAMES[level]} {code}"


def territory_label(level: str, name: str) -> str:
    """How a page names a territory: "Roubaix (commune)", "Nord (département)".

    Examples
    --------
    >>> territory_label("departement", "Nord")
    'Nord (département)'
    """
    return f"{name} ({_LEVEL_NAMES.get(level, level)})"


def select_territory(
    territory: Territory,
    *,
    qpv: gpd.GeoDataFrame,
    membership: pd.DataFrame | None,
    commune_population: pd.DataFrame,
    epci: pd.DataFrame | None = None,
) -> TerritorySelection:
    """Select the QPV, memberships and communes of ``territory``.

    Parameters
    ----------
    territory : Territory
    qpv : GeoDataFrame
        Canonical QPV (``code_qpv``, ``code_commune``, geometry).
    membership : DataFrame or None
        (QPV, commune) rows (``code_qpv``, ``code_commune``); when None, each QPV's main
        ``code_commune`` stands for its membership.
    commune_population : DataFrame
        Canonical commune populations.
    epci : DataFrame, optional
        EPCI membership, needed for an ``epci`` territory.

    Returns
    -------
    TerritorySelection

    Raises
    ------
    DataFormatError
        No commune of the data lies in the territory.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> sel = select_territory(parse_territory("region:99"), qpv=d.qpv,
    ...                        membership=d.qpv_communes,
    ...                        commune_population=d.commune_population)
    >>> len(sel.qpv), sel.departements
    (4, ('99',))
    """
    schema.require_columns(qpv, [schema.CODE_QPV], what="QPV")
    communes = territory_communes(territory, commune_population, epci=epci)
    codes = set(communes[schema.CODE_COMMUNE])
    if membership is None:
        schema.require_columns(qpv, [schema.CODE_COMMUNE], what="QPV (no membership table)")
        membership = qpv[[schema.CODE_QPV, schema.CODE_COMMUNE]].dropna()
    schema.require_columns(membership, [schema.CODE_QPV, schema.CODE_COMMUNE], what="membership")
    members = pd.DataFrame(membership).copy()
    members[schema.CODE_COMMUNE] = schema.normalise_commune_code(members[schema.CODE_COMMUNE])

    if territory.level in {"region", "departement"}:
        deps = (
            (territory.code,)
            if territory.level == "departement"
            else tuple(sorted(set(communes[schema.CODE_DEPARTEMENT].dropna().astype(str))))
        )
        qpv_deps = qpv[schema.CODE_QPV].astype(str).map(schema.departement_of_qpv)
        in_territory = qpv_deps.isin(deps)
    else:
        wanted = set(members.loc[members[schema.CODE_COMMUNE].isin(codes), schema.CODE_QPV])
        in_territory = qpv[schema.CODE_QPV].isin(wanted)
        deps = tuple(sorted(set(communes[schema.CODE_DEPARTEMENT].dropna().astype(str))))
    selected = qpv.loc[in_territory].sort_values(schema.CODE_QPV).reset_index(drop=True)
    kept = members[members[schema.CODE_QPV].isin(set(selected[schema.CODE_QPV]))].reset_index(
        drop=True
    )
    return TerritorySelection(
        territory=territory,
        name=_territory_name(territory, communes, epci),
        qpv=selected,
        membership=kept,
        commune_population=communes,
        departements=deps,
    )
