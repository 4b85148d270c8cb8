"""Reference values a diagnostic compares its territory with: metropolitan France, the
territory's parents, and its rank among its peers (regions, départements, communes).

Every figure comes from :func:`qpvgeo.population.population_shares` on the whole data
set the diagnostic read (the same QPV, populations and rules as the territory's own
figures). A reference is given only when the data cover it: the metropolitan share and
the ranks need the national QPV files (every metropolitan region holds QPV with a known
population); a regional extract (the Occitanie Hackaviz files) gives none, and says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, QpvgeoWarning

#: Metropolitan regions (2016 map): a reference set is national only if it holds them all.
_N_METRO_REGIONS = 13
#: Share of the metropolitan QPV whose population must be known for a national reference.
#: SIG Ville's 2024 file leaves about 6 % of the QPV without a population (secret or not
#: yet published): the reference then says how many it counts; far fewer known means an
#: extract, not France.
_MIN_KNOWN = 0.90


@dataclass
class References:
    """Reference shares of the population living in a QPV (fractions 0–1).

    Attributes
    ----------
    france : float or None
        France métropolitaine.
    france_known : float or None
        Share of the metropolitan QPV whose population is known (and counted).
    parents : list of (str, float)
        (name, share) of the territory's département(s) and région, when it is smaller.
    rank, n_peers : int or None
        The territory's rank (1 = highest share) among ``peers``.
    peers : str
        "régions métropolitaines", "départements métropolitains", "communes du
        département ayant un QPV"…
    note : str
        Why a reference is missing ("" when all are given).
    """

    france: float | None = None
    france_known: float | None = None
    parents: list[tuple[str, float]] = field(default_factory=list)
    rank: int | None = None
    n_peers: int | None = None
    peers: str = ""
    note: str = ""


def _per_qpv(qpv: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    pop = pd.to_numeric(indicators[schema.POPULATION], errors="coerce")
    pop = pop[~pop.index.duplicated()]
    codes = qpv[schema.CODE_QPV].astype(str)
    deps = (qpv[schema.CODE_DEPARTEMENT].astype("string") if schema.CODE_DEPARTEMENT in qpv
            else codes.map(schema.departement_of_qpv))
    return pd.DataFrame({schema.CODE_QPV: codes.to_numpy(),
                         schema.CODE_DEPARTEMENT: deps.to_numpy(),
                         schema.POPULATION_QPV: codes.map(pop).to_numpy()})


def _shares(per_qpv: pd.DataFrame, population: pd.DataFrame, level: str) -> pd.DataFrame:
    from qpvgeo.population import population_shares

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        return population_shares(per_qpv.dropna(subset=[schema.POPULATION_QPV]), population,
                                 level=level, metropolitan_only=True, on_missing="warn")


def territory_references(
    qpv: pd.DataFrame,
    indicators: pd.DataFrame,
    commune_population: pd.DataFrame,
    *,
    level: str,
    code: str,
    departements: tuple[str, ...] = (),
    commune_shares: pd.DataFrame | None = None,
) -> References:
    """The references of one territory (see the module docstring).

    Parameters
    ----------
    qpv, indicators, commune_population : frames
        Every QPV, indicator and commune population the diagnostic read (not only the
        territory's).
    level, code : str
        The territory (``"region"``, ``"32"``).
    departements : tuple of str
        Its départements.
    commune_shares : DataFrame, optional
        :func:`qpvgeo.population.population_shares` by commune of the territory's
        département (to rank a commune).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> r = territory_references(d.qpv, d.indicators, d.commune_population,
    ...                          level="region", code="99")
    >>> r.france is None, r.note[:30]
    (True, 'pas de référence nationale : l')
    """
    ref = References()
    per = _per_qpv(qpv, indicators)
    metro = per[~per[schema.CODE_DEPARTEMENT].astype(str).str.startswith("97")
                & per[schema.CODE_DEPARTEMENT].notna()]
    known = float(metro[schema.POPULATION_QPV].notna().mean()) if len(metro) else 0.0
    try:
        regions = _shares(per, commune_population, "region")
    except QpvgeoError as exc:
        ref.note = f"pas de référence nationale ({exc})"
        return ref
    national = len(regions) >= _N_METRO_REGIONS and known >= _MIN_KNOWN
    if national:
        france = _shares(per, commune_population, "france")
        ref.france = float(france[schema.PART_QPV].iloc[0])
        ref.france_known = known
    else:
        ref.note = ("pas de référence nationale : les données lues ne couvrent pas toute la "
                    "France métropolitaine")
    deps = _shares(per, commune_population, "departement") if departements else None
    if level == "region":
        if national:
            ref.rank, ref.n_peers = _rank(regions, code)
            ref.peers = "régions métropolitaines"
        return ref
    names = _names(regions, deps)
    if deps is not None:
        for d in departements:
            if d in deps.index:
                ref.parents.append((names.get(("dep", d), f"département {d}"),
                                    float(deps.loc[d, schema.PART_QPV])))
    if level == "departement" and national and deps is not None:
        ref.rank, ref.n_peers = _rank(deps, code)
        ref.peers = "départements métropolitains"
    region = _region_of(commune_population, departements)
    if region is not None and region in regions.index:
        ref.parents.append((names.get(("reg", region), f"région {region}"),
                            float(regions.loc[region, schema.PART_QPV])))
    if level == "commune" and commune_shares is not None and code in commune_shares.index:
        with_qpv = commune_shares[pd.to_numeric(commune_shares[schema.N_QPV]) > 0]
        ref.rank, ref.n_peers = _rank(with_qpv, code)
        ref.peers = "communes du département ayant un QPV"
    return ref


def _rank(table: pd.DataFrame, code: str) -> tuple[int | None, int | None]:
    shares = pd.to_numeric(table[schema.PART_QPV], errors="coerce").dropna()
    if code not in shares.index:
        return None, None
    return int((shares > shares[code]).sum()) + 1, int(len(shares))


def _names(regions: pd.DataFrame, deps: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for table, col, kind in ((regions, "nom_region", "reg"), (deps, "nom_departement", "dep")):
        if table is not None and col in table:
            out.update({(kind, str(k)): str(v) for k, v in table[col].dropna().items()})
    from qpvgeo.territory import DEPARTEMENT_NAMES

    if deps is not None:
        for code in deps.index:
            out.setdefault(("dep", str(code)), DEPARTEMENT_NAMES.get(str(code), ""))
    return {k: v for k, v in out.items() if v}


def _region_of(population: pd.DataFrame, departements: tuple[str, ...]) -> str | None:
    if schema.CODE_REGION not in population or schema.CODE_DEPARTEMENT not in population:
        return None
    rows = population[population[schema.CODE_DEPARTEMENT].astype(str).isin(departements)]
    regions = rows[schema.CODE_REGION].dropna().astype(str).unique()
    return str(regions[0]) if len(regions) == 1 else None
