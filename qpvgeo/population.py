"""QPV population by commune, and the share of each territory's population living in a QPV.

Two steps, two pure functions:

1. :func:`qpv_population_by_commune` gives each QPV's population to the commune(s)
   it lies in: whole to its commune when it lies in one, split by area when it spans
   several (only among the communes it is known to cover when a membership table is
   given). The parts of a QPV add up to its population.
2. :func:`population_shares` sums those parts by commune, EPCI, département, region or
   France and divides by the populations légales of the same territories.

:func:`count_qpv` counts QPV per territory.

Territories
-----------
``commune`` (``code_commune``), ``epci`` (``code_epci``, needs the DGCL membership table
from :func:`qpvgeo.readers.read_epci`), ``departement`` (``code_departement``, taken from
the commune code), ``region`` (``code_region``, 2016 regions), ``france`` (one row,
``"FR"``: metropolitan France plus the overseas départements present in the inputs;
pass ``metropolitan_only=True`` for metropolitan France only, row ``"FRMETRO"``).
Both sides must use the same commune codes: bring them to one COG geography first with
:func:`qpvgeo.cog.harmonise_communes`.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, DuplicateCodeError, SchemaError
from qpvgeo.errors import QpvgeoWarning as QpvgeoWarning

__all__ = ["ESTIMATION", "LEVELS", "METHODES", "count_qpv", "population_shares",
           "qpv_population_by_commune"]

#: Territory levels of :func:`population_shares` and :func:`count_qpv`.
LEVELS: tuple[str, ...] = ("commune", "epci", "departement", "region", "france")

#: Values of the ``methode`` column of :func:`qpv_population_by_commune`.
METHODES: dict[str, str] = {
    "commune_unique": "the QPV lies in one commune, which gets its whole population",
    "aire": (
        "the QPV spans several communes; split by the area of the QPV in each (an "
        "estimate: it assumes the inhabitants evenly spread over the QPV)"
    ),
    "aire_hors_liste": (
        "the QPV does not overlap the communes it is listed in (codes of another COG "
        "year?): split by area among the communes it does overlap"
    ),
    "commune_principale": (
        "no usable overlap: the whole population goes to the QPV's main commune"
    ),
    "non_localise": "no commune could be found: code_commune is NA",
}

AREA_SHARE = "part_aire"
#: Boolean column: the population of the row is an estimate (area split or fallback),
#: not a figure published for that commune or territory.
ESTIMATION = "estimation"
#: Methods whose result is an estimate (see :data:`METHODES`).
ESTIMATED_METHODES = frozenset({"aire", "aire_hors_liste", "commune_principale"})
#: Tolerance above 1 for a share (floating-point rounding of the split parts).
_SHARE_TOLERANCE = 1e-9
_INDEX_NAMES = {
    "commune": schema.CODE_COMMUNE,
    "epci": schema.CODE_EPCI,
    "departement": schema.CODE_DEPARTEMENT,
    "region": schema.CODE_REGION,
    "france": "code_france",
}


# -- helpers ------------------------------------------------------------------------
def _examples(values, n: int = 8) -> str:
    values = list(dict.fromkeys(str(v) for v in values))
    more = f" … ({len(values)} in all)" if len(values) > n else ""
    return ", ".join(values[:n]) + more


def _qpv_population(indicators: pd.DataFrame, column: str) -> pd.Series:
    """One population per QPV, from an indicator frame indexed (or keyed) by code_qpv."""
    if schema.CODE_QPV in indicators.columns:
        frame = indicators.set_index(schema.CODE_QPV)
    elif indicators.index.name == schema.CODE_QPV:
        frame = indicators
    else:
        raise SchemaError(
            "indicators: expected an index or a column named 'code_qpv' "
            f"(read_qpv_indicators output); columns present: {list(indicators.columns)}"
        )
    schema.require_columns(frame, [column], what="indicators")
    pop = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    pop.index = pop.index.astype("string").str.strip().str.upper()
    dup = pop.index.duplicated(keep=False)
    if dup.any():
        # SIG Ville repeats a multi-commune QPV's figures on each of its rows: the
        # same value is harmless, different values are not.
        spread = pop[dup].groupby(level=0).nunique(dropna=False)
        conflict = spread[spread > 1].index
        if len(conflict):
            raise DuplicateCodeError(
                f"indicators: QPV with several different '{column}' values: "
                f"{_examples(conflict)}"
            )
        pop = pop[~pop.index.duplicated(keep="first")]
    return pop


def _membership_pairs(membership: pd.DataFrame) -> pd.DataFrame:
    schema.require_columns(membership, [schema.CODE_QPV, schema.CODE_COMMUNE],
                           what="membership (read_qpv_communes output)")
    pairs = membership[[schema.CODE_QPV, schema.CODE_COMMUNE]].copy()
    pairs[schema.CODE_QPV] = pairs[schema.CODE_QPV].astype("string").str.strip().str.upper()
    pairs[schema.CODE_COMMUNE] = schema.normalise_commune_code(pairs[schema.CODE_COMMUNE])
    return pairs.dropna().drop_duplicates().reset_index(drop=True)


def _overlaps(qpv: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area of every (QPV, commune) intersection, in m², with the QPV's area."""
    q = schema.to_canonical_crs(qpv[[schema.CODE_QPV, qpv.geometry.name]], what="qpv")
    c = schema.to_canonical_crs(
        communes[[schema.CODE_COMMUNE, communes.geometry.name]], what="communes"
    )
    qg = q.geometry.values
    cg = c.geometry.values
    # invalid rings would make the intersections fail or lie; repair without a copy
    # of the caller's frame being modified.
    if not shapely.is_valid(np.asarray(qg)).all():
        qg = gpd.array.from_shapely(shapely.make_valid(np.asarray(qg)), crs=q.crs)
    if not shapely.is_valid(np.asarray(cg)).all():
        cg = gpd.array.from_shapely(shapely.make_valid(np.asarray(cg)), crs=c.crs)
    tree = shapely.STRtree(np.asarray(cg))
    left, right = tree.query(np.asarray(qg), predicate="intersects")
    area = shapely.area(shapely.intersection(np.asarray(qg)[left], np.asarray(cg)[right]))
    out = pd.DataFrame({
        schema.CODE_QPV: q[schema.CODE_QPV].to_numpy()[left],
        schema.CODE_COMMUNE: c[schema.CODE_COMMUNE].to_numpy()[right],
        "aire": area,
        "aire_qpv": shapely.area(np.asarray(qg))[left],
    })
    out = out.groupby([schema.CODE_QPV, schema.CODE_COMMUNE], as_index=False).agg(
        aire=("aire", "sum"), aire_qpv=("aire_qpv", "first")
    )
    return out[out["aire"] > 0]


def _normalised(pairs: pd.DataFrame) -> pd.Series:
    total = pairs.groupby(schema.CODE_QPV)["aire"].transform("sum")
    return pairs["aire"] / total


# -- QPV population by commune --------------------------------------------------------
def qpv_population_by_commune(
    qpv: gpd.GeoDataFrame,
    indicators: pd.DataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    membership: pd.DataFrame | None = None,
    population_column: str = schema.POPULATION,
    min_area_share: float = 0.01,
) -> pd.DataFrame:
    """Give each QPV's population to the commune(s) it lies in.

    A QPV in one commune goes to it whole (``methode="commune_unique"``); a QPV over
    several communes is split in proportion to the area of the QPV in each
    (``methode="aire"``). With ``membership``, a QPV is split only among the communes
    it is known to cover (the list decides which communes, the areas decide how much);
    without it, among the communes it overlaps by at least ``min_area_share`` of its
    area (simplified commune outlines leave slivers along borders). The shares of a
    QPV are renormalised, so its parts add up to its population (up to floating-point
    rounding, 1e-9).

    Parameters
    ----------
    qpv
        :func:`qpvgeo.readers.read_qpv` output (``code_qpv``, ``code_commune``: main
        commune, geometry). Its QPV are the ones distributed.
    indicators
        :func:`qpvgeo.readers.read_qpv_indicators` output (indexed by ``code_qpv``)
        with a population column; rows repeated per commune must agree.
    communes
        Commune boundaries (:func:`qpvgeo.readers.read_communes`), in the same COG
        as ``membership``. Without them each QPV goes whole to its only known
        commune, and a QPV known to span several communes is an error.
    membership
        :func:`qpvgeo.readers.read_qpv_communes` output: the communes each QPV covers
        (ANCT 2024 list, SIG Ville rows, CGET ``COMMUNE_QP`` names).
    population_column
        Column of ``indicators`` holding the QPV population.
    min_area_share
        Without ``membership``: overlaps smaller than this share of the QPV's area
        are ignored (0.01 = 1 %).

    Returns
    -------
    pandas.DataFrame
        One row per (QPV, commune): ``code_qpv``, ``code_commune``,
        ``population_qpv`` (float; NA if the QPV's population is NA), ``part_aire``
        (share of the QPV given to the commune, 0-1; a listed commune the QPV does
        not overlap gets 0), ``methode`` (see :data:`METHODES`) and ``estimation``
        (True for an area split or a fallback: an estimate, not a published figure).
        ``.attrs`` carry the source and year of ``indicators``.

    Raises
    ------
    SchemaError
        Missing columns, or QPV known to span several communes (by ``membership`` or
        by the QPV file's own list of communes, ``codes_communes`` /
        ``noms_communes``) but no ``communes`` to split them.
    DuplicateCodeError
        A QPV with two different populations in ``indicators``.

    Warns
    -----
    QpvgeoWarning
        QPV without population, listed communes absent from ``communes`` (codes of
        another COG year), and every QPV placed by a fallback method.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> communes = gpd.GeoDataFrame({"code_commune": ["59350", "59360"]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=2154)
    >>> qpv = gpd.GeoDataFrame({"code_qpv": ["QN05972M"], "code_commune": ["59350"]},
    ...     geometry=[box(50, 0, 200, 100)], crs=2154)
    >>> ind = pd.DataFrame({"population": [3000]}, index=pd.Index(["QN05972M"], name="code_qpv"))
    >>> qpv_population_by_commune(qpv, ind, communes)[["code_commune", "population_qpv", "methode"]]
      code_commune  population_qpv methode
    0        59350          1000.0    aire
    1        59360          2000.0    aire
    """
    schema.require_columns(qpv, [schema.CODE_QPV], what="qpv")
    if not 0 <= min_area_share < 1:
        raise DataFormatError(f"min_area_share must be in [0, 1), got {min_area_share!r}")
    codes = qpv[schema.CODE_QPV].astype("string").str.strip().str.upper()
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise DuplicateCodeError(f"qpv: code_qpv repeated: {_examples(dup)}")
    main = (
        schema.normalise_commune_code(qpv[schema.CODE_COMMUNE])
        if schema.CODE_COMMUNE in qpv.columns
        else pd.Series(pd.NA, index=qpv.index, dtype="string")
    )
    main = pd.Series(main.to_numpy(), index=codes.to_numpy())
    pop = _qpv_population(indicators, population_column).reindex(codes.to_numpy())

    known = _membership_pairs(membership) if membership is not None else None
    if known is not None:
        known = known[known[schema.CODE_QPV].isin(set(codes))]
    n_known = (known.groupby(schema.CODE_QPV).size() if known is not None
               else pd.Series(dtype="int64"))
    rows: list[pd.DataFrame] = []
    fallback: dict[str, list[str]] = {}

    single = n_known.index[n_known == 1]
    if len(single):
        part = known[known[schema.CODE_QPV].isin(set(single))].copy()
        part[AREA_SHARE] = 1.0
        part[schema.METHODE] = "commune_unique"
        rows.append(part)
    multi = n_known.index[n_known > 1]
    unlisted = [c for c in codes if c not in n_known.index]

    if communes is None:
        if len(multi):
            raise SchemaError(
                f"communes: boundaries are needed to split the {len(multi)} QPV known to "
                f"span several communes ({_examples(multi)}); pass communes="
            )
        if unlisted:
            spanning = _spanning_communes(qpv, codes, unlisted)
            if spanning:
                shown = "; ".join(f"{q} ({', '.join(c)})" for q, c in list(spanning.items())[:5])
                raise SchemaError(
                    f"{len(spanning)} QPV span several communes according to the QPV file: "
                    f"{shown}{' …' if len(spanning) > 5 else ''}. Putting each whole in one "
                    "commune would overstate its share; pass communes= (boundaries, "
                    "qpvgeo.readers.read_communes; `qpvgeo shares --communes FILE`) to split "
                    "them by area, with membership= (read_qpv_communes) if you have the list"
                )
            part = pd.DataFrame({schema.CODE_QPV: unlisted,
                                 schema.CODE_COMMUNE: main.reindex(unlisted).to_numpy()})
            part[AREA_SHARE] = 1.0
            part[schema.METHODE] = np.where(part[schema.CODE_COMMUNE].isna(),
                                            "non_localise", "commune_principale")
            fallback.setdefault("commune_principale (no commune boundaries given)", []).extend(
                unlisted
            )
            rows.append(part)
    else:
        schema.require_columns(communes, [schema.CODE_COMMUNE], what="communes")
        communes = communes.assign(
            **{schema.CODE_COMMUNE: schema.normalise_commune_code(communes[schema.CODE_COMMUNE])}
        )
        need = set(multi) | set(unlisted)
        qsub = qpv.assign(**{schema.CODE_QPV: codes.to_numpy()})
        qsub = qsub[qsub[schema.CODE_QPV].isin(need)]
        over = _overlaps(qsub, communes) if len(qsub) else pd.DataFrame(
            columns=[schema.CODE_QPV, schema.CODE_COMMUNE, "aire", "aire_qpv"]
        )
        if len(multi):
            listed = known[known[schema.CODE_QPV].isin(set(multi))]
            absent = sorted(set(listed[schema.CODE_COMMUNE]) - set(communes[schema.CODE_COMMUNE]))
            if absent:
                warnings.warn(
                    f"qpv_population_by_commune: {len(absent)} commune code(s) of the "
                    f"membership table are not in communes: {_examples(absent)}; bring both "
                    "to one COG geography with qpvgeo.cog.harmonise_communes",
                    QpvgeoWarning, stacklevel=2,
                )
            split = listed.merge(over, on=[schema.CODE_QPV, schema.CODE_COMMUNE], how="left")
            split["aire"] = split["aire"].fillna(0.0)
            total = split.groupby(schema.CODE_QPV)["aire"].transform("sum")
            ok = total > 0
            part = split[ok].copy()
            part[AREA_SHARE] = part["aire"] / total[ok]
            part[schema.METHODE] = "aire"
            rows.append(part)
            # listed communes that the QPV does not overlap: codes of another year?
            unlisted += list(dict.fromkeys(split.loc[~ok, schema.CODE_QPV]))
            lost = list(dict.fromkeys(split.loc[~ok, schema.CODE_QPV]))
        else:
            lost = []
        if unlisted:
            cand = over[over[schema.CODE_QPV].isin(set(unlisted))].copy()
            cand = cand[cand["aire"] >= min_area_share * cand["aire_qpv"]]
            cand[AREA_SHARE] = _normalised(cand)
            n = cand.groupby(schema.CODE_QPV)[schema.CODE_COMMUNE].transform("size")
            cand[schema.METHODE] = np.where(n > 1, "aire", "commune_unique")
            cand.loc[cand[schema.CODE_QPV].isin(set(lost)), schema.METHODE] = "aire_hors_liste"
            if lost:
                fallback.setdefault(
                    "aire_hors_liste (the QPV overlaps none of its listed communes)", []
                ).extend(sorted(set(lost) & set(cand[schema.CODE_QPV])))
            rows.append(cand)
            nowhere = [c for c in unlisted if c not in set(cand[schema.CODE_QPV])]
            if nowhere:
                part = pd.DataFrame({schema.CODE_QPV: nowhere,
                                     schema.CODE_COMMUNE: main.reindex(nowhere).to_numpy()})
                part[AREA_SHARE] = 1.0
                part[schema.METHODE] = np.where(part[schema.CODE_COMMUNE].isna(),
                                                "non_localise", "commune_principale")
                fallback.setdefault(
                    "commune_principale or non_localise (the QPV overlaps no commune given)", []
                ).extend(nowhere)
                rows.append(part)

    cols = [schema.CODE_QPV, schema.CODE_COMMUNE, AREA_SHARE, schema.METHODE]
    out = pd.concat([r[cols] for r in rows if len(r)], ignore_index=True) if rows else \
        pd.DataFrame(columns=cols)
    out[schema.CODE_QPV] = out[schema.CODE_QPV].astype("string")
    out[schema.CODE_COMMUNE] = out[schema.CODE_COMMUNE].astype("string")
    out[AREA_SHARE] = out[AREA_SHARE].astype("float64")
    out[schema.POPULATION_QPV] = out[schema.CODE_QPV].map(pop).astype("float64") * out[AREA_SHARE]
    out[schema.METHODE] = out[schema.METHODE].astype("string")
    out[ESTIMATION] = out[schema.METHODE].isin(ESTIMATED_METHODES).astype("bool")
    out = out[[schema.CODE_QPV, schema.CODE_COMMUNE, schema.POPULATION_QPV, AREA_SHARE,
               schema.METHODE, ESTIMATION]]
    out = out.sort_values([schema.CODE_QPV, schema.CODE_COMMUNE]).reset_index(drop=True)
    out.attrs["annee_source"] = indicators.attrs.get("annee_source")
    out.attrs["source"] = indicators.attrs.get("source")

    for why, which in fallback.items():
        if which:
            warnings.warn(
                f"qpv_population_by_commune: {len(set(which))} QPV placed by {why}: "
                f"{_examples(which)}", QpvgeoWarning, stacklevel=2,
            )
    no_pop = pop.index[pop.isna()]
    if len(no_pop):
        warnings.warn(
            f"qpv_population_by_commune: {len(no_pop)} QPV without a population in "
            f"indicators['{population_column}'] (population_qpv is NA): {_examples(no_pop)}",
            QpvgeoWarning, stacklevel=2,
        )
    return out


def _spanning_communes(qpv: pd.DataFrame, codes: pd.Series, which) -> dict[str, list[str]]:
    """QPV of ``which`` whose own file lists two or more communes (codes or names)."""
    out: dict[str, list[str]] = {}
    for column in ("codes_communes", "noms_communes"):
        if column not in qpv.columns:
            continue
        lists = pd.Series(qpv[column].to_numpy(), index=codes.to_numpy()).reindex(list(which))
        for code, text in lists.dropna().items():
            items = sorted({c.strip() for c in str(text).split(",") if c.strip()})
            if len(items) > 1 and len(items) > len(out.get(str(code), ())):
                out[str(code)] = items
    return out


# -- territories ----------------------------------------------------------------------
def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise DataFormatError(f"level must be one of {list(LEVELS)}, got {level!r}")


def _one_code(value) -> str | None:
    """One commune code as :func:`qpvgeo.schema.normalise_commune_code` writes it."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    code = str(value).strip().upper()
    if code.endswith(".0"):
        code = code[:-2]
    return "0" + code if len(code) == 4 and code.isdigit() else code


def _commune_codes(values: pd.Series) -> pd.Series:
    # plain Python over the values: pandas' string methods are ten times slower on
    # the 35,000 communes of France, and this runs several times per call
    return pd.Series([_one_code(v) for v in values.to_numpy(dtype=object)],
                     index=values.index, dtype="string")


def _departement(frame: pd.DataFrame) -> pd.Series:
    """Département of each row: from its commune code, else ``code_departement``, else
    the QPV code."""
    n = len(frame)
    com = (frame[schema.CODE_COMMUNE].to_numpy(dtype=object)
           if schema.CODE_COMMUNE in frame.columns else [None] * n)
    dep = (frame[schema.CODE_DEPARTEMENT].to_numpy(dtype=object)
           if schema.CODE_DEPARTEMENT in frame.columns else [None] * n)
    qpv = (frame[schema.CODE_QPV].to_numpy(dtype=object)
           if schema.CODE_QPV in frame.columns else [None] * n)
    out = []
    for c, d, q in zip(com, dep, qpv, strict=True):
        c = _one_code(c)
        if c is not None and len(c) == 5:
            out.append(c[:3] if c.startswith("97") else c[:2])
        elif d is not None and d is not pd.NA and d == d:
            out.append(str(d))
        elif isinstance(q, str):
            out.append(schema.departement_of_qpv(q))
        else:
            out.append(None)
    return pd.Series(out, index=frame.index, dtype="string")


def _region(frame: pd.DataFrame) -> pd.Series:
    reg = _departement(frame).map(schema.REGION_OF_DEPARTEMENT, na_action="ignore")
    if schema.CODE_REGION in frame.columns:
        reg = reg.where(reg.notna(), frame[schema.CODE_REGION])
    return reg.astype("string")


def _territory(frame: pd.DataFrame, level: str, *, epci: pd.DataFrame | None,
               metropolitan_only: bool, what: str) -> pd.Series:
    if level == "commune":
        schema.require_columns(frame, [schema.CODE_COMMUNE], what=what)
        key = _commune_codes(frame[schema.CODE_COMMUNE])
    elif level == "epci":
        if epci is None:
            raise SchemaError("level='epci' needs epci= (qpvgeo.readers.read_epci output)")
        schema.require_columns(frame, [schema.CODE_COMMUNE], what=what)
        schema.require_columns(epci, [schema.CODE_COMMUNE, schema.CODE_EPCI], what="epci")
        table = epci.assign(
            **{schema.CODE_COMMUNE: schema.normalise_commune_code(epci[schema.CODE_COMMUNE])}
        )
        dup = table[schema.CODE_COMMUNE].duplicated(keep=False)
        if dup.any():
            raise DuplicateCodeError(
                f"epci: communes in several EPCI: {_examples(table.loc[dup, schema.CODE_COMMUNE])}"
            )
        lookup = table.set_index(schema.CODE_COMMUNE)[schema.CODE_EPCI].astype("string")
        key = _commune_codes(frame[schema.CODE_COMMUNE]).map(lookup)
    elif level == "departement":
        key = _departement(frame)
    elif level == "region":
        key = _region(frame)
    else:
        key = pd.Series("FRMETRO" if metropolitan_only else "FR", index=frame.index,
                        dtype="string")
    if metropolitan_only:
        key = key.where(_region(frame).isin(schema.METROPOLITAN_REGIONS))
    return key.astype("string")


def _metropolitan(frame: pd.DataFrame) -> pd.Series:
    return _region(frame).isin(schema.METROPOLITAN_REGIONS).fillna(False).astype(bool)


def _names(level: str, commune_population: pd.DataFrame, epci: pd.DataFrame | None):
    if level == "commune" and schema.NOM_COMMUNE in commune_population.columns:
        codes = schema.normalise_commune_code(commune_population[schema.CODE_COMMUNE])
        return pd.Series(commune_population[schema.NOM_COMMUNE].to_numpy(),
                         index=codes.to_numpy()), schema.NOM_COMMUNE
    if level == "epci" and epci is not None and schema.NOM_EPCI in epci.columns:
        table = epci.drop_duplicates(schema.CODE_EPCI)
        return pd.Series(table[schema.NOM_EPCI].to_numpy(),
                         index=table[schema.CODE_EPCI].astype("string").to_numpy()), schema.NOM_EPCI
    if level == "region":
        names = pd.Series(schema.REGIONS)
        if {schema.CODE_REGION, schema.NOM_REGION} <= set(commune_population.columns):
            # The population file's own names fill the regions the table does not know.
            given = commune_population.drop_duplicates(schema.CODE_REGION)
            given = pd.Series(given[schema.NOM_REGION].to_numpy(),
                              index=given[schema.CODE_REGION].astype(str).to_numpy())
            names = names.combine_first(given.dropna())
        return names, schema.NOM_REGION
    if level == "france":
        return pd.Series({"FR": "France", "FRMETRO": "France métropolitaine"}), "nom"
    return None, None


def population_shares(
    qpv_by_commune: pd.DataFrame,
    commune_population: pd.DataFrame,
    *,
    level: str = "commune",
    epci: pd.DataFrame | None = None,
    metropolitan_only: bool = False,
    on_missing: str = "raise",
) -> pd.DataFrame:
    """Share of each territory's population that lives in a QPV.

    Parameters
    ----------
    qpv_by_commune
        :func:`qpv_population_by_commune` output (``code_qpv``, ``code_commune``,
        ``population_qpv``). For ``departement``, ``region`` and ``france`` a frame
        with one row per QPV and no ``code_commune`` also works: the territory then
        comes from ``code_departement`` or, failing that, from the QPV code.
    commune_population
        :func:`qpvgeo.readers.read_commune_population` output (``code_commune``,
        ``population``), in the same COG geography as ``qpv_by_commune``.
    level
        ``"commune"``, ``"epci"``, ``"departement"``, ``"region"`` or ``"france"``.
    epci
        :func:`qpvgeo.readers.read_epci` output (needed for ``level="epci"``).
    metropolitan_only
        Keep metropolitan France only (both sides); ``level="france"`` then gives the
        row ``"FRMETRO"``. Default: every territory present (``"FR"`` = metropolitan
        France plus the overseas départements present in the inputs).
    on_missing
        What to do with QPV parts whose territory is absent from
        ``commune_population`` (commune codes of another COG year, or a territory the
        population file does not cover): ``"raise"`` (default) or ``"warn"`` (left out
        of the numerator, with a warning naming them).

    Returns
    -------
    pandas.DataFrame
        Indexed by the territory code (``code_commune``, ``code_epci``,
        ``code_departement``, ``code_region`` or ``code_france``), with the
        territory's name where known, ``population``, ``population_qpv``, ``part_qpv``
        (0-1) and ``n_qpv`` (distinct QPV touching the territory), sorted by
        ``part_qpv`` descending. Territories without QPV have 0. A territory one of
        whose communes has no population gets NA (population and share), never a share
        over a smaller denominator. With :func:`qpv_population_by_commune` output,
        ``estimation`` is True where part of the QPV population was split by area (an
        estimate). ``.attrs["millesimes"]`` records the source file and year of the
        numerator (``population_qpv``) and of the denominator (``population``).

    Raises
    ------
    DataFormatError
        Territory codes of the QPV side absent from ``commune_population`` (with
        ``on_missing="raise"``; the message names them); a share above 1 (the message
        names the territory and its QPV); negative populations.

    Warns
    -----
    QpvgeoWarning
        Communes without a population (their territories are NA); numerator and
        denominator of different years.
    DuplicateCodeError
        A commune twice in ``commune_population``.

    Examples
    --------
    >>> import pandas as pd
    >>> parts = pd.DataFrame({"code_qpv": ["QN05972M", "QN05972M", "QN05901M"],
    ...     "code_commune": ["59350", "59360", "59350"],
    ...     "population_qpv": [1000.0, 2000.0, 1000.0]})
    >>> pop = pd.DataFrame({"code_commune": ["59350", "59360", "59009"],
    ...                     "population": [20000, 10000, 5000]})
    >>> population_shares(parts, pop)[["population_qpv", "part_qpv", "n_qpv"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                  population_qpv  part_qpv  n_qpv
    code_commune
    59360                 2000.0       0.2      1
    59350                 2000.0       0.1      2
    59009                    0.0       0.0      0
    """
    _check_level(level)
    if on_missing not in ("raise", "warn"):
        raise DataFormatError(f"on_missing must be 'raise' or 'warn', got {on_missing!r}")
    schema.require_columns(qpv_by_commune, [schema.CODE_QPV, schema.POPULATION_QPV],
                           what="qpv_by_commune")
    schema.require_columns(commune_population, [schema.CODE_COMMUNE, schema.POPULATION],
                           what="commune_population")
    codes = _commune_codes(commune_population[schema.CODE_COMMUNE])
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise DuplicateCodeError(f"commune_population: communes repeated: {_examples(dup)}")

    pop_side = commune_population
    qpv_side = qpv_by_commune
    if (schema.CODE_COMMUNE in qpv_side.columns and schema.CODE_REGION not in qpv_side.columns
            and schema.CODE_REGION in commune_population.columns):
        # A QPV part takes the region of its commune as the population file gives it, so
        # that territories the département table does not know (the demo) still match.
        lookup = pd.Series(commune_population[schema.CODE_REGION].astype("string").to_numpy(),
                           index=codes.to_numpy())
        qpv_side = qpv_side.assign(**{schema.CODE_REGION: _commune_codes(
            qpv_side[schema.CODE_COMMUNE]).map(lookup)})
    if metropolitan_only:
        pop_side = pop_side[_metropolitan(pop_side)]
        qpv_side = qpv_side[_metropolitan(qpv_side)]
    pkey = _territory(pop_side, level, epci=epci, metropolitan_only=metropolitan_only,
                      what="commune_population")
    missing_epci = pkey.isna()
    if level == "epci" and missing_epci.any():
        warnings.warn(
            f"population_shares: {int(missing_epci.sum())} commune(s) of commune_population "
            f"have no EPCI in epci= and are left out of the EPCI populations "
            f"(e.g. {_examples(pop_side.loc[missing_epci, schema.CODE_COMMUNE], 5)})",
            QpvgeoWarning, stacklevel=2,
        )
    pop_values = pd.to_numeric(pop_side[schema.POPULATION], errors="coerce").astype("float64")
    negative = pop_values < 0
    if negative.any():
        raise DataFormatError(
            f"commune_population: negative populations for communes "
            f"{_examples(pop_side.loc[negative, schema.CODE_COMMUNE], 5)}"
        )
    by_key = pop_values.groupby(pkey.to_numpy())
    # One commune without a population makes its territory's population unknown: a
    # smaller denominator would silently raise the share.
    population = by_key.sum(min_count=1).where(by_key.count() == by_key.size())
    no_pop = pop_values.isna() & pkey.notna().to_numpy()
    if no_pop.any():
        hit = sorted(set(pkey[no_pop.to_numpy()].astype(str)))
        warnings.warn(
            f"population_shares(level={level!r}): {int(no_pop.sum())} commune(s) without a "
            f"population ({_examples(pop_side.loc[no_pop, schema.CODE_COMMUNE], 5)}): the "
            f"population and part_qpv of {len(hit)} territory(ies) are NA "
            f"({_examples(hit, 5)}), never computed on a smaller denominator",
            QpvgeoWarning, stacklevel=2,
        )

    qkey = _territory(qpv_side, level, epci=epci, metropolitan_only=metropolitan_only,
                      what="qpv_by_commune")
    unknown = qkey.isna() | ~qkey.isin(population.index)
    # Above the commune, a key can exist while the QPV's own commune or département is
    # not covered (Mayotte QPV against a file without Mayotte, level="france"): the
    # numerator would then count people the denominator does not.
    if schema.CODE_COMMUNE in qpv_side.columns and level != "commune":
        qcom = _commune_codes(qpv_side[schema.CODE_COMMUNE])
        unknown |= qcom.notna() & ~qcom.isin(set(codes))
    if level in ("departement", "region", "france"):
        qdep = _departement(qpv_side)
        unknown |= ~qdep.isin(set(_departement(pop_side).dropna())).fillna(False)
    unknown = unknown.fillna(True).astype(bool)
    if unknown.any():
        bad = qpv_side.loc[unknown]
        label = (bad[schema.CODE_COMMUNE] if schema.CODE_COMMUNE in bad.columns
                 else "département " + _departement(bad).fillna("NA"))
        lost = pd.to_numeric(bad[schema.POPULATION_QPV], errors="coerce").sum()
        msg = (
            f"population_shares(level={level!r}): {int(unknown.sum())} QPV part(s) "
            f"({lost:,.0f} inhabitants, QPV {_examples(bad[schema.CODE_QPV], 5)}) have a "
            f"territory absent from commune_population: {_examples(label.fillna('NA'))}. "
            "Bring both frames to one COG geography with qpvgeo.cog.harmonise_communes"
            + (" and check that epci= covers these communes" if level == "epci" else "")
        )
        if on_missing == "raise":
            raise DataFormatError(msg)
        warnings.warn(msg + "; these parts are left out", QpvgeoWarning, stacklevel=2)
        qpv_side, qkey = qpv_side[~unknown], qkey[~unknown]

    values = pd.to_numeric(qpv_side[schema.POPULATION_QPV], errors="coerce").astype("float64")
    grouped = values.groupby(qkey.to_numpy())
    # a territory with one QPV of unknown population has an unknown QPV population
    in_qpv = grouped.sum(min_count=1).where(grouped.count() == grouped.size())
    n_qpv = qpv_side[schema.CODE_QPV].groupby(qkey.to_numpy()).nunique()

    out = pd.DataFrame({schema.POPULATION: population})
    out[schema.POPULATION_QPV] = in_qpv.reindex(out.index)
    out[schema.POPULATION_QPV] = out[schema.POPULATION_QPV].where(
        out.index.isin(in_qpv.index), 0.0
    )
    out[schema.PART_QPV] = out[schema.POPULATION_QPV] / out[schema.POPULATION].where(
        out[schema.POPULATION] > 0
    )
    out[schema.N_QPV] = n_qpv.reindex(out.index).fillna(0).astype("Int64")
    if ESTIMATION in qpv_side.columns:
        est = qpv_side[ESTIMATION].fillna(True).astype(bool).groupby(qkey.to_numpy()).any()
        out[ESTIMATION] = est.reindex(out.index).fillna(False).astype("bool")
    over = out[schema.PART_QPV] > 1 + _SHARE_TOLERANCE
    if over.any():
        parts = []
        for code in out.index[over][:5]:
            qpvs = qpv_side.loc[(qkey == code).to_numpy(), schema.CODE_QPV]
            parts.append(f"{code}: {out.at[code, schema.PART_QPV]:.0%} "
                         f"(QPV {_examples(qpvs, 4)})")
        raise DataFormatError(
            f"population_shares(level={level!r}): more people in QPV than in the territory "
            f"for {int(over.sum())} territory(ies): {'; '.join(parts)}. The QPV population "
            "and the populations légales do not match: a QPV over several communes placed "
            "whole in one (pass communes= to split it), commune codes of another COG year, "
            "or populations of very different years"
        )
    names, name_col = _names(level, pop_side, epci)
    if names is not None:
        out.insert(0, name_col, out.index.map(names).astype("string"))
    out.index = out.index.astype("string")
    out.index.name = _INDEX_NAMES[level]
    out = out.sort_values([schema.PART_QPV, schema.POPULATION_QPV],
                          ascending=[False, False], kind="stable", na_position="last")
    numerator = {"annee": qpv_by_commune.attrs.get("annee_source"),
                 "source": qpv_by_commune.attrs.get("source")}
    denominator = {"annee": commune_population.attrs.get("annee_source"),
                   "source": commune_population.attrs.get("source")}
    out.attrs["millesimes"] = {schema.POPULATION_QPV: numerator, schema.POPULATION: denominator}
    if numerator["annee"] and denominator["annee"] and numerator["annee"] != denominator["annee"]:
        warnings.warn(
            f"population_shares: the QPV populations ({numerator['source'] or 'numerator'}, "
            f"{numerator['annee']}) and the populations légales "
            f"({denominator['source'] or 'denominator'}, {denominator['annee']}) are of "
            "different years; part_qpv mixes them (recorded in .attrs['millesimes'])",
            QpvgeoWarning, stacklevel=2,
        )
    return out


def count_qpv(
    qpv_or_membership: pd.DataFrame,
    *,
    level: str = "commune",
    epci: pd.DataFrame | None = None,
    metropolitan_only: bool = False,
) -> pd.DataFrame:
    """Number of distinct QPV per territory.

    Parameters
    ----------
    qpv_or_membership
        :func:`qpvgeo.readers.read_qpv_communes` output (one row per QPV and commune:
        a multi-commune QPV counts in each of its communes), or a QPV frame
        (:func:`qpvgeo.readers.read_qpv`, counted in its main commune only), or
        :func:`qpv_population_by_commune` output.
    level, epci, metropolitan_only
        As in :func:`population_shares`. For ``departement`` and above the territory
        comes from the commune code, else from ``code_departement``, else from the QPV
        code.

    Returns
    -------
    pandas.DataFrame
        Indexed by territory code, one column ``n_qpv`` (Int64), sorted by ``n_qpv``
        descending then code. QPV whose territory is unknown are counted under NA
        only if any (index value ``<NA>``), never dropped silently.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"code_qpv": ["QN05972M", "QN05972M", "QN05901M", "QN06201M"],
    ...     "code_commune": ["59350", "59360", "59350", "62041"]})
    >>> count_qpv(m, level="departement")  # doctest: +NORMALIZE_WHITESPACE
                      n_qpv
    code_departement
    59                    2
    62                    1
    """
    _check_level(level)
    schema.require_columns(qpv_or_membership, [schema.CODE_QPV], what="qpv_or_membership")
    frame = qpv_or_membership
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if metropolitan_only:
        frame = frame[_metropolitan(frame)]
    key = _territory(frame, level, epci=epci, metropolitan_only=metropolitan_only,
                     what="qpv_or_membership")
    counts = frame[schema.CODE_QPV].groupby(key.to_numpy(), dropna=False).nunique()
    out = pd.DataFrame({schema.N_QPV: counts.astype("Int64")})
    out.index = out.index.astype("string")
    out.index.name = _INDEX_NAMES[level]
    out = out.reset_index().sort_values(
        [schema.N_QPV, _INDEX_NAMES[level]], ascending=[False, True]
    ).set_index(_INDEX_NAMES[level])
    if out.index.isna().any():
        warnings.warn(
            f"count_qpv(level={level!r}): {int(out.loc[out.index.isna(), schema.N_QPV].sum())} "
            "QPV have no known territory (counted under NA)", QpvgeoWarning, stacklevel=2,
        )
    return out
