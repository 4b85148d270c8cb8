"""Air quality: annual mean concentrations from a raster, a grid or stations.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.exposure._base import (
    _frame,
    _nearest,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
    _weighted_by_population,
    _zonal_mean,
    _Zones,
)


def _raster_means(raster: Any, polygons: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """Coverage-fraction-weighted mean of each band over each polygon (exactextract)."""
    import rasterio
    from exactextract import exact_extract

    out = np.full((len(polygons), len(bands)), np.nan)
    keep = ~(shapely.is_missing(polygons) | shapely.is_empty(polygons))
    if not keep.any():
        return out
    with rasterio.open(raster) as src:
        crs = src.crs
        count = src.count
    if count != len(bands):
        raise SchemaError(
            f"{raster}: {count} band(s) but pollutants {list(bands)} were named; pass "
            "raster_pollutants= with one name per band"
        )
    if crs is None:
        raise _missing_crs(raster)
    vec = gpd.GeoDataFrame({"_i": np.flatnonzero(keep)}, geometry=polygons[keep], crs=schema.CRS)
    vec = vec.to_crs(crs)
    res = exact_extract(os.fspath(raster), vec, "mean", include_cols=["_i"], output="pandas")
    cols = [c for c in res.columns if c != "_i"]
    # exactextract names the columns "mean" (one band) or "band_1_mean"… (several).
    ordered = cols if len(cols) == len(bands) else None
    if ordered is None:
        raise SchemaError(f"{raster}: exactextract returned columns {cols} for bands {list(bands)}")
    out[res["_i"].to_numpy()] = res[ordered].to_numpy(dtype=float)
    return out


def _missing_crs(path: Any) -> QpvgeoError:
    from qpvgeo.errors import MissingCRSError

    return MissingCRSError(f"{path}: the raster declares no CRS")


def air_exposure(
    zones: gpd.GeoDataFrame,
    *,
    raster: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    grid: gpd.GeoDataFrame | None = None,
    stations: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
    pollutants: Sequence[str] = schema.POLLUTANTS,
    raster_pollutants: Sequence[str] | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Mean annual concentration (NO2, PM10, PM2.5) of each zone, from a raster, a grid or stations.

    Give exactly one of ``raster``, ``grid``, ``stations``.

    - ``raster``: a GeoTIFF path whose bands are named by ``raster_pollutants`` (one
      band: the first of ``pollutants`` by default), or a mapping pollutant -> path.
      The zone mean weights each pixel by the fraction of it covered by the zone
      (exactextract), or, with a population, by the population it holds.
    - ``grid``: polygons with pollutant columns (a modelled concentration grid); means
      are weighted by overlap area, or by population.
    - ``stations``: points with pollutant columns (annual means,
      :func:`qpvgeo.readers.environment.read_air_stations`); for each pollutant the
      nearest station *that measures it* gives the value, with its code and distance.

    Population weighting: each population polygon (grid cell) takes the mean concentration
    over it; population and population x concentration are then transferred to the zones
    by the same estimator (:mod:`qpvgeo.interpolate`), and their ratio is the mean.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    raster
        GeoTIFF path (bands named by ``raster_pollutants``) or a mapping pollutant -> path
        of one-band rasters, concentrations in µg/m³; the raster must declare its CRS.
    grid
        Polygons with pollutant columns (``no2``, ``pm10``, ``pm25``, µg/m³), in any CRS.
    stations
        Points with pollutant columns and, when known, ``code_station``
        (:func:`qpvgeo.readers.environment.read_air_stations`).
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column: raster
        and grid means are then weighted by population (not used for stations).
    key
        Zone identifier column.
    pollutants
        Pollutant columns to read from ``grid`` / ``stations`` (default ``no2``,
        ``pm10``, ``pm25``); a single raster's band is named after the first of them.
    raster_pollutants
        One pollutant name per band of a single ``raster`` path (its band count must
        match); default: the first of ``pollutants``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        ``no2``, ``pm10``, ``pm25`` (µg/m³); raster/grid: ``part_surface_couverte_air``
        (share of the zone covered by the layer); stations: ``<p>_station``,
        ``<p>_distance_station_m``. ``attrs["ponderation"]`` says ``"population"``,
        ``"surface"`` or ``"station la plus proche"``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> g = gpd.GeoDataFrame({"no2": [10.0, 30.0]},
    ...                      geometry=[box(0, 0, 25, 100), box(25, 0, 200, 100)], crs=2154)
    >>> air_exposure(z, grid=g, pollutants=["no2"])["no2"].tolist()
    [25.0]
    """
    z = _prepare_zones(zones, key)
    given = [
        n for n, v in (("raster", raster), ("grid", grid), ("stations", stations)) if v is not None
    ]
    if len(given) != 1:
        raise QpvgeoError(
            f"air_exposure: give exactly one of raster=, grid=, stations= (got {given})"
        )
    pollutants = list(pollutants)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    out: dict[str, Any] = {}
    if stations is not None:
        layer = _prepare_layer(stations, what="stations", zones=z, polygons=False, reach=np.inf)
        present = [p for p in pollutants if p in layer.columns]
        if not present and len(layer):
            raise SchemaError(
                f"stations: no pollutant column among {pollutants}; columns: {list(layer.columns)}"
            )
        geoms = np.asarray(layer.geometry.array, dtype=object)
        code_col = schema.CODE_STATION if schema.CODE_STATION in layer.columns else None
        labels = (
            layer[code_col].astype("string").to_numpy(dtype=object)
            if code_col
            else np.asarray(layer.index.astype(str), dtype=object)
        )
        for p in pollutants:
            vals = (
                pd.to_numeric(layer[p], errors="coerce").to_numpy(dtype=float)
                if p in layer.columns
                else np.full(len(layer), np.nan)
            )
            ok = ~np.isnan(vals)
            dist, lab = _nearest(z.geoms, geoms[ok], np.arange(int(ok.sum())))
            value = np.full(len(z.geoms), np.nan)
            code = np.full(len(z.geoms), None, dtype=object)
            found = ~np.isnan(dist)
            idx = lab[found].astype(int)
            value[found] = vals[ok][idx]
            code[found] = labels[ok][idx]
            out[p], out[f"{p}_station"], out[f"{p}_distance_station_m"] = value, code, dist
        frame = _frame(out, z, layer="stations")
        frame.attrs["ponderation"] = "station la plus proche"
        return frame

    if raster is not None:
        if isinstance(raster, Mapping):
            sources = [(p, path, [p]) for p, path in raster.items()]
        else:
            bands = list(raster_pollutants) if raster_pollutants else pollutants[:1]
            sources = [(None, raster, bands)]
        names: list[str] = []
        blocks: list[Callable[[np.ndarray], np.ndarray]] = []
        for _, path, bands in sources:
            names.extend(bands)
            blocks.append(functools.partial(_raster_means_of, path, bands))

        def values_of(polys: np.ndarray) -> np.ndarray:
            return np.column_stack([b(polys) for b in blocks])

        covered = _raster_coverage(sources, z)
        layer_name = "raster"
    else:
        layer = _prepare_layer(grid, what="air grid", zones=z, polygons=True, keep=0.0)
        names = [p for p in pollutants if p in layer.columns]
        if not names:
            raise SchemaError(
                f"air grid: no pollutant column among {pollutants}; columns: {list(layer.columns)}"
            )
        src_geoms = np.asarray(layer.geometry.array, dtype=object)
        src_vals = (
            np.column_stack(
                [pd.to_numeric(layer[p], errors="coerce").to_numpy(dtype=float) for p in names]
            )
            if len(layer)
            else np.zeros((0, len(names)))
        )

        def values_of(polys: np.ndarray) -> np.ndarray:
            return _zonal_mean(polys, src_geoms, src_vals)[0]

        covered = _zonal_mean(z.geoms, src_geoms, src_vals)[1]
        layer_name = "air grid"
    if ctx.population is not None:
        means = _weighted_by_population(z, ctx, values_of, names)
        weighting = "population"
    else:
        means = values_of(z.geoms)
        weighting = "surface"
    for j, p in enumerate(names):
        out[p] = means[:, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_surface_couverte_air"] = np.where(
            z.area > 0, np.minimum(covered / z.area, 1.0), np.nan
        )
    frame = _frame(_population_columns(out, z, ctx), z, layer=layer_name)
    frame.attrs["ponderation"] = weighting
    return frame


def _raster_means_of(path: Any, bands: Sequence[str], polys: np.ndarray) -> np.ndarray:
    return _raster_means(path, polys, bands)


def _raster_coverage(sources: list, zones: _Zones) -> np.ndarray:
    """Area of each zone covered by the first raster's extent (pixels off the grid have no data)."""
    import rasterio

    path = sources[0][1]
    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    extent = (
        gpd.GeoSeries([shapely.box(left, bottom, right, top)], crs=crs).to_crs(schema.CRS).iloc[0]
    )
    return shapely.area(shapely.intersection(zones.geoms, extent))
