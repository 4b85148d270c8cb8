"""Noise: share of each zone above each level of the strategic noise maps.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.exposure._base import (
    _dissolve,
    _frame,
    _label,
    _measure_inside,
    _near_mask,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
)

# -- noise --------------------------------------------------------------------------------


def _noise_classes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = frame[schema.SOURCE_BRUIT].astype("string").str.lower().to_numpy(dtype=object)
    ind = frame[schema.INDICATEUR_BRUIT].astype("string").str.lower().to_numpy(dtype=object)
    lmin = (
        pd.to_numeric(frame[schema.LDEN_MIN], errors="coerce").to_numpy(dtype=float)
        if schema.LDEN_MIN in frame.columns
        else np.full(len(frame), np.nan)
    )
    return src, ind, lmin


def noise_exposure(
    zones: gpd.GeoDataFrame,
    noise: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Share of each zone exposed above each noise level, per source and indicator.

    ``noise`` is a canonical noise layer (:func:`qpvgeo.readers.environment.read_noise_map`):
    ``source`` (``route``, ``fer``, ``aerien``, ``industrie``), ``indicateur`` (``lden``
    or ``ln``) and ``lden_min``, the lower bound in dB(A) of the zone (for type C maps,
    the limit value exceeded: road Lden 68, road Ln 62, rail Lden 73, rail Ln 65; for
    type A maps, the lower bound of each band). For every source, indicator and level *L*
    found in the layer, the zone's share above *L* is measured inside the dissolved
    union of all features with ``lden_min >= L``: invalid and overlapping zones of
    different road segments count once.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    noise
        Canonical noise layer with ``source``, ``indicateur`` and (optionally)
        ``lden_min`` columns, in any CRS; features without ``lden_min`` are measured
        together as ``bruit_<source>_<indicateur>``.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column; adds
        ``part_population_bruit_*`` and ``population_bruit_*``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_noise`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        ``part_surface_bruit_<source>_<indicateur>_<L>`` (0–1, share at or above *L*
        dB(A)), ``surface_bruit_…_m2`` and with a population
        ``part_population_bruit_…``, ``population_bruit_…``. A band's share is the
        difference of two consecutive levels.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP033011"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> n = gpd.GeoDataFrame({"source": ["route", "route"], "indicateur": ["lden", "lden"],
    ...                       "lden_min": [68, 68]},
    ...                      geometry=[box(0, 0, 40, 100), box(20, 0, 60, 100)], crs=2154)
    >>> noise_exposure(z, n)["part_surface_bruit_route_lden_68"].round(2).tolist()
    [0.6]
    """
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        return covered_indicator(
            "noise", noise_exposure, zones, noise, coverage, key=key,
            population=population, population_method=population_method,
            ancillary=ancillary,
        )
    z = _prepare_zones(zones, key)
    schema.require_columns(noise, [schema.SOURCE_BRUIT, schema.INDICATEUR_BRUIT], what="noise")
    # Columns follow the whole layer's classes, not only those near these zones, so that
    # zones and their surroundings get the same columns.
    all_src, all_ind, all_min = _noise_classes(noise)
    groups = sorted(
        {
            (s, i)
            for s, i in zip(all_src, all_ind, strict=True)
            if isinstance(s, str) and isinstance(i, str)
        }
    )
    layer = _prepare_layer(noise, what="noise", zones=z, polygons=True, keep=0.0)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    keep = _near_mask(layer, z)
    src, ind, lmin = _noise_classes(layer)
    pieces: dict[str, shapely.Geometry] = {}
    for s, i in groups:
        in_all = (all_src == s) & (all_ind == i)
        in_group = (src == s) & (ind == i)
        for level in sorted(set(all_min[in_all & ~np.isnan(all_min)].tolist())):
            sel = in_group & keep & (np.nan_to_num(lmin, nan=-np.inf) >= level)
            pieces[f"{s}_{i}_{_label(level)}"] = _dissolve(geoms[sel])
        if np.isnan(all_min[in_all]).any():
            pieces[f"{s}_{i}"] = _dissolve(geoms[in_group & keep & np.isnan(lmin)])
    out = _measure_inside(z, pieces, stem="bruit", ctx=ctx)
    return _frame(_population_columns(out, z, ctx), z, layer="noise")


#: The limit values of the type C maps (arrêté du 4 avril 2006), dB(A): road Lden 68 /
#: Ln 62, conventional rail Lden 73 / Ln 65, airports Lden 55, industry Lden 71 / Ln 60.
#: Type A maps give bands from Lden 55 (Ln 50) up: WHO Europe's 2018 guideline for road
#: noise (Lden 53 dB) lies below the lowest mapped band and cannot be computed from them.
LIMIT_VALUES: dict[str, dict[str, float]] = {
    "route": {"lden": 68.0, "ln": 62.0},
    "fer": {"lden": 73.0, "ln": 65.0},
    "aerien": {"lden": 55.0},
    "industrie": {"lden": 71.0, "ln": 60.0},
}
_SOURCE_WORDS = {"route": "routier", "fer": "ferroviaire", "aerien": "aérien",
                 "industrie": "industriel"}


def noise_words(group: str) -> str:
    """French words for the ``<source>_<indicateur>_<niveau>`` group of a noise column.

    Examples
    --------
    >>> noise_words("route_lden_68")
    'routier, Lden ≥ 68 dB(A)'
    """
    import re

    m = re.match(r"^([a-z]+)_(lden|ln)(?:_(\d+(?:_\d+)?))?$", group or "")
    if not m:
        return group
    src = _SOURCE_WORDS.get(m.group(1), m.group(1))
    ind = "Lden" if m.group(2) == "lden" else "Ln"
    level = f" ≥ {m.group(3).replace('_', ',')} dB(A)" if m.group(3) else ""
    return f"{src}, {ind}{level}"


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """Type C exceedance zones of a road (Lden 68, Ln 62) and a railway (Lden 73)."""
    x0, y0, x1, y1 = base.territory.bounds
    road = shapely.LineString([(x0, 6.8e3 + y0), (x1, 5.36e3 + y0)])
    rail = shapely.LineString([(x0 + 6.6e3, y0), (x0 + 6.6e3, y1)])
    return gpd.GeoDataFrame(
        {
            schema.INDICATEUR_BRUIT: ["lden", "ln", "lden"],
            schema.SOURCE_BRUIT: ["route", "route", "fer"],
            schema.LDEN_MIN: [68.0, 62.0, 73.0],
        },
        geometry=[shapely.buffer(road, 160), shapely.buffer(road, 110),
                  shapely.buffer(rail, 70)], crs=schema.CRS,
    )
