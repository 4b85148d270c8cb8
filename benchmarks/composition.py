"""The peer of ``exposure_profile``: the same indicators from a plain geopandas composition.

Issue 15 asks that ``qpvgeo.exposure.exposure_profile`` (every QPV, the six layers of the
benchmark, the 500 m rings) be at least 5 times faster than "a straightforward geopandas
composition of the same indicators, same numbers". This module is that composition: what an
analyst who knows geopandas writes with ``overlay``, ``sjoin``, ``sjoin_nearest``, ``buffer``,
``dissolve``, ``explode`` and ``groupby``, with no qpvgeo code. Each rule qpvgeo applies is
written out here from its documentation, so that :func:`compare_profiles` proves the two
compute the same thing (and a test fails when either side changes a definition):

* **population** — the Filosofi grid shared by area (``population_method="area"``): a cell
  gives a polygon ``ind x area(polygon ∩ cell) / area(cell)``, measured in EPSG:3035 where the
  INSEE squares are exact; a polygon is reprojected there with ``to_crs``. A zone without any
  inhabitant has an unknown population (NA), not 0.
* **surroundings** — each QPV buffered by 500 m (32 segments per quarter circle) minus every
  QPV (``overlay(how="difference")``).
* **coverage** — the region where a layer holds data: the cells with a value (air), the
  polygons (heat), else the layer's convex hull (flood, sites, green spaces, noise: qpvgeo's
  fallback when no coverage is given). ``part_couverte_<couche>`` is the share of the zone's
  area inside it; below 1e-6 the zone is out of coverage (indicators NA), from 0.999 it counts
  as fully covered, in between the zone is cut to the coverage and measured on that part
  (``part_population_couverte_<couche>`` is that part's share of the zone's population).
* **indicators**, on the covered part of each zone (QPV and ring alike): see the layer
  functions below (``_flood``, ``_sites``, ``_air``, ``_heat``, ``_green``, ``_noise``).
* **comparison** — ``<c>_environs`` (the ring's value) and ``<c>_ratio`` (zone / ring, NA
  when the ring's value is not > 0) for the shares, the concentrations and the heat score.

Examples
--------
>>> from benchmarks.composition import exposure_composition   # doctest: +SKIP
>>> peer = exposure_composition(qpv, layers, grid)             # doctest: +SKIP
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

KEY = "code_qpv"
L93, LAEA = "EPSG:2154", "EPSG:3035"
CELL = 200.0  # side of a Filosofi cell, metres (EPSG:3035)
QUAD_SEGS = 32  # segments per quarter circle of every buffer (qpvgeo's documented value)
RING = 500.0
RADII = (500, 1000, 2000)  # industrial sites: registry defaults
GREEN_DISTANCE, GREEN_MIN_AREA = 300.0, 5000.0  # WHO Europe: 300 m of a park of 0.5 ha
FULL, NONE = 0.999, 1e-6  # coverage shares: fully covered from FULL, outside below NONE
POLLUTANTS = ("no2", "pm10", "pm25")
#: WHO 2021 guidelines and the EU 2030 limit values (directive 2024/2881), µg/m³.
THRESHOLDS = {"oms_2021": {"no2": 10.0, "pm25": 5.0, "pm10": 15.0},
              "ue_2030": {"no2": 20.0, "pm25": 10.0, "pm10": 20.0}}
SCENARIOS = ("frequent", "moyen", "extreme")
#: Columns where qpvgeo (main at 07bf558, 2026-12-01) departs from its own documented
#: definition, which this composition follows, by defect (README, "The composition"):
# Columns where qpvgeo departs from its own documented definition, by defect (a regular
# expression of column names each). Both defects this comparison found are fixed: air and
# heat cell means truncated at the zones' boxes (h17-exposure) and the nearest green space
# searched within 2,300 m of the zones only (exposure/green.py ``_farther_nearest``); their
# reproducers are regression tests in tests/test_benchmark_composition.py.
KNOWN_DEFECTS: dict[str, str] = {}
KNOWN_DIFFERENCES = re.compile(
    "^(" + "|".join(KNOWN_DEFECTS.values()) + ")$" if KNOWN_DEFECTS else r"(?!)")


# -- the grid ----------------------------------------------------------------------------


def grid_cells(grid: pd.DataFrame) -> gpd.GeoDataFrame:
    """The populated cells as exact 200 m squares in EPSG:3035, from their lower-left corners."""
    x = grid["x_laea"].to_numpy(dtype=float)
    y = grid["y_laea"].to_numpy(dtype=float)
    return gpd.GeoDataFrame({"cell": np.arange(len(grid)),
                             "ind": grid["ind"].to_numpy(dtype=float)},
                            geometry=shapely.box(x, y, x + CELL, y + CELL), crs=LAEA)


def cell_population(polys: gpd.GeoDataFrame, cells: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per (polygon, cell) that overlap: the polygon's columns, ``cell`` and ``pop``.

    ``pop = ind x area(polygon ∩ cell) / area(cell)``, in EPSG:3035.
    """
    keys = [c for c in polys.columns if c != polys.geometry.name]
    if not len(polys):
        return pd.DataFrame({**{k: [] for k in keys}, "cell": [], "pop": []})
    pieces = gpd.overlay(polys.to_crs(LAEA), cells[["cell", "ind", "geometry"]],
                         how="intersection", keep_geom_type=True)
    pieces["pop"] = pieces["ind"] * pieces.area / CELL**2
    return pd.DataFrame(pieces[[*keys, "cell", "pop"]])


def _sum_by(frame: pd.DataFrame, value: str, index: pd.Index,
            labels: list[str] | None = None) -> pd.DataFrame | pd.Series:
    """``frame[value]`` summed by zone (and label), 0 where nothing falls."""
    if labels is None:
        return frame.groupby(KEY)[value].sum().reindex(index, fill_value=0.0).astype(float)
    full = pd.MultiIndex.from_product([index, labels], names=[KEY, "label"])
    s = frame.groupby([KEY, "label"])[value].sum() if len(frame) else pd.Series(dtype=float)
    return s.reindex(full, fill_value=0.0).astype(float).unstack("label")[labels]


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    """``part / whole`` capped at 1, NA where ``whole`` is not > 0 (unknown, not 0)."""
    return (part / whole).clip(upper=1.0).where(whole > 0)


def _valid(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Invalid polygons repaired with ``make_valid``, keeping their polygonal parts."""
    bad = ~frame.is_valid
    if not bad.any():
        return frame
    frame = frame.copy()
    fixed = frame.geometry[bad].make_valid()
    # a repaired polygon may come with stray lines or points: keep its polygons only
    parts = fixed.explode(index_parts=False)
    parts = parts[parts.geom_type.isin(["Polygon", "MultiPolygon"])]
    frame.loc[bad, frame.geometry.name] = parts.groupby(level=0).agg(shapely.union_all) \
        .reindex(fixed.index).fillna(shapely.Polygon())
    return frame


# -- zones, surroundings and coverage ------------------------------------------------------


class _Side:
    """Zones (QPV or rings) with their population base: cell shares and totals."""

    def __init__(self, zones: gpd.GeoDataFrame, cells: gpd.GeoDataFrame):
        self.zones = zones  # KEY, geometry (EPSG:2154)
        self.index = pd.Index(zones[KEY], name=KEY)
        self.shares = cell_population(zones, cells)
        total = _sum_by(self.shares, "pop", self.index)
        self.total = total.where(total > 0)  # no inhabitant at all: outside the grid, NA


class _Covered:
    """The zones of one side cut to a layer's coverage."""

    def __init__(self, side: _Side, extent: gpd.GeoDataFrame, cells: gpd.GeoDataFrame):
        zones = side.zones.set_index(KEY)
        cut = gpd.overlay(side.zones, extent, how="intersection", keep_geom_type=True)
        inside_area = cut.assign(a=cut.area).groupby(KEY)["a"].sum()
        share = (inside_area.reindex(side.index, fill_value=0.0) / zones.area).clip(upper=1.0)
        self.share = share.where(zones.area > 0)
        covered = share > NONE
        partial = covered & (share < FULL)
        clipped = cut[cut[KEY].isin(side.index[partial])].dissolve(by=KEY)
        geoms = zones.geometry.copy()
        geoms.loc[clipped.index] = clipped.geometry
        self.zones = gpd.GeoDataFrame({KEY: side.index[covered]},
                                      geometry=geoms[covered].to_numpy(), crs=L93)
        self.index = pd.Index(self.zones[KEY], name=KEY)
        self.area = self.zones.set_index(KEY).area
        # population of the covered part: the base for whole zones, new shares for cut ones
        whole = side.shares[side.shares[KEY].isin(side.index[covered & ~partial])]
        cut_shares = cell_population(self.zones[self.zones[KEY].isin(clipped.index)], cells)
        self.shares = pd.concat([whole, cut_shares], ignore_index=True)
        self.total = side.total.reindex(self.index)
        self.total.loc[clipped.index] = _sum_by(cut_shares, "pop", pd.Index(clipped.index))
        pop_share = _share(self.total.reindex(side.index), side.total)
        self.pop_share = pop_share.where(covered, 0.0)


def rings(qpv: gpd.GeoDataFrame, every_qpv: gpd.GeoDataFrame, width: float = RING):
    """Each QPV's ring of ``width`` metres minus every QPV; rings of no area left out."""
    buffered = gpd.GeoDataFrame({KEY: qpv[KEY].to_numpy()},
                                geometry=qpv.buffer(width, quad_segs=QUAD_SEGS).to_numpy(),
                                crs=L93)
    out = gpd.overlay(buffered, every_qpv[["geometry"]], how="difference", keep_geom_type=True)
    out = _valid(out)
    return out[out.area > 0].reset_index(drop=True)


def coverage(name: str, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The region where a layer holds data, as its disjoint polygons."""
    if name == "air":
        has = layer[[p for p in POLLUTANTS if p in layer]].notna().any(axis=1)
        region = layer[has].union_all()
    elif name == "heat":
        region = _valid(layer).union_all()
    else:
        region = layer.union_all().convex_hull
    return gpd.GeoDataFrame(geometry=[region], crs=L93).explode(index_parts=False)


# -- the layers ----------------------------------------------------------------------------


def _inside(cov: _Covered, parts: gpd.GeoDataFrame, labels: list[str], stem: str,
            cells: gpd.GeoDataFrame, *, with_area: bool = True) -> dict[str, pd.Series]:
    """Area and population of each zone inside the dissolved polygons of each label.

    ``parts`` holds, per ``label``, the disjoint polygons of the dissolved layer.
    """
    pieces = gpd.overlay(cov.zones, parts[["label", "geometry"]], how="intersection",
                         keep_geom_type=True)
    area = _sum_by(pieces.assign(a=pieces.area), "a", cov.index, labels)
    pop = _sum_by(cell_population(pieces[[KEY, "label", "geometry"]], cells), "pop",
                  cov.index, labels)
    out = {}
    for label in labels:
        name = f"{stem}_{label}" if label else stem
        if with_area:
            out[f"surface_{name}_m2"] = area[label]
        out[f"part_surface_{name}"] = area[label] / cov.area
        out[f"part_population_{name}"] = _share(pop[label], cov.total)
        out[f"population_{name}"] = pop[label]
    return out


def _dissolved(frame: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    """One label's polygons dissolved and exploded into disjoint parts."""
    merged = frame.union_all() if len(frame) else shapely.Polygon()
    parts = gpd.GeoDataFrame(geometry=[merged], crs=L93).explode(index_parts=False)
    parts = parts[~parts.is_empty]
    return parts.assign(label=label)


def _flood(cov: _Covered, flood: gpd.GeoDataFrame, cells) -> dict:
    """Area and population inside the flood extents of each scenario."""
    every = flood["scenario"].astype("string")
    labels = [s for s in SCENARIOS if (every == s).any()]
    labels += sorted(set(every.dropna().unique()) - set(SCENARIOS))
    flood = _valid(flood)
    parts = pd.concat([_dissolved(flood[every == s], s) for s in labels], ignore_index=True)
    return _inside(cov, gpd.GeoDataFrame(parts, crs=L93), labels, "inondable", cells)


def _nearest(cov: _Covered, points: gpd.GeoDataFrame, label: str, ties: set):
    """Distance from each zone to the nearest feature and its ``label`` (0 inside)."""
    near = gpd.sjoin_nearest(cov.zones, points[[label, "geometry"]], distance_col="_d")
    tied = near[KEY].duplicated(keep=False)
    ties.update(near.loc[tied, KEY])  # several features at the same distance
    near = near.sort_values([KEY, label]).drop_duplicates(KEY).set_index(KEY)
    return near["_d"].reindex(cov.index), near[label].reindex(cov.index)


def _count_within(cov: _Covered, points: gpd.GeoDataFrame, r: float) -> pd.Series:
    """Features at ``r`` metres or less of each zone."""
    hits = gpd.sjoin(cov.zones, points[["geometry"]], predicate="dwithin", distance=r)
    return hits.groupby(KEY).size().reindex(cov.index, fill_value=0)


def _sites(cov: _Covered, sites: gpd.GeoDataFrame, cells, ties: dict) -> dict:
    """Nearest site and Seveso upper-tier site, counts and area / population within reach."""
    level = sites["seveso"].astype("string").str.strip().str.lower()
    out: dict = {}
    t1, t2 = ties.setdefault("site_plus_proche", set()), ties.setdefault(
        "seveso_haut_plus_proche", set())
    out["distance_site_m"], out["site_plus_proche"] = _nearest(cov, sites, "code_site", t1)
    haut = sites[(level == "haut").fillna(False).to_numpy()]
    out["distance_seveso_haut_m"], out["seveso_haut_plus_proche"] = _nearest(
        cov, haut, "code_site", t2)
    for r in RADII:
        out[f"n_sites_{r}m"] = _count_within(cov, sites, r)
        for tier in ("haut", "bas"):
            chosen = sites[(level == tier).fillna(False).to_numpy()]
            out[f"n_seveso_{tier}_{r}m"] = _count_within(cov, chosen, r).astype("Int64")
    parts = pd.concat([_dissolved(gpd.GeoDataFrame(geometry=sites.buffer(
        r, quad_segs=QUAD_SEGS), crs=L93), f"{r}m") for r in RADII], ignore_index=True)
    out.update(_inside(cov, gpd.GeoDataFrame(parts, crs=L93), [f"{r}m" for r in RADII],
                       "sites", cells, with_area=False))
    return out


def _cell_means(shares: pd.DataFrame, cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame,
                columns: list[str]) -> pd.DataFrame:
    """Area-weighted mean of each column over each cell of ``shares`` (EPSG:2154)."""
    needed = cells[cells["cell"].isin(shares["cell"].unique())].to_crs(L93)
    pieces = gpd.overlay(needed[["cell", "geometry"]], layer[[*columns, "geometry"]],
                         how="intersection", keep_geom_type=True)
    pieces["_a"] = pieces.area
    means = {}
    for c in columns:
        ok = pieces[pieces[c].notna()]  # a polygon without a value is left out, not 0
        s = (ok[c] * ok["_a"]).groupby(ok["cell"]).sum() / ok.groupby("cell")["_a"].sum()
        # a mean of equal values is that value (qpvgeo's documented rule): a cell over two
        # squares at exactly the WHO 15 µg/m³ is not "above" by a rounding of 2e-15
        lo, hi = ok.groupby("cell")[c].min(), ok.groupby("cell")[c].max()
        means[c] = s.where(lo != hi, lo)
    return pd.DataFrame(means)


def _weighted(cov: _Covered, cells, layer: gpd.GeoDataFrame, columns: list[str],
              limits: list[tuple[str, str, float]] = ()) -> tuple[dict, dict]:
    """Population-weighted means: each cell takes the layer's mean over it; shares above."""
    means = _cell_means(cov.shares, cells, layer, columns)
    pairs = cov.shares.merge(means, left_on="cell", right_index=True, how="left")
    out, above = {}, {}
    for c in columns:
        w = pairs["pop"].where(pairs[c].notna(), 0.0)
        weight = w.groupby(pairs[KEY]).sum().reindex(cov.index, fill_value=0.0)
        total = (w * pairs[c].fillna(0.0)).groupby(pairs[KEY]).sum().reindex(
            cov.index, fill_value=0.0)
        out[c] = (total / weight).where(weight > 0)
        for name, p, t in limits:
            if p == c:
                hot = (w * (pairs[c].fillna(0.0) > t)).groupby(pairs[KEY]).sum().reindex(
                    cov.index, fill_value=0.0)
                above[(name, p)] = _share(hot, weight)
    return out, above


def _covered_area(cov: _Covered, layer: gpd.GeoDataFrame) -> pd.Series:
    """Share of each zone's area covered by the layer's polygons (capped at 1)."""
    pieces = gpd.overlay(cov.zones, layer[["geometry"]], how="intersection",
                         keep_geom_type=True)
    covered = _sum_by(pieces.assign(a=pieces.area), "a", cov.index)
    return (covered / cov.area).clip(upper=1.0)


def _air(cov: _Covered, air: gpd.GeoDataFrame, cells) -> dict:
    """Population-weighted NO2, PM10, PM2.5 over a modelled grid, and the shares above."""
    names = [p for p in POLLUTANTS if p in air.columns]
    limits = [(n, p, lim[p]) for n, lim in THRESHOLDS.items() for p in names if p in lim]
    means, above = _weighted(cov, cells, air, names, limits)
    out = dict(means)
    for n, p, _ in limits:
        out[f"part_population_sup_{n}_{p}"] = above[(n, p)]
        out[f"population_sup_{n}_{p}"] = above[(n, p)] * cov.total
    out["part_surface_couverte_air"] = _covered_area(cov, air)
    return out


def _heat(cov: _Covered, heat: gpd.GeoDataFrame, cells) -> dict:
    """Population-weighted heat score, and the share of the zone the layer covers."""
    heat = _valid(heat)
    means, _ = _weighted(cov, cells, heat, ["score_chaleur"])
    return {"score_chaleur": means["score_chaleur"],
            "part_surface_couverte_chaleur": _covered_area(cov, heat)}


def _green(cov: _Covered, parks: gpd.GeoDataFrame, cells) -> dict:
    """WHO Europe access: 300 m of a green space of 0.5 ha (touching polygons merged)."""
    merged = _dissolved(_valid(parks), "")
    big = merged[merged.area >= GREEN_MIN_AREA].assign(park=lambda g: np.arange(len(g)))
    reach = _dissolved(gpd.GeoDataFrame(geometry=big.buffer(GREEN_DISTANCE,
                                                            quad_segs=QUAD_SEGS), crs=L93), "")
    out = _inside(cov, reach, [""], "acces_espace_vert", cells, with_area=False)
    near = gpd.sjoin_nearest(cov.zones, big[["geometry"]], distance_col="_d")
    out["distance_espace_vert_m"] = near.groupby(KEY)["_d"].min().reindex(cov.index)
    out["n_espaces_verts"] = _count_within(cov, big, GREEN_DISTANCE)
    return out


def _noise(cov: _Covered, noise: gpd.GeoDataFrame, cells) -> dict:
    """Area and population at or above each level of each source and indicator."""
    src = noise["source"].astype("string").str.lower()
    ind = noise["indicateur"].astype("string").str.lower()
    lmin = pd.to_numeric(noise["lden_min"], errors="coerce")
    noise = _valid(noise)
    parts, labels = [], []
    for s, i in sorted({(a, b) for a, b in zip(src, ind, strict=True)
                        if isinstance(a, str) and isinstance(b, str)}):
        group = ((src == s) & (ind == i)).fillna(False).to_numpy()
        for level in sorted(set(lmin[group].dropna())):
            lab = f"{s}_{i}_{int(level) if float(level).is_integer() else level}"
            labels.append(lab.replace(".", "_"))
            parts.append(_dissolved(noise[group & (lmin >= level).to_numpy()], labels[-1]))
        if lmin[group].isna().any():
            labels.append(f"{s}_{i}")
            parts.append(_dissolved(noise[group & lmin.isna().to_numpy()], labels[-1]))
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=L93)
    return _inside(cov, frame, labels, "bruit", cells)


_INDICATORS = {"flood": _flood, "sites": _sites, "air": _air, "heat": _heat,
               "green_spaces": _green, "noise": _noise}


def _comparable(name: str, column: str) -> bool:
    """The columns compared with the surroundings: shares, concentrations, heat score."""
    if column.startswith(("part_couverte_", "part_population_couverte_",
                          "part_surface_couverte_")):
        return False
    if name == "air":
        return column in POLLUTANTS
    if name == "heat":
        return column == "score_chaleur" or column.startswith("part_")
    return column.startswith("part_")


def _layer(name: str, side: _Side, extent, data, cells, ties: dict) -> pd.DataFrame:
    cov = _Covered(side, extent, cells)
    head = pd.DataFrame({f"part_couverte_{name}": cov.share,
                         f"part_population_couverte_{name}": cov.pop_share}, index=side.index)
    if not len(cov.index):
        return head
    fn = _INDICATORS[name]
    values = fn(cov, data, cells, ties) if name == "sites" else fn(cov, data, cells)
    return head.join(pd.DataFrame(values, index=cov.index).reindex(side.index))


def exposure_composition(qpv: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                         grid: pd.DataFrame, *, all_qpv: gpd.GeoDataFrame | None = None,
                         ring: float = RING) -> pd.DataFrame:
    """The indicators of ``exposure_profile(qpv, layers=layers, population=grid,
    surroundings="ring", population_method="area")``, composed with geopandas.

    Parameters
    ----------
    qpv : GeoDataFrame
        ``code_qpv`` and polygons, EPSG:2154.
    layers : mapping
        Any of ``flood``, ``sites``, ``air`` (a modelled grid), ``heat`` (numeric
        ``score_chaleur``), ``green_spaces``, ``noise``, EPSG:2154, canonical columns.
    grid : DataFrame
        Filosofi cells: lower-left corners ``x_laea`` / ``y_laea`` (EPSG:3035) and ``ind``.
    all_qpv : GeoDataFrame, optional
        Every QPV of the geography, removed from the rings (default ``qpv``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code_qpv``, qpvgeo's column names. ``attrs["ties"]`` names, for each
        "nearest site" column, the zones whose nearest feature is not unique (the label
        is then the smallest code among those at the same distance).
    """
    every = (all_qpv if all_qpv is not None else qpv)[["geometry"]]
    zones = _valid(qpv[[KEY, "geometry"]].reset_index(drop=True))
    around = rings(zones, _valid(every.reset_index(drop=True)), ring)
    cells = grid_cells(grid)
    # only the cells that meet a zone or a ring can give anything: one spatial join
    study = pd.concat([zones, around], ignore_index=True).to_crs(LAEA)
    hit = gpd.sjoin(cells, study[["geometry"]], predicate="intersects").index.unique()
    cells = cells.loc[hit].sort_index()
    qpv_side, ring_side = _Side(zones, cells), _Side(around, cells)
    out = pd.DataFrame({"population": qpv_side.total, "population_grille": qpv_side.total})
    ties: dict[str, set] = {}
    for name in _INDICATORS:
        if name not in layers or layers[name] is None:
            continue
        data = layers[name]
        extent = coverage(name, data)
        values = _layer(name, qpv_side, extent, data, cells, ties)
        env = _layer(name, ring_side, extent, data, cells, {}).reindex(values.index)
        cover = f"part_couverte_{name}"
        values[f"{cover}_environs"] = env[cover]
        for c in [c for c in values.columns if _comparable(name, c)]:
            z = pd.to_numeric(values[c], errors="coerce").astype(float)
            e = (pd.to_numeric(env[c], errors="coerce").astype(float) if c in env
                 else pd.Series(np.nan, index=values.index))
            values[f"{c}_environs"] = e
            values[f"{c}_ratio"] = (z / e).where(e > 0)
        out = out.join(values)
    out.index.name = KEY
    out.attrs["ties"] = {k: sorted(v) for k, v in ties.items()}
    return out


# -- comparison ------------------------------------------------------------------------------


def compare_profiles(ours: pd.DataFrame, peer: pd.DataFrame, *, floor: float = 1e-3) -> dict:
    """Column by column agreement of qpvgeo's profile with the composition's.

    For numbers: the NA patterns must be equal, and the relative difference is
    ``|a - b| / max(|a|, |b|, floor x scale)``, ``scale`` the column's largest magnitude: a
    value below a thousandth of its column's largest (a 0.2 m² sliver of a QPV in a noise
    zone, whose ~1e-10 m² of round-off is 1e-9 of it) is compared against that thousandth.
    Float64 carries ~1e-9 m on Lambert-93 coordinates; two exact methods (GEOS overlays,
    qpvgeo's cell fractions from the zone's edges) then differ by ~1e-10 relative.
    For text: equal, except in the zones where the peer found several nearest features.

    Returns
    -------
    dict
        ``columns_compared``, ``only_in_qpvgeo``, ``only_in_peer``, ``na_mismatch`` (column
        -> zones), ``text_mismatch``, ``max_rel_diff`` and the column where it occurs,
        ``rel_diff_by_column``, ``zones``.
    """
    ties = peer.attrs.get("ties", {})
    common = [c for c in ours.columns if c in peer.columns]
    peer = peer.reindex(ours.index)
    out: dict = {"zones": len(ours), "zones_only_in_one": len(set(ours.index) ^ set(
        peer.dropna(how="all").index)),
        "columns_compared": len(common),
        "only_in_qpvgeo": [c for c in ours.columns if c not in peer.columns],
        "only_in_peer": [c for c in peer.columns if c not in ours.columns],
        "na_mismatch": {}, "text_mismatch": {}, "rel_diff_by_column": {}}
    worst, worst_col = 0.0, None
    for c in common:
        a, b = ours[c], peer[c]
        na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
        if (na_a != na_b).any():
            out["na_mismatch"][c] = ours.index[na_a != na_b].tolist()[:20]
        both = ~(na_a | na_b)
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            x = a.to_numpy(dtype=float, na_value=np.nan)[both]
            y = b.to_numpy(dtype=float, na_value=np.nan)[both]
            if not len(x):
                out["rel_diff_by_column"][c] = 0.0
                continue
            scale = max(np.abs(x).max(), np.abs(y).max())
            denom = np.maximum(np.maximum(np.abs(x), np.abs(y)), floor * scale)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(denom > 0, np.abs(x - y) / denom, 0.0)
            d = float(rel.max())
            out["rel_diff_by_column"][c] = d
            if d > worst:
                worst, worst_col = d, c
        else:
            x = a.astype("string").to_numpy(dtype=object)[both]
            y = b.astype("string").to_numpy(dtype=object)[both]
            zones = ours.index[both]
            bad = [z for z, u, v in zip(zones, x, y, strict=True)
                   if u != v and z not in set(ties.get(c, ()))]
            if bad:
                out["text_mismatch"][c] = bad[:20]
    out["max_rel_diff"] = worst
    out["max_rel_diff_column"] = worst_col
    out["ties"] = {k: len(v) for k, v in ties.items()}
    return out


if __name__ == "__main__":  # python -m benchmarks.composition DATA_DIR: compare once
    import sys
    import time
    from pathlib import Path

    from benchmarks.cases import _grid, _qpv_plain
    from benchmarks.generate import load_layers

    folder = Path(sys.argv[1])
    q, lay, g = _qpv_plain(folder), load_layers(folder), _grid(folder)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = exposure_composition(q, lay, g)
    t1 = time.perf_counter()
    from qpvgeo.exposure import exposure_profile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = exposure_profile(q, layers=lay, population=g, surroundings="ring",
                                  population_method="area")
    t2 = time.perf_counter()
    print(f"composition {t1 - t0:.1f} s, qpvgeo {t2 - t1:.1f} s")
    import json

    print(json.dumps(compare_profiles(theirs, mine), indent=1, default=str))
