"""Compact GeoJSON for exported maps: integer coordinate deltas, decoded in the page.

The contours are already simplified and rounded to ``10**-precision`` degrees
(:func:`qpvgeo.maps.web_geometries`). Written as GeoJSON they still cost about 20
characters per vertex (``[-1.56898, 43.69069], ``), which is 85 % of a national map.
Rounded coordinates are integers in units of ``10**-precision`` degrees, and two
successive vertices of a contour are a few metres apart, so each ring is written as
its first vertex followed by the *differences* between successive vertices
(``-156898,4369069,35,11,-35,10…``): 6-9 characters per vertex. The coordinates are
exactly the rounded ones (integer arithmetic both ways); the page turns the packed
rings back into GeoJSON before Leaflet sees them, with :data:`UNPACK_JS` (inlined once).

Only embedded layers whose geometries are all (multi)polygons or lines are packed;
points and anything else are written as folium writes them. The Python objects
(``layer.data``) are never changed: the packed text is built at render time.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__: list[str] = []

#: Geometry types packed (their coordinates are lists of rings / lines).
_DEPTH = {"LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}

#: Decoder inlined once in the page: ``qpvgeoUnpack(fc)`` returns GeoJSON.
UNPACK_JS = """
function qpvgeoUnpack(fc) {
  if (!fc || !fc.qpvgeo_pack) { return fc; }
  var k = Math.pow(10, -fc.qpvgeo_pack);
  function line(d) {
    var out = new Array(d.length / 2), x = 0, y = 0;
    for (var i = 0; i < d.length; i += 2) {
      x += d[i]; y += d[i + 1];
      out[i / 2] = [+(x * k).toFixed(fc.qpvgeo_pack), +(y * k).toFixed(fc.qpvgeo_pack)];
    }
    return out;
  }
  function walk(d, depth) {
    if (depth === 1) { return line(d); }
    return d.map(function (p) { return walk(p, depth - 1); });
  }
  var depth = {LineString: 1, MultiLineString: 2, Polygon: 2, MultiPolygon: 3};
  function geom(g) {
    if (g && g.geometries) { g.geometries.forEach(geom); }
    if (g && g.d !== undefined) {
      g.coordinates = walk(g.d, depth[g.type]);
      delete g.d;
    }
  }
  fc.features.forEach(function (f) { geom(f.geometry); });
  delete fc.qpvgeo_pack;
  return fc;
}
"""


class _Inexact(ValueError):
    """A coordinate is not a whole number of ``10**-precision`` degrees."""


def _pack_line(coords: list, scale: float) -> list[int]:
    """First vertex then successive differences, in units of ``1/scale`` degrees."""
    xy = np.asarray(coords, dtype=float)[:, :2] * scale
    a = np.rint(xy)
    # never a silently moved vertex: only coordinates already on the grid are packed
    if not np.all(np.abs(xy - a) <= 1e-6):
        raise _Inexact
    a = a.astype(np.int64)
    a[1:] -= a[:-1].copy()
    return a.ravel().tolist()


def _pack_coords(coords: Any, depth: int, scale: float) -> list:
    if depth == 1:
        return _pack_line(coords, scale)
    return [_pack_coords(c, depth - 1, scale) for c in coords]


def _packable_geometry(g: Any) -> bool:
    if g is None:
        return True
    if g.get("type") == "GeometryCollection":
        # a repaired contour can be a polygon and a stray line
        return all(_packable_geometry(m) for m in g.get("geometries", ()))
    return g.get("type") in _DEPTH


def packable(fc: Any) -> bool:
    """True when every feature of ``fc`` has line or polygon geometries (or none)."""
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        return False
    feats = fc.get("features")
    if not isinstance(feats, list) or not feats:
        return False
    return all(_packable_geometry(f.get("geometry")) for f in feats)


def _pack_geometry(g: dict, scale: float) -> dict:
    out = {k: v for k, v in g.items() if k not in ("coordinates", "geometries")}
    if g["type"] == "GeometryCollection":
        out["geometries"] = [_pack_geometry(m, scale) for m in g["geometries"]]
    else:
        out["d"] = _pack_coords(g["coordinates"], _DEPTH[g["type"]], scale)
    return out


def _unpack_geometry(g: dict, precision: int) -> dict:
    out = {k: v for k, v in g.items() if k not in ("d", "geometries")}
    if g["type"] == "GeometryCollection":
        out["geometries"] = [_unpack_geometry(m, precision) for m in g["geometries"]]
    elif "d" in g:
        out["coordinates"] = _unpack_coords(g["d"], _DEPTH[g["type"]], precision)
    else:
        out["coordinates"] = g.get("coordinates")
    return out


def pack_geojson(fc: dict, *, precision: int = 5) -> dict | None:
    """Return a copy of a FeatureCollection with delta-packed coordinates.

    Parameters
    ----------
    fc : dict
        A GeoJSON FeatureCollection of lines and polygons, coordinates in degrees
        rounded to ``precision`` decimals.
    precision : int, default 5
        Decimals of the coordinates.

    Returns
    -------
    dict or None
        The collection with ``"qpvgeo_pack": precision`` and each geometry's
        ``coordinates`` replaced by ``d`` (integer deltas); None when a coordinate has
        more decimals than ``precision`` (packing would move it): write it as GeoJSON.

    Examples
    --------
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
    ...       "properties": {}, "geometry": {"type": "Polygon",
    ...       "coordinates": [[[3.1, 50.6], [3.10002, 50.6], [3.1, 50.60001], [3.1, 50.6]]]}}]}
    >>> pack_geojson(fc)["features"][0]["geometry"]["d"]
    [[310000, 5060000, 2, 0, -2, 1, 0, -1]]
    >>> unpack_geojson(pack_geojson(fc)) == fc
    True
    """
    scale = 10.0 ** precision
    feats = []
    for f in fc["features"]:
        g = f.get("geometry")
        if g is not None:
            try:
                g = _pack_geometry(g, scale)
            except _Inexact:
                return None
        feats.append({**f, "geometry": g})
    return {**{k: v for k, v in fc.items() if k != "features"},
            "qpvgeo_pack": int(precision), "features": feats}


def _unpack_line(d: list, precision: int) -> list:
    a = np.cumsum(np.asarray(d, dtype=np.int64).reshape(-1, 2), axis=0)
    return [[round(float(x) / 10**precision, precision), round(float(y) / 10**precision,
                                                                precision)] for x, y in a]


def _unpack_coords(d: Any, depth: int, precision: int) -> list:
    if depth == 1:
        return _unpack_line(d, precision)
    return [_unpack_coords(c, depth - 1, precision) for c in d]


def unpack_geojson(fc: dict) -> dict:
    """The GeoJSON of a packed collection (what the page's decoder gives); others as given.

    Parameters
    ----------
    fc : dict
        A collection written by :func:`pack_geojson` (or any GeoJSON, returned as is).

    Returns
    -------
    dict

    Examples
    --------
    >>> packed = {"type": "FeatureCollection", "qpvgeo_pack": 5, "features": [
    ...     {"type": "Feature", "properties": {},
    ...      "geometry": {"type": "LineString", "d": [310000, 5060000, 2, -1]}}]}
    >>> unpack_geojson(packed)["features"][0]["geometry"]["coordinates"]
    [[3.1, 50.6], [3.10002, 50.59999]]
    """
    if "qpvgeo_pack" not in fc:
        return fc
    p = int(fc["qpvgeo_pack"])
    feats = []
    for f in fc["features"]:
        g = f.get("geometry")
        feats.append({**f, "geometry": None if g is None else _unpack_geometry(g, p)})
    return {**{k: v for k, v in fc.items() if k not in ("features", "qpvgeo_pack")},
            "features": feats}


def script_json(obj: Any) -> str:
    """Compact JSON that is safe inside ``<script>`` (as Jinja's ``tojson`` escapes it)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
