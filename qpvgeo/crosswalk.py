"""What changed between the 2015 and 2024 QPV geographies: pairs, typology, inhabitants.

:func:`qpv_crosswalk` overlays the two geographies and answers the first question of
every 2024-2030 contrat de ville: which QPV were kept, enlarged, reduced, merged, split,
created or left, and — with a population grid — how many inhabitants stayed in, came
in, or left the geography. :func:`crosswalk_summary` turns the result into what a
report section needs (French labels, counts by type, totals).

Typology and thresholds
-----------------------
A (2015, 2024) pair **counts** when their intersection holds at least
``min_share`` (5 %) of either QPV. On Hauts-de-France the 202 intersecting pairs split
cleanly: 199 share more than half of one side, one 15 %, two less than 1 % (edge
slivers of the simplified 2024 layer) — 5 % sits in the empty gap.

For a pair that is one-to-one, the change is measured *outside an edge band* of
``tolerance`` metres (20 m, the displacement of the simplified 2024 edges, see
:mod:`qpvgeo.locate`): the area gained is the part of the 2024 QPV farther than the
band from the 2015 one, the area lost the part of the 2015 QPV farther than the band
from the 2024 one, both as shares of the 2015 area. With ``min_change`` = 5 %:

================  ============================================================
``inchange``      gained < 5 % and lost < 5 % (same perimeter up to the edge noise)
``agrandi``       gained >= 5 %, lost < 5 %
``reduit``        lost >= 5 %, gained < 5 %
``redessine``     both >= 5 % (perimeter redrawn: some streets in, some out)
``fusionne``      a 2024 QPV that counts 2 or more 2015 partners (and those partners)
``scinde``        a 2015 QPV that counts 2 or more 2024 partners (and those partners)
``nouveau``       a 2024 QPV with no 2015 partner
``sorti``         a 2015 QPV with no 2024 partner
================  ============================================================

``redessine`` is not among the issue's seven types: a QPV that gained and lost
streets at once is neither enlarged nor reduced, and calling it either would be a
silently wrong label. A many-to-many group (merged *and* split) is labelled
``fusionne`` on the 2024 side and ``scinde`` on the 2015 side.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import PathLike
from qpvgeo.readers.qpv import read_qpv

#: Share of either QPV an intersection must hold for the pair to count.
MIN_SHARE = 0.05
#: Share of the 2015 area gained or lost (outside the edge band) that makes a change.
MIN_CHANGE = 0.05
#: Edge band (m) ignored when measuring gains and losses: the simplified 2024 layer's
#: edge displacement (99th percentile 19 m, :mod:`qpvgeo.locate`).
TOLERANCE = 20.0

#: French labels of the types, in the order a report lists them.
TYPE_LABELS: dict[str, str] = {
    "inchange": "Inchangé",
    "agrandi": "Agrandi",
    "reduit": "Réduit",
    "redessine": "Redessiné (gains et pertes)",
    "fusionne": "Fusionné",
    "scinde": "Scindé",
    "nouveau": "Nouveau en 2024",
    "sorti": "Sorti de la géographie prioritaire",
}

_TYPE = "type_evolution"


def _layer(frame: object, mill: int, what: str) -> gpd.GeoDataFrame:
    layer = frame if isinstance(frame, gpd.GeoDataFrame) else read_qpv(frame)
    schema.require_columns(layer, [schema.CODE_QPV, "geometry"], what=what)
    codes = layer[schema.CODE_QPV].astype("string")
    found = set(codes.map(schema.millesime_of_code).dropna().astype(int))
    if found != {mill}:
        raise DataFormatError(f"{what}: expected {mill} QPV codes only, found geographies "
                              f"{sorted(found)} (e.g. {codes.head(3).tolist()})")
    layer = schema.to_canonical_crs(layer, what=what)
    names = (layer[schema.NOM_QPV].astype("string") if schema.NOM_QPV in layer
             else pd.Series(pd.NA, index=layer.index, dtype="string"))
    return gpd.GeoDataFrame({schema.CODE_QPV: codes.to_numpy(), schema.NOM_QPV: names.to_numpy()},
                            geometry=np.asarray(layer.geometry.array, dtype=object),
                            crs=layer.crs)


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = shapely.STRtree(b).query(a, predicate="intersects")
    area = shapely.area(shapely.intersection(a[i], b[j]))
    keep = area > 0
    return i[keep], j[keep], area[keep]


def qpv_crosswalk(
    qpv_2015: gpd.GeoDataFrame | PathLike,
    qpv_2024: gpd.GeoDataFrame | PathLike,
    *,
    population: pd.DataFrame | None = None,
    population_column: str = "ind",
    method: str = "calibrated",
    min_share: float = MIN_SHARE,
    min_change: float = MIN_CHANGE,
    tolerance: float = TOLERANCE,
) -> dict[str, pd.DataFrame]:
    """Overlay the 2015 and 2024 QPV geographies: every pair, a type per QPV, inhabitants.

    Parameters
    ----------
    qpv_2015, qpv_2024 : geopandas.GeoDataFrame or path
        QPV contours of each geography (:func:`~qpvgeo.readers.read_qpv`), on the same
        territory (e.g. both restricted to a region).
    population : DataFrame, optional
        A population grid (:func:`~qpvgeo.readers.read_filosofi_grid`), to count the
        inhabitants kept, added and left (:func:`~qpvgeo.interpolate.grid_population`).
    population_column : str
        Grid variable counted (``ind``: individuals).
    method : {"calibrated", "area"}
        Grid estimator (see :func:`~qpvgeo.interpolate.grid_population`); for
        ``"calibrated"`` (default) the ancillary QPV layer is the union of both
        geographies. On Amiens (Filosofi 2019 grid), the calibrated estimates are 0.88 of
        SIG Ville's 2024 population of the 7 QPV 2024 and 0.77 of INSEE's (DEMO 2021) for
        the 6 QPV 2015; area weighting gives 0.71 and 0.64. They are estimates: use them
        for the split (kept / added / left), not as the QPV's population.
    min_share, min_change, tolerance : float
        Thresholds of the typology (module docstring): 0.05, 0.05 and 20 m.

    Returns
    -------
    dict of DataFrame
        ``"paires"``: one row per counted pair — ``code_qpv_2015``, ``nom_qpv_2015``,
        ``code_qpv_2024``, ``nom_qpv_2024``, ``surface_intersection_ha``,
        ``part_qpv_2015`` / ``part_qpv_2024`` (share of each QPV's area in the pair, 0–1).
        ``"qpv"``: a GeoDataFrame (EPSG:2154, the outlines, ready for a map of the
        types), one row per QPV of either geography — ``millesime``, ``code_qpv``,
        ``nom_qpv``, ``surface_ha``, ``type_evolution`` (key of :data:`TYPE_LABELS`),
        ``codes_correspondants`` (partners, ``", "``-separated), and for one-to-one
        pairs ``part_gagnee`` / ``part_perdue`` (shares of the 2015 area, outside the
        edge band; NA otherwise). With ``population``: ``population_estimee`` (grid
        estimate in the QPV), and ``population_maintenue`` + ``population_entree``
        (2024 QPV: inside / outside the 2015 geography) or ``population_sortie`` (2015
        QPV: outside the 2024 geography). ``"totaux"`` (with ``population``): one row,
        ``population_2015``, ``population_2024``, ``population_maintenue``,
        ``population_entree``, ``population_sortie`` — grid estimates, labelled so
        by ``attrs["methode"]``.

    Raises
    ------
    DataFormatError
        A layer holding codes of the other geography.
    SchemaError
        A threshold outside its range.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> q15 = gpd.GeoDataFrame({"code_qpv": ["QP059001", "QP059002", "QP059003"],
    ...                         "nom_qpv": ["A", "B", "C"]}, crs=2154,
    ...                        geometry=[box(0, 0, 500, 500), box(1000, 0, 1500, 500),
    ...                                  box(5000, 0, 5500, 500)])
    >>> q24 = gpd.GeoDataFrame({"code_qpv": ["QN05901M", "QN05902M", "QN05903M"],
    ...                         "nom_qpv": ["A", "B+", "D"]}, crs=2154,
    ...                        geometry=[box(0, 0, 500, 505), box(1000, 0, 1500, 800),
    ...                                  box(9000, 0, 9500, 500)])
    >>> cw = qpv_crosswalk(q15, q24)
    >>> types = cw["qpv"].set_index("code_qpv")["type_evolution"]
    >>> types.to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'QP059001': 'inchange', 'QP059002': 'agrandi', 'QP059003': 'sorti',
     'QN05901M': 'inchange', 'QN05902M': 'agrandi', 'QN05903M': 'nouveau'}
    """
    for name, value, low, high in (("min_share", min_share, 0, 1), ("min_change", min_change, 0, 1),
                                   ("tolerance", tolerance, 0, np.inf)):
        if not (low <= value < high) or (name != "tolerance" and value == 0):
            raise SchemaError(f"{name}: must be in ({low}, {high}), got {value!r}")
    a = _layer(qpv_2015, 2015, "qpv_2015")
    b = _layer(qpv_2024, 2024, "qpv_2024")
    ga, gb = np.asarray(a.geometry.array, dtype=object), np.asarray(b.geometry.array, dtype=object)
    area_a, area_b = shapely.area(ga), shapely.area(gb)
    i, j, inter = _pairs(ga, gb)
    share_a = inter / np.where(area_a[i] > 0, area_a[i], np.nan)
    share_b = inter / np.where(area_b[j] > 0, area_b[j], np.nan)
    counted = (share_a >= min_share) | (share_b >= min_share)
    i, j, inter, share_a, share_b = (v[counted] for v in (i, j, inter, share_a, share_b))
    c15 = a[schema.CODE_QPV].to_numpy(dtype=object)
    c24 = b[schema.CODE_QPV].to_numpy(dtype=object)
    pairs = pd.DataFrame({
        "code_qpv_2015": pd.array(c15[i], dtype="string"),
        "nom_qpv_2015": pd.array(a[schema.NOM_QPV].to_numpy(dtype=object)[i], dtype="string"),
        "code_qpv_2024": pd.array(c24[j], dtype="string"),
        "nom_qpv_2024": pd.array(b[schema.NOM_QPV].to_numpy(dtype=object)[j], dtype="string"),
        # Rounded: square metres and shares to 1e-4 are below the contours' precision.
        "surface_intersection_ha": np.round(inter / 1e4, 2),
        "part_qpv_2015": np.round(share_a, 4),
        "part_qpv_2024": np.round(share_b, 4),
    }).sort_values(["code_qpv_2015", "code_qpv_2024"], ignore_index=True)

    deg_a = np.bincount(i, minlength=len(a))
    deg_b = np.bincount(j, minlength=len(b))
    type_a = np.full(len(a), "sorti", dtype=object)
    type_b = np.full(len(b), "nouveau", dtype=object)
    split_a = deg_a >= 2
    merged_b = deg_b >= 2
    type_a[split_a] = "scinde"
    type_b[merged_b] = "fusionne"
    # Partners of a split 2015 QPV are "scinde"; partners of a merged 2024 QPV "fusionne".
    type_b[np.unique(j[split_a[i]])] = np.where(merged_b[np.unique(j[split_a[i]])],
                                                "fusionne", "scinde")
    type_a[np.unique(i[merged_b[j] & ~split_a[i]])] = "fusionne"

    gained = np.full(len(a), np.nan)
    lost = np.full(len(a), np.nan)
    one = (deg_a[i] == 1) & (deg_b[j] == 1)
    oi, oj = i[one], j[one]
    if len(oi):
        band_a = shapely.buffer(ga[oi], tolerance)
        band_b = shapely.buffer(gb[oj], tolerance)
        gained[oi] = shapely.area(shapely.difference(gb[oj], band_a)) / area_a[oi]
        lost[oi] = shapely.area(shapely.difference(ga[oi], band_b)) / area_a[oi]
        g_big, l_big = gained[oi] >= min_change, lost[oi] >= min_change
        kind = np.select([g_big & l_big, g_big, l_big], ["redessine", "agrandi", "reduit"],
                         default="inchange")
        type_a[oi] = kind
        type_b[oj] = kind

    partners_a = _partner_lists(i, j, c24, len(a))
    partners_b = _partner_lists(j, i, c15, len(b))
    gained_b = np.full(len(b), np.nan)
    lost_b = np.full(len(b), np.nan)
    gained_b[oj], lost_b[oj] = gained[oi], lost[oi]
    table = pd.concat([
        _qpv_rows(a, 2015, area_a, type_a, partners_a, gained, lost),
        _qpv_rows(b, 2024, area_b, type_b, partners_b, gained_b, lost_b),
    ], ignore_index=True)
    # The outlines travel with the table, so that a map of the types needs nothing else.
    table = gpd.GeoDataFrame(table, geometry="geometry", crs=schema.CRS)
    out = {"paires": pairs, "qpv": table}
    if population is not None:
        out.update(_inhabitants(a, b, table, population, population_column, method))
    return out


def _partner_lists(own: np.ndarray, other: np.ndarray, codes: np.ndarray, n: int) -> list:
    lists: list[list[str]] = [[] for _ in range(n)]
    for k, m in zip(own.tolist(), other.tolist(), strict=True):  # pairs, not geometries
        lists[k].append(codes[m])
    return [", ".join(sorted(x)) if x else pd.NA for x in lists]


def _qpv_rows(layer, mill, area, kinds, partners, gained, lost) -> pd.DataFrame:
    return pd.DataFrame({
        schema.MILLESIME: pd.array([mill] * len(layer), dtype="Int64"),
        schema.CODE_QPV: layer[schema.CODE_QPV].to_numpy(),
        schema.NOM_QPV: layer[schema.NOM_QPV].to_numpy(),
        "surface_ha": np.round(area / 1e4, 2),
        _TYPE: pd.array(kinds, dtype="string"),
        "codes_correspondants": pd.array(partners, dtype="string"),
        "part_gagnee": np.round(gained, 4),
        "part_perdue": np.round(lost, 4),
        "geometry": np.asarray(layer.geometry.array, dtype=object),
    }).sort_values(schema.CODE_QPV, ignore_index=True)


def _inhabitants(a, b, table, grid, column, method) -> dict[str, pd.DataFrame]:
    from qpvgeo.interpolate import grid_population

    ga, gb = np.asarray(a.geometry.array, dtype=object), np.asarray(b.geometry.array, dtype=object)
    union_a, union_b = shapely.union_all(ga), shapely.union_all(gb)
    zones = pd.concat([
        _zones(a, ga, "2015", "total"),
        _zones(b, gb, "2024", "total"),
        _zones(b, shapely.intersection(gb, union_a), "2024", "maintenue"),
        _zones(b, shapely.difference(gb, union_a), "2024", "entree"),
        _zones(a, shapely.difference(ga, union_b), "2015", "sortie"),
    ], ignore_index=True)
    options = {}
    if method == "calibrated":
        options["qpv"] = gpd.GeoSeries([shapely.union_all([union_a, union_b])], crs=schema.CRS)
    est = grid_population(grid, zones, columns=(column,), method=method, **options)
    zones["population"] = est[column].to_numpy()
    by = zones.pivot_table(index=["millesime", schema.CODE_QPV], columns="part",
                           values="population", aggfunc="sum", dropna=False)
    names = {"total": "population_estimee", "maintenue": "population_maintenue",
             "entree": "population_entree", "sortie": "population_sortie"}
    by = by.rename(columns=names).reset_index()
    by["millesime"] = by["millesime"].astype(int)
    qpv = table.copy()
    keyed = by.set_index(["millesime", schema.CODE_QPV])
    index = pd.MultiIndex.from_arrays([qpv[schema.MILLESIME].astype(int), qpv[schema.CODE_QPV]])
    for col in names.values():
        values = keyed[col].reindex(index).to_numpy() if col in keyed else np.nan
        qpv[col] = values
    # A 2024 QPV with nothing outside the 2015 geography has 0 inhabitants entering (an
    # empty piece is measured, and empty); NaN stays only where the grid is missing.
    is24 = qpv[schema.MILLESIME] == 2024
    for col in ("population_maintenue", "population_entree"):
        qpv.loc[is24, col] = qpv.loc[is24, col].fillna(0.0).where(
            qpv.loc[is24, "population_estimee"].notna())
        qpv.loc[~is24, col] = np.nan
    qpv.loc[~is24, "population_sortie"] = qpv.loc[~is24, "population_sortie"].fillna(0.0).where(
        qpv.loc[~is24, "population_estimee"].notna())
    qpv.loc[is24, "population_sortie"] = np.nan
    s = qpv.groupby(schema.MILLESIME)
    totals = pd.DataFrame([{
        "population_2015": s.get_group(2015)["population_estimee"].sum(min_count=1),
        "population_2024": s.get_group(2024)["population_estimee"].sum(min_count=1),
        "population_maintenue": qpv["population_maintenue"].sum(min_count=1),
        "population_entree": qpv["population_entree"].sum(min_count=1),
        "population_sortie": qpv["population_sortie"].sum(min_count=1),
    }])
    how = ("densité uniforme dans chaque carreau" if method == "area" else
           "carreaux plus denses dans la partie couverte par les QPV des deux géographies")
    totals.attrs["methode"] = (f"estimation carroyée de {column!r} (grid_population, "
                               f"méthode {method!r}: {how})")
    return {"qpv": qpv, "totaux": totals}


def _zones(layer: gpd.GeoDataFrame, geoms: np.ndarray, mill: str, part: str) -> gpd.GeoDataFrame:
    keep = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
    return gpd.GeoDataFrame({
        "millesime": int(mill),
        schema.CODE_QPV: layer[schema.CODE_QPV].to_numpy()[keep],
        "part": part,
    }, geometry=geoms[keep], crs=layer.crs)


def crosswalk_summary(crosswalk: dict[str, pd.DataFrame]) -> dict[str, object]:
    """What a report section on the 2015 → 2024 change needs, with French labels.

    Parameters
    ----------
    crosswalk : dict
        The result of :func:`qpv_crosswalk`.

    Returns
    -------
    dict
        ``"par_type"``: DataFrame, one row per type (:data:`TYPE_LABELS` order) —
        ``type_evolution``, ``libelle``, ``qpv_2015`` and ``qpv_2024`` (counts of QPV of
        each geography with that type). ``"tableau"``: the per-QPV table with a
        ``libelle`` column (French label), 2024 QPV first. ``"chiffres"``: dict —
        ``qpv_2015``, ``qpv_2024`` (counts), ``nouveaux``, ``sortis``, and when the
        crosswalk has inhabitants ``population_maintenue``, ``population_entree``,
        ``population_sortie`` (grid estimates; ``"methode"`` says how).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> q15 = gpd.GeoDataFrame({"code_qpv": ["QP059001"], "nom_qpv": ["A"]}, crs=2154,
    ...                        geometry=[box(0, 0, 500, 500)])
    >>> q24 = gpd.GeoDataFrame({"code_qpv": ["QN05901M", "QN05902M"], "nom_qpv": ["A", "B"]},
    ...                        crs=2154, geometry=[box(0, 0, 500, 300), box(900, 0, 999, 99)])
    >>> s = crosswalk_summary(qpv_crosswalk(q15, q24))
    >>> labels = s["par_type"].set_index("type_evolution")["libelle"]
    >>> s["chiffres"]["nouveaux"], labels["reduit"]
    (1, 'Réduit')
    """
    qpv = crosswalk["qpv"]
    counts = (qpv.groupby([_TYPE, schema.MILLESIME]).size().unstack(fill_value=0)
              .reindex(index=list(TYPE_LABELS), columns=[2015, 2024], fill_value=0))
    by_type = pd.DataFrame({
        _TYPE: list(TYPE_LABELS),
        "libelle": list(TYPE_LABELS.values()),
        "qpv_2015": counts[2015].to_numpy(),
        "qpv_2024": counts[2024].to_numpy(),
    })
    table = qpv.assign(libelle=qpv[_TYPE].map(TYPE_LABELS).astype("string"))
    table = table.sort_values([schema.MILLESIME, schema.CODE_QPV], ascending=[False, True],
                              ignore_index=True)
    figures: dict[str, object] = {
        "qpv_2015": int((qpv[schema.MILLESIME] == 2015).sum()),
        "qpv_2024": int((qpv[schema.MILLESIME] == 2024).sum()),
        "nouveaux": int(((qpv[_TYPE] == "nouveau") & (qpv[schema.MILLESIME] == 2024)).sum()),
        "sortis": int(((qpv[_TYPE] == "sorti") & (qpv[schema.MILLESIME] == 2015)).sum()),
    }
    if "totaux" in crosswalk:
        totals = crosswalk["totaux"].iloc[0]
        for col in ("population_maintenue", "population_entree", "population_sortie"):
            figures[col] = float(totals[col])
        figures["methode"] = crosswalk["totaux"].attrs.get("methode", "")
    return {"par_type": by_type, "tableau": table, "chiffres": figures}


__all__ = [
    "MIN_CHANGE",
    "MIN_SHARE",
    "TOLERANCE",
    "TYPE_LABELS",
    "crosswalk_summary",
    "qpv_crosswalk",
]
