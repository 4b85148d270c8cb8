"""Raster zonal means of ``air_exposure``: qpvgeo's exactextract inputs (polygons as WKB,
windows read as plain arrays) against exactextract's own (a GeoDataFrame and a path).

Both run the same exactextract computation on the same pixels and polygons, so the means
must be bit-identical (``assert_array_equal``, no tolerance): nodata pixels, NaN pixels,
several bands, a scaled band (qpvgeo then keeps exactextract's masked reader) and a raster
in another CRS than Lambert-93.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from qpvgeo.exposure import air_exposure
from qpvgeo.exposure.air import _raster_means

rasterio = pytest.importorskip("rasterio")
exactextract = pytest.importorskip("exactextract")


def _raster(path, values, *, crs="EPSG:2154", origin=(700000, 6601000), res=100.0,
            nodata=None, scale=None):
    from rasterio.transform import from_origin

    count, height, width = values.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count,
                       dtype=values.dtype, crs=crs, nodata=nodata,
                       transform=from_origin(*origin, res, res)) as dst:
        dst.write(values)
        if scale is not None:
            dst.scales = (scale,) * count
    return path


def _zones():
    rng = np.random.default_rng(5)
    x = 700000 + rng.uniform(-300, 2800, 40)
    y = 6598000 + rng.uniform(-300, 2800, 40)
    geoms = [box(a, b, a + w, b + h).buffer(30, quad_segs=3)
             for a, b, w, h in zip(x, y, rng.uniform(50, 700, 40), rng.uniform(50, 700, 40),
                                   strict=True)]
    return gpd.GeoDataFrame({"code_qpv": [f"QN{i:05d}M" for i in range(40)]},
                            geometry=geoms, crs=2154)


def _exactextract_means(path, zones):
    res = exactextract.exact_extract(str(path), zones[["code_qpv", "geometry"]], "mean",
                                     include_cols=["code_qpv"], output="pandas")
    cols = [c for c in res.columns if c != "code_qpv"]
    return res[cols].to_numpy(dtype=float)


def _values(rng, bands=1):
    return (rng.gamma(4, 5, (bands, 30, 30))).astype("float32")


def test_means_bit_identical_with_nodata_and_nan(tmp_path):
    rng = np.random.default_rng(1)
    v = _values(rng)
    v[0, 5:12, 3:9] = -9999.0  # nodata pixels under some zones
    v[0, 20:23, 10:25] = np.nan  # NaN pixels: no value either
    path = _raster(tmp_path / "no2.tif", v, nodata=-9999.0)
    zones = _zones()  # some zones reach outside the raster (NA or partial means)
    ours = _raster_means(path, np.asarray(zones.geometry.array, dtype=object), ["no2"])
    theirs = _exactextract_means(path, zones)
    np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(ours).any() and np.isfinite(ours).sum() > 30
    r = air_exposure(zones, raster={"no2": path}, pollutants=["no2"])
    np.testing.assert_array_equal(r["no2"].to_numpy(), theirs[:, 0])


def test_means_bit_identical_for_several_bands_a_scale_and_another_crs(tmp_path):
    rng = np.random.default_rng(2)
    zones = _zones()
    geoms = np.asarray(zones.geometry.array, dtype=object)
    # two bands with one nodata value: the plain reader, one column per band
    v = _values(rng, 2)
    v[1, 0:8, 0:8] = -1.0
    two = _raster(tmp_path / "two.tif", v, nodata=-1.0)
    np.testing.assert_array_equal(_raster_means(two, geoms, ["no2", "pm10"]),
                                  _exactextract_means(two, zones))
    # a scaled band: exactextract's own (masked, scaled) reader is kept
    scaled = _raster(tmp_path / "scaled.tif", (v[:1] * 10).astype("int16"), nodata=-10,
                     scale=0.1)
    np.testing.assert_array_equal(_raster_means(scaled, geoms, ["no2"]),
                                  _exactextract_means(scaled, zones))
    # a raster in EPSG:3035: the zones are reprojected into its CRS by qpvgeo and by
    # geopandas (the same PROJ pipeline), then the same exactextract computation
    laea = _raster(tmp_path / "laea.tif", _values(rng), crs="EPSG:3035",
                   origin=(3_783_500, 2_625_500), res=150.0)
    zones_laea = zones.to_crs(3035)
    ours = _raster_means(laea, geoms, ["no2"])
    theirs = _exactextract_means(laea, zones_laea)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)  # to_crs vs shapely.transform
    assert np.isfinite(ours).any()
