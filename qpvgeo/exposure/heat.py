"""Urban heat: heat-sensitivity score or classes (IRIS scores, Cerema LCZ).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import SchemaError
from qpvgeo.exposure._base import (
    _dissolve,
    _frame,
    _measure_inside,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
    _weighted_by_population,
    _zonal_mean,
    declared_extent,
)

HEAT_CLASSES: tuple[str, ...] = ("faible", "moyenne", "forte")
#: Cerema local climate zones -> heat class (the mapping of the Cerema-derived IRIS layers:
#: compact / industrial / heavy industry zones heat most, vegetation and water least).
LCZ_HEAT_CLASS: dict[str, str] = {
    **{k: "forte" for k in ("1", "2", "3", "8", "10")},
    **{k: "moyenne" for k in ("4", "5", "6", "7", "E")},
    **{k: "faible" for k in ("9", "A", "B", "C", "D", "F", "G")},
}
_HEAT_ALIASES = {
    "high": "forte",
    "haute": "forte",
    "fort": "forte",
    "forte": "forte",
    "elevee": "forte",
    "medium": "moyenne",
    "moyen": "moyenne",
    "moyenne": "moyenne",
    "low": "faible",
    "faible": "faible",
    "basse": "faible",
    "bas": "faible",
}


# -- heat ---------------------------------------------------------------------------------


def _heat_classes(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    # Plain Python values: an all-NA mapped Series of the pyarrow string dtype cannot be
    # filled (pandas raises "Converting strings to null is not implemented").
    raw = s.astype(object).where(s.notna(), None).tolist()
    classes = [
        None if v is None else _HEAT_ALIASES.get(v.lower(), LCZ_HEAT_CLASS.get(v.upper()))
        for v in raw
    ]
    out = pd.Series(classes, index=values.index, dtype=object).astype("string")
    bad = sorted(set(s[out.isna() & s.notna()].unique()))
    if bad:
        raise SchemaError(
            f"heat: unknown heat classes {bad[:10]}; expected {list(HEAT_CLASSES)}, "
            "High/Medium/Low or Cerema LCZ codes"
        )
    return out


def heat_exposure(
    zones: gpd.GeoDataFrame,
    lcz_or_score: gpd.GeoDataFrame,
    *,
    column: str | None = None,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Urban-heat exposure of each zone from a heat-sensitivity layer (IRIS scores or LCZ).

    - A numeric ``score_chaleur`` (higher = more exposed) gives its area-weighted (or
      population-weighted) mean over the zone, ``score_chaleur``.
    - A categorical score (``faible`` / ``moyenne`` / ``forte``, the English
      ``Low/Medium/High`` of the Cerema-derived layers) or a raw Cerema ``lcz`` column
      (LCZ 1, 2, 3, 8, 10 -> forte; 4–7, E -> moyenne; 9, A–D, F, G -> faible) gives the
      share of the zone in each class, ``part_surface_chaleur_<classe>`` (and
      ``part_population_chaleur_<classe>``).

    ``part_surface_couverte_chaleur`` is the share of the zone covered by the layer: a
    zone the layer does not reach at all has NA means and NA shares (not 0: the layer
    says nothing there). A partly covered zone's shares are shares of the whole zone;
    :func:`qpvgeo.exposure.exposure_profile` measures them on the covered part only.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    lcz_or_score
        Heat-sensitivity polygons (:func:`qpvgeo.readers.environment.read_heat_iris`, or
        Cerema LCZ polygons with an ``lcz`` column), in any CRS.
    column
        Column holding the score or class; default ``score_chaleur``, else ``lcz``.
        A numeric column (other than ``lcz``) is averaged, any other is read as classes.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column: the
        numeric score is then weighted by population, and classes add
        ``part_population_chaleur_*`` and ``population_chaleur_*``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_heat`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``: ``score_chaleur`` (numeric score) or
        ``part_surface_chaleur_<classe>`` (0–1, classes ``faible``, ``moyenne``,
        ``forte``), ``part_surface_couverte_chaleur`` (0–1) and, with a population,
        ``population``, ``population_grille`` and the population shares and counts.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> h = gpd.GeoDataFrame({"score_chaleur": ["forte", "faible"]},
    ...                      geometry=[box(0, 0, 30, 100), box(30, 0, 100, 100)], crs=2154)
    >>> heat_exposure(z, h)["part_surface_chaleur_forte"].round(2).tolist()
    [0.3]
    """
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        return covered_indicator(
            "heat", heat_exposure, zones, lcz_or_score, coverage, key=key,
            population=population, population_method=population_method,
            ancillary=ancillary, column=column,
        )
    z = _prepare_zones(zones, key)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    # With a population, the score is measured on the cells near the zones: keep every
    # polygon those cells can meet, not only those over the zones' boxes.
    reach = ctx.reach if ctx.population is not None else 0.0
    layer = _prepare_layer(lcz_or_score, what="heat", zones=z, polygons=True, keep=reach)
    if column is None:
        column = next((c for c in (schema.SCORE_CHALEUR, "lcz") if c in layer.columns), None)
    if column is None or column not in layer.columns:
        raise SchemaError(
            f"heat: no column {schema.SCORE_CHALEUR!r} or 'lcz'; columns: {list(layer.columns)}"
        )
    geoms = np.asarray(layer.geometry.array, dtype=object)
    out: dict[str, Any] = {}
    raw = layer[column]
    numeric = pd.api.types.is_numeric_dtype(raw) and column != "lcz"
    if numeric:
        vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)[:, None]
        if ctx.population is not None:
            out[schema.SCORE_CHALEUR] = _weighted_by_population(
                z, ctx, lambda polys: _zonal_mean(polys, geoms, vals)[0], [schema.SCORE_CHALEUR]
            )[:, 0]
        else:
            out[schema.SCORE_CHALEUR] = _zonal_mean(z.geoms, geoms, vals)[0][:, 0]
    else:
        classes = _heat_classes(raw)
        out.update(
            _measure_inside(
                z,
                {
                    c: _dissolve(geoms[(classes == c).fillna(False).to_numpy()])
                    for c in HEAT_CLASSES
                },
                stem="chaleur",
                ctx=ctx,
                with_area=False,
            )
        )
    covered = _zonal_mean(z.geoms, geoms, np.zeros((len(geoms), 1)))[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_surface_couverte_chaleur"] = np.where(
            z.area > 0, np.minimum(covered / z.area, 1.0), np.nan
        )
    outside = ~(covered > 0)
    for name in list(out):
        if name.startswith(("part_surface_chaleur_", "part_population_chaleur_",
                            "population_chaleur_")):
            out[name] = np.where(outside, np.nan, out[name])
    return _frame(_population_columns(out, z, ctx), z, layer="heat")


def heat_extent(data: Any, **_: Any) -> Any:
    """A heat layer covers its own polygons (the IRIS or LCZ it scores), nothing beyond.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> h = gpd.GeoDataFrame({"score_chaleur": [0.5, 0.2]},
    ...                      geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=2154)
    >>> heat_extent(h).area
    2.0
    """
    declared = declared_extent(data)
    if declared is not None:
        return declared
    frame = schema.to_canonical_crs(data, what="heat")
    geoms = np.asarray(frame.geometry.array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return shapely.Polygon()
    geoms = shapely.make_valid(geoms)
    if shapely.coverage_is_valid(geoms):
        # IRIS or LCZ polygons that neither overlap nor meet askew: the same union from
        # their shared edges (0.9 s -> 0.6 s with the check, for 34,000 IRIS).
        return shapely.coverage_union_all(geoms)
    return shapely.union_all(geoms)


def class_words(group: str) -> str:
    """The French heat class of a column group (``forte``…), as it is."""
    return group


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """IRIS-like 2 km blocks cut by the demo communes, with a heat score (0–1)."""
    x0, y0, x1, y1 = base.territory.bounds
    xs = np.arange(x0, x1, 2000.0)
    ys = np.arange(y0, y1, 2000.0)
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    blocks = gpd.GeoDataFrame(geometry=shapely.box(x, y, x + 2000, y + 2000), crs=schema.CRS)
    iris = gpd.overlay(blocks, base.communes, how="intersection", keep_geom_type=True)
    iris = iris.sort_values([schema.CODE_COMMUNE]).reset_index(drop=True)
    iris["code_iris"] = iris[schema.CODE_COMMUNE] + (
        iris.groupby(schema.CODE_COMMUNE).cumcount() + 1
    ).astype(str).str.zfill(4)
    c = iris.geometry.centroid
    kx, ky = (c.x - x0) / 1000, (c.y - y0) / 1000
    # Mineral, dense blocks near the urban cores are the most heat-vulnerable.
    score = 0.15 + 0.7 * np.exp(-((kx - 4.8) ** 2 + (ky - 5.4) ** 2) / 6.0) + 0.1 * (ky > 4)
    iris[schema.SCORE_CHALEUR] = np.round(np.clip(score, 0, 1), 3)
    return iris[["code_iris", schema.CODE_COMMUNE, schema.SCORE_CHALEUR, "geometry"]]
