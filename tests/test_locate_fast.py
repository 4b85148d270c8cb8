"""The fast paths of :func:`qpvgeo.locate._locate` against the direct computation.

``_locate`` finds the candidate (point, QPV) pairs by arithmetic on the boxes, tests
point-in-polygon from the coordinates on prepared polygons, drops pairs whose box is
farther than ``max_distance``, measures distances on prepared boundaries, in two threads.
The direct computation below does none of that: every point against every QPV with plain
shapely calls. Both must agree exactly (``array_equal``, no tolerance): the same GEOS
predicates and the same point-to-segment distances, only fewer of them.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from qpvgeo import locate as locate_module
from qpvgeo.locate import _locate


def _qpv(rng, n=60):
    cx = rng.uniform(0, 40_000, n)
    cy = rng.uniform(0, 40_000, n)
    r = rng.uniform(150, 900, n)
    polys = shapely.buffer(shapely.points(cx, cy), r, quad_segs=8)
    # irregular outlines, two overlapping QPV (simplified layers do overlap) and an empty
    polys = shapely.simplify(shapely.intersection(
        polys, shapely.box(cx - r, cy - 0.6 * r, cx + 0.8 * r, cy + r)), 5.0)
    polys[1] = shapely.buffer(polys[0], 120.0)
    polys[5] = shapely.Polygon()
    return polys


def _points(rng, polys, n=12_000):
    x = rng.uniform(-2_000, 42_000, n)
    y = rng.uniform(-2_000, 42_000, n)
    # points exactly on edges (vertices) and exactly at a box corner
    ring = shapely.get_coordinates(shapely.boundary(polys[2]))
    x[:len(ring)], y[:len(ring)] = ring[:, 0], ring[:, 1]
    x0, y0 = shapely.bounds(polys[3])[:2]
    x[len(ring)], y[len(ring)] = x0 - 1000.0, y0
    return x, y


def _direct(x, y, polys, max_distance):
    n, usable = len(x), np.flatnonzero(~shapely.is_empty(polys))
    pts = shapely.points(x, y)
    hits = shapely.intersects(pts[:, None], polys[usable][None, :])
    n_inside = hits.sum(axis=1)
    inside = np.where(n_inside > 0, usable[np.argmax(hits, axis=1)], -1)
    dist = shapely.distance(pts[:, None], shapely.boundary(polys[usable])[None, :])
    best = dist.min(axis=1)
    which = usable[np.argmin(dist, axis=1)]  # the first QPV at the smallest distance
    held = inside >= 0
    own = dist[np.arange(n), np.searchsorted(usable, np.maximum(inside, 0))]
    distance = np.where(held, np.fmin(own, best), best)
    nearest = np.where(held, inside, which)
    if max_distance is not None:
        far = ~held & (best > max_distance)
        distance[far], nearest[far] = np.nan, -1
    return inside, n_inside, distance, nearest


@pytest.mark.parametrize("max_distance", [1000.0, 250.0, None])
def test_locate_fast_paths_equal_the_direct_computation(monkeypatch, max_distance):
    rng = np.random.default_rng(11)
    polys = _qpv(rng)
    x, y = _points(rng, polys)
    found = _locate(x, y, polys, max_distance=max_distance)
    inside, n_inside, distance, nearest = _direct(x, y, polys, max_distance)
    np.testing.assert_array_equal(found.inside, inside)
    np.testing.assert_array_equal(found.n_inside, n_inside)
    np.testing.assert_array_equal(found.distance, distance)
    held = inside >= 0
    # outside, the nearest QPV; inside, the QPV holding the point
    np.testing.assert_array_equal(found.nearest[~held], nearest[~held])
    np.testing.assert_array_equal(found.nearest[held], inside[held])
    assert (n_inside > 1).any() and (distance == 0).any() and np.isnan(distance).any() == (
        max_distance is not None)
    assert not shapely.is_prepared(polys).any()  # the caller's geometries left as they were


def test_distances_in_two_threads_equal_one_call():
    rng = np.random.default_rng(4)
    polys = _qpv(rng)
    edges = shapely.boundary(polys[rng.integers(6, 60, 150_000)])
    pts = shapely.points(rng.uniform(0, 40_000, 150_000), rng.uniform(0, 40_000, 150_000))
    plain = shapely.distance(pts, edges)
    np.testing.assert_array_equal(locate_module._distances(pts, edges), plain)
    shapely.prepare(edges)  # GEOS' indexed facet distance: the same minimum
    np.testing.assert_array_equal(locate_module._distances(pts, edges), plain)


def test_box_pairs_equal_the_box_test():
    rng = np.random.default_rng(8)
    lo = rng.uniform(0, 1000, (300, 2))
    boxes = np.column_stack([lo, lo + rng.uniform(0, 200, (300, 2))])
    x, y = rng.uniform(-50, 1250, 20_000), rng.uniform(-50, 1250, 20_000)
    x[:300], y[:300] = boxes[:, 2], boxes[:, 1]  # on a box's edge: included
    p, q = locate_module._box_pairs(x, y, boxes)
    inside = ((boxes[None, :, 0] <= x[:, None]) & (x[:, None] <= boxes[None, :, 2])
              & (boxes[None, :, 1] <= y[:, None]) & (y[:, None] <= boxes[None, :, 3]))
    ep, eq = np.nonzero(inside)
    got = sorted(zip(p.tolist(), q.tolist(), strict=True))
    assert got == sorted(zip(ep.tolist(), eq.tolist(), strict=True))
    # tiny boxes 1,000 km apart: the grid's cells grow (at most ~4 M of them)
    tiny = np.array([[0, 0, 1, 1], [1e6, 1e6, 1e6 + 1, 1e6 + 1], [5e5, 5e5, 5e5 + 1, 5e5 + 1.0]])
    p, q = locate_module._box_pairs(np.array([0.5, 1e6 + 0.5, 3.0]),
                                    np.array([0.5, 1e6 + 0.5, 3.0]), tiny)
    assert p.tolist() == [0, 1] and q.tolist() == [0, 1]
