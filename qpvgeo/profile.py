"""Socio-economic profile of each QPV, beside its commune and its surroundings.

The 2016 framework of the contrats de ville asks, QPV by QPV, about jobs, income,
poverty and young people. INSEE publishes these per QPV (DEMO, Filosofi, IPRO tables;
SIG Ville in the 2024 geography); :func:`socio_economic_profile` keeps the ones the
millésime's tables carry and puts beside them:

- the **commune** values the tables give: the population of the commune(s) the QPV
  covers and the share of it living in a QPV (INSEE's ``POP_COM`` and ``POP_COM_QP``);
- the **surroundings** values a Filosofi 200 m grid gives, when one is available: the
  share of poor households (``men_pauv / men``) and the mean standard of living
  (``ind_snv / ind``, € per year) inside the QPV and in a ring around it (the QPV of
  the territory cut out), with their ratio QPV / surroundings.

Rates stay in percent, as INSEE publishes them (see :data:`qpvgeo.schema.INDICATOR_UNITS`).

Examples
--------
>>> from qpvgeo.datasets import demo
>>> d = demo()
>>> prof = socio_economic_profile(d.indicators, qpv=d.qpv, grid=d.grid)
>>> float(prof.loc["QN09904M", "taux_pauvrete"])
52.3
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import SchemaError

#: INSEE indicators of the profile, in the order of the report, when the tables carry them.
PROFILE_INDICATORS: tuple[str, ...] = (
    "taux_pauvrete",
    "revenu_disponible_median",
    "revenu_declare_median",
    "taux_emploi",
    "taux_emploi_femmes",
    "demandeurs_emploi",
    "indice_jeunesse",
    "part_moins_25_ans",
    "part_60_ans_plus",
    "part_etrangers",
    "allocataires_caf",
    "taux_logements_sociaux",
)

_GRID_COLUMNS = ("ind", "men", "men_pauv", "ind_snv")
#: The columns :func:`socio_economic_profile` computes from a Filosofi grid.
GRID_PROFILE_COLUMNS: tuple[str, ...] = (
    "part_menages_pauvres_qpv", "part_menages_pauvres_environs", "ratio_menages_pauvres",
    "niveau_vie_moyen_qpv", "niveau_vie_moyen_environs", "ratio_niveau_vie",
)


def rings(
    qpv: gpd.GeoDataFrame, *, ring: float = 500.0, all_qpv: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Return the surroundings of each QPV: a ``ring``-metre band around it, QPV cut out.

    The same surroundings as the exposure profile (:func:`qpvgeo.exposure.surroundings`):
    every QPV of ``all_qpv`` (every QPV of the geography; default ``qpv``) is removed from
    every ring, so the surroundings of a QPV never count a neighbouring QPV — not even
    one outside the territory studied.

    Parameters
    ----------
    qpv : GeoDataFrame
        Canonical QPV (EPSG:2154 or any CRS with metres).
    ring : float, default 500
        Width of the band, in metres.
    all_qpv : GeoDataFrame, optional
        Every QPV of the geography.

    Returns
    -------
    GeoDataFrame
        Indexed like ``qpv``, with ``code_qpv`` and the ring geometry (EPSG:2154).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> r = rings(demo().qpv, ring=500)
    >>> bool((r.area > 0).all())
    True
    """
    from qpvgeo.exposure import surroundings  # the one definition of the surroundings

    schema.require_columns(qpv, [schema.CODE_QPV], what="QPV")
    out = surroundings(qpv, how="ring", ring=ring, qpv=all_qpv)
    out.index = qpv.index
    return out


def _grid_comparison(
    qpv: gpd.GeoDataFrame, grid: pd.DataFrame, *, ring: float,
    all_qpv: gpd.GeoDataFrame | None = None, method: str = "calibrated",
) -> pd.DataFrame:
    from qpvgeo.interpolate import grid_population

    cols = [c for c in _GRID_COLUMNS if c in grid.columns]
    if not {"men", "men_pauv"} <= set(cols) and not {"ind", "ind_snv"} <= set(cols):
        return pd.DataFrame(index=qpv[schema.CODE_QPV])
    zones = qpv[[schema.CODE_QPV, "geometry"]].reset_index(drop=True)
    # The exposure profile's population base: the calibrated estimator with every QPV of
    # the geography as the dense-housing layer, for the QPV and their rings alike.
    every = zones if all_qpv is None else all_qpv
    dense = gpd.GeoDataFrame(geometry=every.geometry.to_crs(schema.CRS).array, crs=schema.CRS)
    kw = {"method": method, "qpv": dense} if method == "calibrated" else {"method": method}
    inside = grid_population(grid, zones, columns=cols, **kw)
    around = grid_population(grid, rings(zones, ring=ring, all_qpv=every), columns=cols, **kw)
    inside.index = around.index = zones[schema.CODE_QPV].to_numpy()
    out = pd.DataFrame(index=inside.index)

    def share(num: pd.Series, den: pd.Series) -> pd.Series:
        return (num / den.where(den > 0)).astype("float64")

    if {"men", "men_pauv"} <= set(cols):
        out["part_menages_pauvres_qpv"] = share(inside["men_pauv"], inside["men"])
        out["part_menages_pauvres_environs"] = share(around["men_pauv"], around["men"])
        out["ratio_menages_pauvres"] = share(
            out["part_menages_pauvres_qpv"], out["part_menages_pauvres_environs"]
        )
    if {"ind", "ind_snv"} <= set(cols):
        out["niveau_vie_moyen_qpv"] = share(inside["ind_snv"], inside["ind"])
        out["niveau_vie_moyen_environs"] = share(around["ind_snv"], around["ind"])
        out["ratio_niveau_vie"] = share(
            out["niveau_vie_moyen_qpv"], out["niveau_vie_moyen_environs"]
        )
    return out


def socio_economic_profile(
    indicators: pd.DataFrame,
    *,
    qpv: gpd.GeoDataFrame | None = None,
    grid: pd.DataFrame | None = None,
    ring: float = 500.0,
    all_qpv: gpd.GeoDataFrame | None = None,
    population_method: str = "calibrated",
) -> pd.DataFrame:
    """Socio-economic indicators of each QPV with its commune and surroundings values.

    Parameters
    ----------
    indicators : DataFrame
        Indexed by ``code_qpv`` (:func:`qpvgeo.readers.read_qpv_indicators`), with the
        canonical aliases (``population``, ``taux_pauvrete``…).
    qpv : GeoDataFrame, optional
        The QPV to profile (their ``code_qpv`` give the rows, in that order; a QPV the
        tables do not cover gets NA). Needed for the grid comparison. Default: every
        row of ``indicators``.
    grid : DataFrame, optional
        A Filosofi 200 m grid (:func:`qpvgeo.readers.grid.read_filosofi_grid`) with
        ``ind``, ``men``, ``men_pauv``, ``ind_snv``; when given, the surroundings
        columns are added (grid shared by cell area, ring of ``ring`` metres).
    ring : float, default 500
        Width of the surroundings ring, in metres.
    all_qpv : GeoDataFrame, optional
        Every QPV of the geography (default ``qpv``): cut out of every ring, and the
        dense-housing layer of the calibrated grid estimator — the surroundings and the
        population base of :func:`qpvgeo.exposure.exposure_profile`.
    population_method : {"calibrated", "area"}, default "calibrated"
        ``method=`` of :func:`qpvgeo.interpolate.grid_population`, as in the exposure
        profile (area weighting hands a ring the dense QPV housing of the cells it shares).

    Returns
    -------
    DataFrame
        Indexed by ``code_qpv``: ``population`` then the :data:`PROFILE_INDICATORS`
        the tables carry (a column that is NA for every QPV is left out), then
        ``population_communes`` / ``part_qpv_communes`` when the tables carry INSEE's
        commune figures, then the grid columns. Labels, units and rounding are in the
        column catalogue (:func:`qpvgeo.schema.column_info`). Secret values stay NA.

    Raises
    ------
    SchemaError
        ``indicators`` is not indexed by ``code_qpv`` or has no ``population``.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> prof = socio_economic_profile(d.indicators, qpv=d.qpv, grid=d.grid)
    >>> bool((prof["ratio_menages_pauvres"] > 1).all())
    True
    """
    if indicators.index.name != schema.CODE_QPV:
        if schema.CODE_QPV in indicators.columns:
            indicators = indicators.set_index(schema.CODE_QPV)
        else:
            raise SchemaError(
                "indicators: expected a frame indexed by code_qpv (read_qpv_indicators); "
                f"index is {indicators.index.name!r}, columns {list(indicators.columns)}"
            )
    schema.require_columns(indicators, [schema.POPULATION], what="QPV indicators")
    codes = (
        pd.Index(qpv[schema.CODE_QPV].astype(str), name=schema.CODE_QPV)
        if qpv is not None
        else pd.Index(indicators.index.astype(str), name=schema.CODE_QPV)
    )
    table = indicators[~indicators.index.duplicated()].reindex(codes)
    keep = [schema.POPULATION] + [
        c for c in PROFILE_INDICATORS if c in table.columns and table[c].notna().any()
    ]
    out = table[keep].apply(pd.to_numeric, errors="coerce")
    if "population_communes" in table.columns and table["population_communes"].notna().any():
        pop_com = pd.to_numeric(table["population_communes"], errors="coerce")
        out["population_communes"] = pop_com
        if "population_qpv_communes" in table.columns:
            pop_com_qp = pd.to_numeric(table["population_qpv_communes"], errors="coerce")
            out["part_qpv_communes"] = (pop_com_qp / pop_com.where(pop_com > 0)).astype(
                "float64"
            )
    if grid is not None and qpv is not None and len(qpv):
        comparison = _grid_comparison(qpv, grid, ring=ring, all_qpv=all_qpv,
                                      method=population_method)
        out = out.join(comparison)
    out.index.name = schema.CODE_QPV
    return out
