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
    _QUAD_SEGS,
    _frame,
    _lattice,
    _nearest,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
    _weighted_by_population,
    _zonal_mean,
    _Zones,
    zones_population,
)

#: Largest distance (m) at which an air station's annual mean stands for a zone. The EU
#: air-quality directive (2008/50/EC, annex III B) says an urban-background station is
#: representative of "several square kilometres": 2 km from the zone's edge (a disc of
#: 12.6 km²) is the urban-background reach used here. Beyond it the value is NA (the
#: distance to the nearest station is still reported).
STATION_MAX_DISTANCE = 2000.0
#: WHO 2021 air-quality guidelines, annual means (µg/m³).
WHO_2021: dict[str, float] = {"no2": 10.0, "pm25": 5.0, "pm10": 15.0}
#: Limit values of the revised EU directive (2024/2881) applicable from 2030, annual
#: means (µg/m³).
EU_2030: dict[str, float] = {"no2": 20.0, "pm25": 10.0, "pm10": 20.0}
#: Thresholds reported by :func:`air_exposure`, by name (the column infix).
THRESHOLDS: dict[str, dict[str, float]] = {"oms_2021": WHO_2021, "ue_2030": EU_2030}
_WORDS = {"no2": "NO₂", "pm10": "PM10", "pm25": "PM2,5",
          "oms_2021": "des lignes directrices OMS 2021", "ue_2030": "des valeurs limites UE 2030"}


def pollutant_words(group: str) -> str:
    """French words for a pollutant or threshold group of a column name.

    Examples
    --------
    >>> pollutant_words("pm25"), pollutant_words("oms_2021")
    ('PM2,5', 'des lignes directrices OMS 2021')
    """
    return _WORDS.get(group, group)


def _kind_of(data: Any) -> str:
    if isinstance(data, gpd.GeoDataFrame):
        kinds = set(shapely.get_type_id(np.asarray(data.geometry.array, dtype=object)).tolist())
        return "stations" if kinds <= {0, 4} else "grid"
    return "raster"


def air_extent(data: Any, *, max_distance: float = STATION_MAX_DISTANCE,
               pollutants: Sequence[str] = schema.POLLUTANTS, **_: Any) -> Any:
    """Where an air layer holds data: ``max_distance`` around stations with a value, the
    cells of a grid that carry a value, the footprint of a raster.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> st = gpd.GeoDataFrame({"no2": [20.0]}, geometry=[Point(0, 0)], crs=2154)
    >>> round(air_extent(st, max_distance=100).area / 31415.9, 3)
    1.0
    """
    kind = _kind_of(data)
    if kind == "raster":
        import rasterio

        paths = list(data.values()) if isinstance(data, Mapping) else [data]
        boxes = []
        for path in paths:
            with rasterio.open(path) as src:
                left, bottom, right, top = src.bounds
                crs = src.crs
            if crs is None:
                raise _missing_crs(path)
            boxes.append(gpd.GeoSeries([shapely.box(left, bottom, right, top)], crs=crs)
                         .to_crs(schema.CRS).iloc[0])
        return shapely.intersection_all(boxes)
    frame = schema.to_canonical_crs(data, what="air")
    cols = [p for p in pollutants if p in frame.columns]
    if not cols:
        return None
    has = frame[cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1).to_numpy()
    geoms = np.asarray(frame.geometry.array, dtype=object)[has]
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if kind == "stations":
        return shapely.union_all(shapely.buffer(geoms, max_distance, quad_segs=_QUAD_SEGS))
    geoms = shapely.make_valid(geoms)
    lattice = _lattice(geoms)
    if lattice is not None and not lattice.duplicated().any():
        # Distinct squares of one regular grid meet edge to edge: a valid coverage,
        # known without GEOS's check (1 s for 175,000 cells).
        return shapely.coverage_union_all(geoms)
    if shapely.coverage_is_valid(geoms):
        # Cells that neither overlap nor meet askew (a regular grid): the same union from
        # their shared edges, for a third of the cost (3.4 s -> 1.4 s for 175,000 cells).
        return shapely.coverage_union_all(geoms)
    return shapely.union_all(geoms)


def same_station(zone_values: pd.DataFrame, env_values: pd.DataFrame) -> dict[str, pd.Series]:
    """Rows where a zone and its surroundings take a pollutant from the same station.

    The ratio QPV / surroundings is then 1 by construction and says nothing: it is NA.

    Examples
    --------
    >>> import pandas as pd
    >>> z = pd.DataFrame({"no2_station": ["A", "B"]}, index=["q1", "q2"])
    >>> e = pd.DataFrame({"no2_station": ["A", "C"]}, index=["q1", "q2"])
    >>> same_station(z, e)["no2"].tolist()
    [True, False]
    """
    out = {}
    for p in schema.POLLUTANTS:
        col = f"{p}_station"
        if col in zone_values.columns and col in env_values.columns:
            a = zone_values[col].astype("string")
            b = env_values[col].reindex(zone_values.index).astype("string")
            out[p] = (a == b).fillna(False).astype(bool)
    return out



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
        geoms = polygons[keep]
        tr = _to_raster_crs(crs.to_wkt())
        if tr is not None:  # the raster's own CRS: no reprojection, one transformer per CRS
            geoms = shapely.transform(
                geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        # exactextract's own sources for a GeoDataFrame and a path cost more than its
        # computation: each polygon to GeoJSON text (json.dumps of __geo_interface__) and
        # each window read as a numpy masked array. The same polygons go in as WKB and
        # the same pixels as plain arrays with the band's nodata value (exactextract
        # skips it and NaN, as the mask would): same cells, fractions and means.
        features, sources = _exactextract_inputs(src, geoms, np.flatnonzero(keep))
        res = exact_extract(sources, features, "mean", include_cols=["_i"], output="pandas")
    cols = [c for c in res.columns if c != "_i"]
    # exactextract names the columns "mean" (one band) or "band_1_mean"… (several).
    ordered = cols if len(cols) == len(bands) else None
    if ordered is None:
        raise SchemaError(f"{raster}: exactextract returned columns {cols} for bands {list(bands)}")
    out[res["_i"].to_numpy()] = res[ordered].to_numpy(dtype=float)
    return out


@functools.lru_cache(maxsize=16)
def _to_raster_crs(crs_wkt: str):
    """A transformer from EPSG:2154 to a raster's CRS, None when it already is EPSG:2154."""
    from pyproj import CRS, Transformer

    crs = CRS.from_wkt(crs_wkt)
    if crs.equals(CRS.from_user_input(schema.CRS)):
        return None
    return Transformer.from_crs(schema.CRS, crs, always_xy=True)


def _missing_crs(path: Any) -> QpvgeoError:
    from qpvgeo.errors import MissingCRSError

    return MissingCRSError(f"{path}: the raster declares no CRS")


def air_exposure(
    zones: gpd.GeoDataFrame,
    data: Any = None,
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
    max_distance: float = STATION_MAX_DISTANCE,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Mean annual concentration (NO2, PM10, PM2.5) of each zone, from a raster, a grid or stations.

    Give exactly one of ``data`` (its kind is recognised: points are stations, polygons a
    grid, anything else a raster path), ``raster``, ``grid``, ``stations``.

    - ``raster``: a GeoTIFF path whose bands are named by ``raster_pollutants`` (one
      band: the first of ``pollutants`` by default), or a mapping pollutant -> path.
      The zone mean weights each pixel by the fraction of it covered by the zone
      (exactextract), or, with a population, by the population it holds.
    - ``grid``: polygons with pollutant columns (a modelled concentration grid); means
      are weighted by overlap area, or by population.
    - ``stations``: points with pollutant columns (annual means,
      :func:`qpvgeo.readers.environment.read_air_stations`); for each pollutant the
      nearest station *that measures it* gives the value, with its code and distance,
      when it lies within ``max_distance`` of the zone (:data:`STATION_MAX_DISTANCE`,
      2 km: the urban-background representativeness of the EU directive); farther, the
      value is NA and the distance is still reported. A station list without any
      concentration (LCSQA locations) is an error naming the missing columns.

    Thresholds (:data:`THRESHOLDS`: WHO 2021 guidelines NO2 10, PM2.5 5, PM10 15 µg/m³;
    EU 2030 limits NO2 20, PM2.5 10, PM10 20 µg/m³): ``part_population_sup_<seuil>_<p>``
    and ``population_sup_<seuil>_<p>`` with a population (the population of the grid
    cells whose mean concentration is above the threshold, strictly), else
    ``part_surface_sup_<seuil>_<p>`` for a grid. With stations the whole zone takes the
    station's value, so the share is 0 or 1.

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
    max_distance
        Stations only: farthest station used, metres from the zone's edge.
    thresholds
        ``{name: {pollutant: µg/m³}}``; default :data:`THRESHOLDS`; ``{}`` for none.
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_air`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        ``no2``, ``pm10``, ``pm25`` (µg/m³), the threshold columns; raster/grid:
        ``part_surface_couverte_air`` (share of the zone covered by the layer);
        stations: ``<p>_station``, ``<p>_distance_station_m``. ``attrs["ponderation"]``
        says ``"population"``, ``"surface"`` or ``"station la plus proche"``.

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
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        layer = data if data is not None else next(
            (v for v in (raster, grid, stations) if v is not None), None)
        return covered_indicator(
            "air", air_exposure, zones, layer, coverage, key=key, population=population,
            population_method=population_method, ancillary=ancillary,
            pollutants=pollutants, raster_pollutants=raster_pollutants,
            max_distance=max_distance, thresholds=thresholds,
        )
    z = _prepare_zones(zones, key)
    if data is not None:
        if raster is not None or grid is not None or stations is not None:
            raise QpvgeoError(
                "air_exposure: give the layer once (data, or raster= / grid= / stations=)"
            )
        kind = _kind_of(data)
        raster, grid, stations = (
            data if kind == k else None for k in ("raster", "grid", "stations")
        )
    thresholds = THRESHOLDS if thresholds is None else thresholds
    if max_distance <= 0:
        raise QpvgeoError(f"air_exposure: max_distance must be > 0 metres, got {max_distance}")
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
        present = [
            p for p in pollutants
            if p in layer.columns and pd.to_numeric(layer[p], errors="coerce").notna().any()
        ]
        if not present and len(layer):
            absent = [p for p in pollutants if p not in layer.columns]
            empty = [p for p in pollutants if p in layer.columns]
            raise SchemaError(
                "stations: no annual mean to use — "
                + (f"columns {absent} are missing" if absent else "")
                + ("; " if absent and empty else "")
                + (f"columns {empty} hold no value" if empty else "")
                + f" (columns present: {list(layer.columns)}); a station list without "
                "concentrations (LCSQA locations) cannot give an exposure"
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
            found = ~np.isnan(dist) & (dist <= max_distance)
            idx = lab[found].astype(int)
            value[found] = vals[ok][idx]
            code[found] = labels[ok][idx]
            out[p], out[f"{p}_station"], out[f"{p}_distance_station_m"] = value, code, dist
        ctx = _population_context(z, population, population_method, ancillary=ancillary)
        for name, limits in thresholds.items():
            for p in pollutants:
                if p not in limits:
                    continue
                with np.errstate(invalid="ignore"):
                    above = np.where(np.isnan(out[p]), np.nan, (out[p] > limits[p]) * 1.0)
                if ctx.population is not None:
                    out[f"part_population_sup_{name}_{p}"] = above
                    pop = zones_population(z, ctx)
                    out[f"population_sup_{name}_{p}"] = above * pop
                else:
                    out[f"part_surface_sup_{name}_{p}"] = above
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
        # With a population, values are measured on the cells near the zones: keep
        # every air cell those cells can meet, not only those over the zones' boxes.
        reach = ctx.reach if ctx.population is not None else 0.0
        layer = _prepare_layer(grid, what="air grid", zones=z, polygons=True, keep=reach)
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
    limits = [(n, p, lim[p]) for n, lim in thresholds.items() for p in names if p in lim]
    if ctx.population is not None:
        means, above = _weighted_by_population(z, ctx, values_of, names, above=limits)
        weighting = "population"
    else:
        means = values_of(z.geoms)
        above = None
        if limits and grid is not None:
            # Area above a threshold: the area-weighted mean of the 0/1 indicator.
            flags = np.column_stack([np.where(np.isnan(src_vals[:, names.index(p)]), np.nan,
                                              (src_vals[:, names.index(p)] > t) * 1.0)
                                     for _, p, t in limits])
            share = _zonal_mean(z.geoms, src_geoms, flags)[0]
            for j, (n, p, _) in enumerate(limits):
                out[f"part_surface_sup_{n}_{p}"] = share[:, j]
        weighting = "surface"
    for j, p in enumerate(names):
        out[p] = means[:, j]
    if above is not None:
        pop = zones_population(z, ctx)
        for j, (n, p, _) in enumerate(limits):
            out[f"part_population_sup_{n}_{p}"] = above[:, j]
            out[f"population_sup_{n}_{p}"] = above[:, j] * pop
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_surface_couverte_air"] = np.where(
            z.area > 0, np.minimum(covered / z.area, 1.0), np.nan
        )
    frame = _frame(_population_columns(out, z, ctx), z, layer=layer_name)
    frame.attrs["ponderation"] = weighting
    return frame


def _raster_means_of(path: Any, bands: Sequence[str], polys: np.ndarray) -> np.ndarray:
    return _raster_means(path, polys, bands)


def _exactextract_inputs(src: Any, geoms: np.ndarray, ids: np.ndarray):
    """exactextract sources: ``geoms`` (in the raster's CRS) as WKB, the open raster ``src``."""
    import rasterio
    from exactextract.exact_extract import prep_raster
    from exactextract.feature import Feature, FeatureSource
    from exactextract.raster import RasterioRasterSource

    crs_wkt = src.crs.to_wkt()

    class WkbFeature(Feature):
        def __init__(self, i, wkb):
            Feature.__init__(self)
            self.i, self.wkb = i, wkb

        def get(self, name):
            return self.i

        def fields(self):
            return ["_i"]

        def geometry(self):
            return self.wkb

        def set_geometry_format(self):
            return "wkb"

    class WkbSource(FeatureSource):
        def __init__(self):
            super().__init__()
            self.wkb = shapely.to_wkb(geoms)  # one vectorised call

        def count(self):
            return len(self.wkb)

        def __iter__(self):
            for i, wkb in zip(ids.tolist(), self.wkb, strict=True):
                yield WkbFeature(i, wkb)

        def srs_wkt(self):
            return crs_wkt

    class PlainSource(RasterioRasterSource):
        def read_window(self, x0, y0, nx, ny):
            return self.ds.read(self.band_idx, window=rasterio.windows.Window(x0, y0, nx, ny))

    # a plain read is the masked one when the only mask is one nodata value (or none)
    # and the values are not scaled; anything else keeps exactextract's own reader
    valid = {rasterio.enums.MaskFlags.nodata, rasterio.enums.MaskFlags.all_valid}
    plain = (all(set(flags) <= valid for flags in src.mask_flag_enums)
             and len(set(src.nodatavals)) == 1
             and all(s == 1.0 for s in src.scales) and all(o == 0.0 for o in src.offsets))
    if not plain:
        return WkbSource(), prep_raster(src)
    names = [""] if src.count == 1 else [f"band_{k + 1}" for k in range(src.count)]
    return WkbSource(), [PlainSource(src, k + 1, name=names[k]) for k in range(src.count)]


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
    # a zone inside the extent is covered by its whole area: no overlay
    shapely.prepare(extent)
    inside = shapely.contains_properly(extent, zones.geoms)
    covered = shapely.area(zones.geoms)
    covered[~inside] = shapely.area(shapely.intersection(zones.geoms[~inside], extent))
    return covered


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """A 500 m NO2 / PM10 / PM2.5 grid over the demo territory (peak along the port road)."""
    x0, y0 = base.territory.bounds[:2]
    xmin, ymin, xmax, ymax = base.territory.bounds
    xs = np.arange(xmin, xmax, 500.0)
    ys = np.arange(ymin, ymax, 500.0)
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    cells = shapely.box(x, y, x + 500, y + 500)
    # NO2 peaks along the port road and decays inland; particles follow more softly.
    kx, ky = (x + 250 - x0) / 1000, (y + 250 - y0) / 1000
    road = np.abs(ky - (6.8 - 0.12 * kx))
    no2 = np.round(12 + 22 * np.exp(-road / 1.2) + 6 * np.exp(-((kx - 4.5) ** 2) / 8), 1)
    pm10 = np.round(14 + 0.35 * no2, 1)
    pm25 = np.round(7 + 0.22 * no2, 1)
    return gpd.GeoDataFrame({"no2": no2, "pm10": pm10, "pm25": pm25}, geometry=cells,
                            crs=schema.CRS)
