"""Synthetic national inputs for the benchmarks, seeded and deterministic, in the official layouts.

Nothing here is real: the territory is a rough outline of metropolitan France (mainland, no
Corsica), the towns, the QPV and the communes are drawn at random from a fixed seed. What is
faithful is the *shape of the work*: as many grid cells, QPV and communes as the real national
files, the same file layouts, the same CRS, the same kinds of geometry.

Files written in the cache folder (one folder per size and seed, reused by later runs):

``filosofi_200m.csv``
    INSEE Filosofi 2019 200 m grid layout (``idcar_200m`` ``CRS3035RES200mN…E…``, ``idcar_1km``,
    ``idcar_nat``, ``i_est_200``, ``i_est_1km``, ``lcog_geo``, ``ind``, ``men``, ``men_pauv``…),
    ``;``-separated with decimal commas like the real per-département CSV extracts. Only the
    populated cells, as in INSEE's file. ``lcog_geo`` holds the one commune containing the
    cell centre (INSEE lists every commune the cell touches).
``grid.npz``
    the same cells as numpy arrays (lower-left corners in EPSG:3035 and the variables) so that
    cases other than "read the CSV" start from memory quickly; :func:`load_grid` rebuilds the
    GeoDataFrame (squares built in EPSG:3035, reprojected to Lambert-93, as INSEE does).
``qpv2024.geojson``
    ANCT 2024 layout (``code_qp``, ``lib_qp``, ``insee_reg``, ``lib_reg``, ``insee_dep``,
    ``lib_dep``, ``insee_com``, ``lib_com``, ``siren_epci``), WGS84, codes ``QNdddnnX``.
``qpv2024_code_commune.csv``
    ANCT list layout, one row per (QPV, commune).
``qpv_indicators.csv``
    INSEE QPV "Démographie" layout (``CODGEO;LIBGEO;POP_MUN;TX_TOT_0A24;IND_JEUNE;TX_TOT_ET``),
    ``;`` and decimal commas.
``communes.gpkg``
    commune boundaries, layer ``communes``, columns ``code``/``nom`` (the Etalab/ADMIN EXPRESS
    naming), EPSG:2154, in the *old* geography (before the synthetic mergers).
``mouvements_communes.csv``
    INSEE ``v_mvt_commune`` layout (``MOD,DATE_EFF,TYPECOM_AV,COM_AV,…``): communes nouvelles
    (MOD 32) created on 2024-01-01 from about 1.5 % of the communes.
``populations_legales.csv``
    INSEE populations légales layout (``REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN;
    PCAP;PTOT``) in the *new* geography: the real mismatch an analyst meets.
``layers.gpkg``
    exposure layers in the canonical columns of :mod:`qpvgeo.schema`: ``flood``, ``sites``,
    ``air``, ``green_spaces``, ``heat``, ``noise`` around the QPV.
``manifest.json``
    sizes, seed, counts and totals.

Example
-------
>>> from benchmarks.generate import generate, load_grid   # doctest: +SKIP
>>> folder = generate("quick")                            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from qpvgeo import schema

#: Bump when the generator changes, so stale caches are not reused.
GENERATOR_VERSION = 6

L93 = schema.CRS
LAEA = schema.GRID_CRS

# Rough outline of mainland France (lon, lat), clockwise from Dunkirk. Coarse on purpose:
# it only decides where cells, communes and QPV may fall.
_FRANCE_LONLAT = [
    (2.55, 51.09), (3.10, 50.78), (3.70, 50.32), (4.20, 50.05), (4.85, 50.15), (4.97, 49.80),
    (5.80, 49.55), (6.40, 49.47), (7.05, 49.15), (8.20, 48.97), (7.80, 48.50), (7.58, 47.59),
    (7.00, 47.45), (6.45, 47.00), (6.10, 46.55), (6.10, 46.20), (6.80, 46.40), (7.05, 45.90),
    (6.63, 45.10), (7.00, 44.20), (7.53, 43.78), (6.60, 43.15), (5.90, 43.08), (5.00, 43.35),
    (4.20, 43.45), (3.20, 43.20), (3.04, 42.43), (1.70, 42.50), (0.70, 42.80), (-0.50, 42.80),
    (-1.78, 43.37), (-1.45, 43.90), (-1.25, 44.60), (-1.20, 45.60), (-1.15, 46.15),
    (-2.15, 46.90), (-2.50, 47.30), (-3.40, 47.70), (-4.40, 47.80), (-4.75, 48.35),
    (-4.00, 48.70), (-3.00, 48.80), (-1.60, 48.65), (-1.60, 49.20), (-1.95, 49.70),
    (-1.26, 49.70), (-1.10, 49.35), (-0.20, 49.30), (0.20, 49.50), (0.60, 49.85),
    (1.40, 50.10), (1.60, 50.90),
]


@dataclass(frozen=True)
class Size:
    """How big a generated territory is."""

    name: str
    cells: int  # populated 200 m cells (INSEE national file: ~2.3 M)
    qpv: int  # QPV (2024 geography, metropolitan: 1,362)
    communes: int  # communes before the synthetic mergers (~35,000)
    towns: int  # town centres around which people live
    departements: int
    box_km: float | None  # half-side of a square window around Paris; None = whole outline
    population_per_cell: float = 27.0  # Filosofi 2019 metropolitan: ~62 M people / ~2.3 M cells


SIZES: dict[str, Size] = {
    "quick": Size("quick", cells=12_000, qpv=12, communes=250, towns=25, departements=2,
                  box_km=30),
    "medium": Size("medium", cells=300_000, qpv=180, communes=4_500, towns=400,
                   departements=12, box_km=170),
    "full": Size("full", cells=2_300_000, qpv=1_362, communes=35_000, towns=3_000,
                 departements=94, box_km=None),
}

_PARIS_L93 = (652_000.0, 6_862_000.0)
_QPV_BLOCK = 3_000.0  # one QPV at most per 3 km block, so QPV never overlap
_QPV_MAX_RADIUS = 1_290.0


def default_cache_dir() -> Path:
    """Where generated inputs are kept: ``$QPVGEO_BENCH_CACHE`` or the temp folder."""
    env = os.environ.get("QPVGEO_BENCH_CACHE")
    return Path(env) if env else Path(tempfile.gettempdir()) / "qpvgeo-bench"


def territory(size: Size) -> shapely.Polygon:
    """The outline (Lambert-93) a size covers."""
    to_l93 = Transformer.from_crs("EPSG:4326", L93, always_xy=True)
    lon, lat = np.array(_FRANCE_LONLAT).T
    x, y = to_l93.transform(lon, lat)
    outline = shapely.Polygon(np.column_stack([x, y]))
    if size.box_km is None:
        return outline
    h = size.box_km * 1000
    box = shapely.box(_PARIS_L93[0] - h, _PARIS_L93[1] - h, _PARIS_L93[0] + h, _PARIS_L93[1] + h)
    return shapely.intersection(outline, box)


def _points_in(rng: np.random.Generator, poly: shapely.Geometry, n: int) -> np.ndarray:
    xmin, ymin, xmax, ymax = poly.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < n:
        xy = rng.uniform((xmin, ymin), (xmax, ymax), size=(2 * n, 2))
        xy = xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.concatenate(out)[:n]


# -- grid -------------------------------------------------------------------------------


def _grid_cells(rng, size: Size, outline) -> dict[str, np.ndarray]:
    """Populated cells clustered around towns of Pareto-distributed sizes."""
    to_laea = Transformer.from_crs(L93, LAEA, always_xy=True)
    to_l93 = Transformer.from_crs(LAEA, L93, always_xy=True)
    towns = _points_in(rng, outline, size.towns)
    weight = np.sort(rng.pareto(1.05, size.towns) + 1.0)[::-1]
    weight = np.minimum(weight, 3_000.0)
    if size.box_km is None or size.box_km > 100:
        towns[0] = _PARIS_L93  # the biggest town is where Paris is
    tx, ty = to_laea.transform(towns[:, 0], towns[:, 1])
    spread = 450.0 * weight**0.42  # metres: ~0.5 km for a village, ~13 km for Paris

    # Urban cells: many samples around each town; the cells they hit are populated and the
    # number of hits makes the density.
    n_samples = int(size.cells * 3.2)
    per_town = rng.multinomial(n_samples, weight**0.9 / (weight**0.9).sum())
    town_of = np.repeat(np.arange(size.towns), per_town)
    r = rng.gamma(1.6, spread[town_of] / 1.6)
    theta = rng.uniform(0, 2 * np.pi, town_of.size)
    sx = tx[town_of] + r * np.cos(theta)
    sy = ty[town_of] + r * np.sin(theta)
    ix = np.floor(sx / 200.0).astype(np.int64)
    iy = np.floor(sy / 200.0).astype(np.int64)
    key = iy * 100_000 + ix
    key, hits = np.unique(key, return_counts=True)

    # Cells whose centre is outside the territory (sea, abroad) are not populated.
    cx, cy = to_l93.transform((key % 100_000) * 200.0 + 100.0, (key // 100_000) * 200.0 + 100.0)
    inside = shapely.contains_xy(outline, cx, cy)
    key, hits = key[inside], hits[inside]

    n_urban = int(size.cells * 0.88)
    if key.size > n_urban:  # drop sparse outskirts first, at random among equals
        order = np.lexsort((rng.random(key.size), -hits))
        keep = np.sort(order[:n_urban])
        key, hits = key[keep], hits[keep]
    # Scattered rural cells (hamlets) up to the target count.
    rural = _points_in(rng, outline, 2 * (size.cells - key.size) + 100)
    rx, ry = to_laea.transform(rural[:, 0], rural[:, 1])
    rkey = np.floor(ry / 200.0).astype(np.int64) * 100_000 + np.floor(rx / 200.0).astype(np.int64)
    rkey = np.setdiff1d(np.unique(rkey), key)
    rkey = rng.permutation(rkey)[: size.cells - key.size]
    key = np.concatenate([key, rkey])
    hits = np.concatenate([hits, np.ones(rkey.size, dtype=hits.dtype)])
    order = np.argsort(key)
    key, hits = key[order], hits[order]

    x_laea = (key % 100_000) * 200
    y_laea = (key // 100_000) * 200
    raw = hits.astype(float) ** 1.2 * rng.lognormal(0.0, 0.5, key.size)
    target = size.cells * size.population_per_cell
    ind = np.clip(np.round(raw * target / raw.sum()), 1, 6_000)
    # INSEE imputes cells of fewer than 11 households; their values come with halves.
    men = np.round(ind / rng.uniform(1.9, 2.6, key.size), 1)
    dense = np.clip(np.log1p(ind) / np.log(600.0), 0, 1)
    poor = np.clip(rng.beta(2, 9, key.size) + 0.25 * dense * rng.random(key.size), 0, 0.9)
    cols = {
        "x_laea": x_laea.astype(np.int64),
        "y_laea": y_laea.astype(np.int64),
        "ind": ind,
        "men": men,
        "men_pauv": np.round(men * poor, 1),
        "men_1ind": np.round(men * rng.uniform(0.2, 0.5, key.size), 1),
        "men_5ind": np.round(men * rng.uniform(0.0, 0.08, key.size), 1),
        "men_prop": np.round(men * (1 - dense) * rng.uniform(0.4, 0.9, key.size), 1),
        "men_fmp": np.round(men * rng.uniform(0.03, 0.15, key.size), 1),
        "ind_snv": np.round(ind * 23_500 * (1 - 0.35 * poor) * rng.lognormal(0, 0.1, key.size),
                            1),
        "men_surf": np.round(men * rng.uniform(55, 110, key.size), 1),
        "men_coll": np.round(men * dense, 1),
        "men_mais": np.round(men * (1 - dense), 1),
        "log_soc": np.round(men * dense * poor * 1.6, 1),
    }
    cols["i_est_200"] = (men < 11).astype(np.int8)
    cols["i_est_1km"] = (men < 3).astype(np.int8)
    return cols


def cell_ids(x_laea: np.ndarray, y_laea: np.ndarray, res: int = 200) -> np.ndarray:
    """INSEE identifiers ``CRS3035RES{res}mN{y}E{x}`` of lower-left corners (vectorised)."""
    y = np.asarray(y_laea).astype(np.int64).astype(str)
    x = np.asarray(x_laea).astype(np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add(f"CRS3035RES{res}mN", y), "E"), x)


def grid_frame(cols: dict[str, np.ndarray], *, geometry: bool = True) -> pd.DataFrame:
    """The canonical grid frame (as ``read_filosofi_grid`` returns it) from the arrays."""
    data = {schema.IDCAR_200M: cell_ids(cols["x_laea"], cols["y_laea"])}
    data.update({k: v for k, v in cols.items() if k not in {"commune"}})
    frame = pd.DataFrame(data)
    if not geometry:
        return frame
    x = cols["x_laea"].astype(float)
    y = cols["y_laea"].astype(float)
    squares = gpd.GeoSeries(shapely.box(x, y, x + 200.0, y + 200.0), crs=LAEA).to_crs(L93)
    return gpd.GeoDataFrame(frame, geometry=squares.values, crs=L93)


def load_grid(folder: str | os.PathLike, *, geometry: bool = True) -> pd.DataFrame:
    """Grid of a generated folder as a (Geo)DataFrame: squares in EPSG:2154."""
    with np.load(Path(folder) / "grid.npz") as z:
        cols = {k: z[k] for k in z.files}
    return grid_frame(cols, geometry=geometry)


def _write_filosofi_csv(cols, codes: np.ndarray, path: Path) -> None:
    x, y = cols["x_laea"], cols["y_laea"]
    frame = pd.DataFrame({
        "idcar_200m": cell_ids(x, y),
        "idcar_1km": cell_ids(x // 1000 * 1000, y // 1000 * 1000, 1000),
    })
    frame["idcar_nat"] = np.where(cols["i_est_200"] == 1, frame["idcar_1km"], frame["idcar_200m"])
    frame["i_est_200"] = cols["i_est_200"]
    frame["i_est_1km"] = cols["i_est_1km"]
    frame["lcog_geo"] = codes
    for k in ("ind", "men", "men_pauv", "men_1ind", "men_5ind", "men_prop", "men_fmp",
              "ind_snv", "men_surf", "men_coll", "men_mais", "log_soc"):
        frame[k] = cols[k]
    with _atomic(path) as tmp:
        frame.to_csv(tmp, sep=";", decimal=",", index=False)


# -- communes ---------------------------------------------------------------------------


def _communes(rng, size: Size, outline, towns_l93: np.ndarray):
    n_uniform = int(size.communes * 0.8)
    seeds = np.concatenate([
        _points_in(rng, outline, n_uniform),
        # denser communes near towns, as in real urban areas
        towns_l93[rng.integers(0, len(towns_l93), size.communes - n_uniform)]
        + rng.normal(0, 6_000, (size.communes - n_uniform, 2)),
    ])
    seeds = seeds[shapely.contains_xy(outline, seeds[:, 0], seeds[:, 1])]
    seeds = np.unique(np.round(seeds), axis=0)
    seeds = rng.permutation(seeds)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline, ordered=True)
    )
    geoms = shapely.intersection(cells, outline)
    keep = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
    seeds, geoms = seeds[keep], geoms[keep]

    deps = [d for r in sorted(schema.METROPOLITAN_REGIONS) if r != "94"
            for d in schema.DEPARTEMENTS_BY_REGION[r]]
    deps = sorted(deps)
    if size.departements < len(deps):
        deps = sorted(rng.choice(deps, size.departements, replace=False).tolist())
    # Départements of equal commune counts (INSEE numbers communes on 3 digits, so no
    # département may exceed 999): consecutive runs of communes along a Morton curve.
    cell = 4_000.0
    gx = np.floor((seeds[:, 0] - seeds[:, 0].min()) / cell).astype(np.uint64)
    gy = np.floor((seeds[:, 1] - seeds[:, 1].min()) / cell).astype(np.uint64)
    rank = np.empty(len(seeds), dtype=np.int64)
    rank[np.lexsort((seeds[:, 0], _morton(gx, gy)))] = np.arange(len(seeds))
    dep_of = rank * len(deps) // len(seeds)
    order = np.lexsort((rng.random(len(seeds)), dep_of))
    seeds, geoms, dep_of = seeds[order], geoms[order], dep_of[order]
    dep = np.array(deps)[dep_of]
    rank = pd.Series(dep).groupby(dep).cumcount().to_numpy()
    # skip the numbers of the municipal arrondissements of Paris, Lyon and Marseille
    # (75101-75120, 69381-69389, 13201-13216): those codes mean something else
    numbers = np.arange(1, 1000)
    arm = {"75": range(101, 121), "69": range(381, 390), "13": range(201, 217)}
    free = {d: numbers[~np.isin(numbers, list(arm.get(d, ())))] for d in deps}
    number = np.array([free[d][r] for d, r in zip(dep, rank, strict=True)])
    codes = np.char.add(dep.astype(str), np.char.zfill(number.astype(str), 3))
    return seeds, geoms, dep, codes


def _morton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Interleave the bits of two uint64 arrays (Z-order curve key)."""
    def spread(v):
        v = v & np.uint64(0xFFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    return spread(x) | (spread(y) << np.uint64(1))


def _mergers(rng, seeds, dep, codes):
    """Communes nouvelles: ~1.5 % of communes absorb 1-2 neighbours of their département."""
    tree = cKDTree(seeds)
    used = np.zeros(len(seeds), dtype=bool)
    new_of = np.arange(len(seeds))
    heads = rng.choice(len(seeds), max(1, int(len(seeds) * 0.015)), replace=False)
    _, neigh = tree.query(seeds[heads], k=4)
    for h, nb in zip(heads, neigh, strict=True):
        if used[h]:
            continue
        take = [j for j in nb[1:] if not used[j] and dep[j] == dep[h]][: rng.integers(1, 3)]
        if not take:
            continue
        used[[h, *take]] = True
        new_of[take] = h
    return new_of


def _mouvements(new_of, codes, names) -> pd.DataFrame:
    rows = []
    for h in np.unique(new_of[new_of != np.arange(len(new_of))]):
        members = np.flatnonzero(new_of == h)
        for m in [h, *[m for m in members if m != h]]:
            old = dict(TYPECOM_AV="COM", COM_AV=codes[m], TNCC_AV=0, NCC_AV=names[m].upper(),
                       NCCENR_AV=names[m], LIBELLE_AV=names[m])
            new_name = f"{names[h]}-Nouvelle"
            rows.append({"MOD": 32, "DATE_EFF": "2024-01-01", **old, "TYPECOM_AP": "COMD",
                         "COM_AP": codes[m], "TNCC_AP": 0, "NCC_AP": names[m].upper(),
                         "NCCENR_AP": names[m], "LIBELLE_AP": names[m]})
            rows.append({"MOD": 32, "DATE_EFF": "2024-01-01", **old, "TYPECOM_AP": "COM",
                         "COM_AP": codes[h], "TNCC_AP": 0, "NCC_AP": new_name.upper(),
                         "NCCENR_AP": new_name, "LIBELLE_AP": new_name})
    cols = ["MOD", "DATE_EFF", "TYPECOM_AV", "COM_AV", "TNCC_AV", "NCC_AV", "NCCENR_AV",
            "LIBELLE_AV", "TYPECOM_AP", "COM_AP", "TNCC_AP", "NCC_AP", "NCCENR_AP", "LIBELLE_AP"]
    return pd.DataFrame(rows, columns=cols)


# -- QPV --------------------------------------------------------------------------------


def _qpv_polygons(rng, centres: np.ndarray, n_vertices: int = 120) -> np.ndarray:
    """Irregular star-shaped polygons of 10-300 ha with jagged, street-like edges."""
    n = len(centres)
    theta = np.sort(rng.uniform(0, 2 * np.pi, (n, n_vertices)), axis=1)
    radius = np.ones((n, n_vertices))
    for k in range(1, 6):  # a few smooth lobes ...
        radius += (0.28 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi, (n, 1)))
    radius *= rng.uniform(0.93, 1.07, (n, n_vertices))  # ... and jagged street-scale edges
    radius = np.clip(radius, 0.35, None)
    area_ha = np.exp(rng.uniform(np.log(10), np.log(300), n))
    # area of the unit star polygon, then scale to the target area
    unit = shapely.area(shapely.polygons(np.stack(
        [radius * np.cos(theta), radius * np.sin(theta)], axis=-1)))
    scale = np.sqrt(area_ha * 10_000 / unit)
    r = np.minimum(radius * scale[:, None], _QPV_MAX_RADIUS)
    coords = np.stack([centres[:, :1] + r * np.cos(theta), centres[:, 1:] + r * np.sin(theta)],
                      axis=-1)
    return shapely.polygons(np.round(coords, 2))


def _choose_qpv_centres(rng, size: Size, cell_x, cell_y, ind, outline):
    bx = np.floor(cell_x / _QPV_BLOCK).astype(np.int64)
    by = np.floor(cell_y / _QPV_BLOCK).astype(np.int64)
    bkey = by * 100_000 + bx
    ukey, inv = np.unique(bkey, return_inverse=True)
    pop = np.bincount(inv, weights=ind)
    top = np.argsort(-pop)[: max(size.qpv * 3, size.qpv + 5)]
    p = pop[top] ** 1.5
    chosen = rng.choice(top, size.qpv * 2, replace=False, p=p / p.sum())
    # centre: the most populated cell of the block, jittered, kept inside the territory
    best = pd.Series(ind).groupby(inv).idxmax().to_numpy()
    cx = cell_x[best[chosen]] + rng.uniform(-150, 150, chosen.size)
    cy = cell_y[best[chosen]] + rng.uniform(-150, 150, chosen.size)
    # clamp inside the block so that polygons of neighbouring blocks never overlap
    x0 = (ukey[chosen] % 100_000) * _QPV_BLOCK
    y0 = (ukey[chosen] // 100_000) * _QPV_BLOCK
    cx = np.clip(cx, x0 + _QPV_BLOCK / 2 - 100, x0 + _QPV_BLOCK / 2 + 100)
    cy = np.clip(cy, y0 + _QPV_BLOCK / 2 - 100, y0 + _QPV_BLOCK / 2 + 100)
    inside = shapely.contains_xy(outline, cx, cy)
    return np.column_stack([cx, cy])[inside][: size.qpv]


# -- exposure layers ----------------------------------------------------------------------


def _layers(rng, qpv_geoms: np.ndarray, outline) -> dict[str, gpd.GeoDataFrame]:
    """Exposure layers around the QPV, in the canonical columns (EPSG:2154)."""
    n = len(qpv_geoms)
    cent = shapely.get_coordinates(shapely.centroid(qpv_geoms))
    out: dict[str, gpd.GeoDataFrame] = {}

    # Flood: a river through one town in three, nested extents per scenario.
    pick = rng.random(n) < 0.35
    ang = rng.uniform(0, np.pi, pick.sum())
    off = rng.uniform(-800, 800, pick.sum())
    c = cent[pick]
    nx, ny = -np.sin(ang), np.cos(ang)
    p0 = np.column_stack([c[:, 0] + off * nx - 6000 * np.cos(ang),
                          c[:, 1] + off * ny - 6000 * np.sin(ang)])
    p1 = np.column_stack([c[:, 0] + off * nx + 6000 * np.cos(ang),
                          c[:, 1] + off * ny + 6000 * np.sin(ang)])
    rivers = shapely.linestrings(np.stack([p0, p1], axis=1))
    flood = []
    for scen, width in zip(schema.FLOOD_SCENARIOS, (120.0, 300.0, 600.0), strict=True):
        g = shapely.buffer(rivers, width * rng.uniform(0.8, 1.2, len(rivers)), quad_segs=4)
        flood.append(gpd.GeoDataFrame({schema.SCENARIO: np.full(len(g), scen)}, geometry=g,
                                      crs=L93))
    out["flood"] = pd.concat(flood, ignore_index=True)

    # Industrial sites: ~1 per QPV neighbourhood, a few Seveso.
    ns = n * 2
    xy = cent[rng.integers(0, n, ns)] + rng.normal(0, 2500, (ns, 2))
    out["sites"] = gpd.GeoDataFrame({
        schema.CODE_SITE: [f"S{i:06d}" for i in range(ns)],
        schema.NOM_SITE: [f"Site synthétique {i}" for i in range(ns)],
        schema.SEVESO: rng.choice(schema.SEVESO_LEVELS, ns, p=(0.15, 0.15, 0.7)),
    }, geometry=shapely.points(xy), crs=L93)

    # Air: a 500 m modelled grid over 6 km windows around the QPV (union of windows).
    keys = set()
    for dx in range(-6, 7):
        for dy in range(-6, 7):
            k = np.floor(cent / 500.0).astype(np.int64) + (dx, dy)
            keys.update(map(tuple, k))
    k = np.array(sorted(keys))
    x, y = k[:, 0] * 500.0, k[:, 1] * 500.0
    base = rng.uniform(0.6, 1.4, len(k))
    out["air"] = gpd.GeoDataFrame({
        "no2": np.round(14 * base + rng.gamma(2, 3, len(k)), 2),
        "pm10": np.round(15 * base + rng.gamma(2, 1, len(k)), 2),
        "pm25": np.round(8 * base + rng.gamma(2, 0.6, len(k)), 2),
    }, geometry=shapely.box(x, y, x + 500, y + 500), crs=L93)

    # Green spaces: parks of 0.1-20 ha around the QPV.
    ng = n * 6
    xy = cent[rng.integers(0, n, ng)] + rng.normal(0, 1500, (ng, 2))
    rad = np.sqrt(np.exp(rng.uniform(np.log(1_000), np.log(200_000), ng)) / np.pi)
    out["green_spaces"] = gpd.GeoDataFrame(
        {schema.NOM_ESPACE_VERT: [f"Parc {i}" for i in range(ng)]},
        geometry=shapely.buffer(shapely.points(xy), rad, quad_segs=6), crs=L93)

    # Heat: IRIS-like blocks, Voronoi of points around the QPV, score 0-5.
    ni = n * 25
    xy = cent[rng.integers(0, n, ni)] + rng.normal(0, 2200, (ni, 2))
    iris = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), ordered=True))
    iris = shapely.intersection(iris, outline)
    keep = ~shapely.is_empty(iris)
    out["heat"] = gpd.GeoDataFrame({
        "code_iris": [f"99{i:07d}" for i in range(int(keep.sum()))],
        schema.SCORE_CHALEUR: np.round(rng.uniform(0, 5, int(keep.sum())), 2),
    }, geometry=iris[keep], crs=L93)

    # Noise: type C exceedance zones along roads near the QPV.
    nr = n * 2
    c = cent[rng.integers(0, n, nr)] + rng.normal(0, 800, (nr, 2))
    ang = rng.uniform(0, np.pi, nr)
    roads = shapely.linestrings(np.stack([
        np.column_stack([c[:, 0] - 4000 * np.cos(ang), c[:, 1] - 4000 * np.sin(ang)]),
        np.column_stack([c[:, 0] + 4000 * np.cos(ang), c[:, 1] + 4000 * np.sin(ang)]),
    ], axis=1))
    src = rng.choice(["route", "fer"], nr, p=(0.8, 0.2))
    noise = []
    for ind_, lim, width in (("lden", 68, 90.0), ("ln", 62, 70.0)):
        noise.append(gpd.GeoDataFrame({
            schema.INDICATEUR_BRUIT: ind_, schema.SOURCE_BRUIT: src,
            schema.LDEN_MIN: lim,
        }, geometry=shapely.buffer(roads, width, quad_segs=4), crs=L93))
    out["noise"] = pd.concat(noise, ignore_index=True)
    return out


def load_layers(folder: str | os.PathLike) -> dict[str, gpd.GeoDataFrame]:
    """The exposure layers of a generated folder, by name."""
    path = Path(folder) / "layers.gpkg"
    return {name: gpd.read_file(path, layer=name)
            for name in ("flood", "sites", "air", "green_spaces", "heat", "noise")}


# -- raster ---------------------------------------------------------------------------------


def no2_raster(folder: str | os.PathLike, *, res: float = 200.0, seed: int = 2024) -> Path:
    """A modelled annual-mean NO2 GeoTIFF (µg/m³, EPSG:2154) over the territory; cached.

    Concentration follows the smoothed population density (traffic and heating follow
    people) plus noise: background ~8 µg/m³, ~40 in the densest cores. One band, float32,
    tiled and deflate-compressed, like the regional Atmo maps (which are finer: 10-25 m).

    Examples
    --------
    >>> path = no2_raster(generate("quick"))   # doctest: +SKIP
    """
    import rasterio
    from affine import Affine
    from scipy.ndimage import gaussian_filter

    folder = Path(folder)
    path = folder / "no2.tif"
    if path.is_file():
        return path
    with np.load(folder / "grid.npz") as z:
        x_laea, y_laea, ind = z["x_laea"], z["y_laea"], z["ind"]
    to_l93 = Transformer.from_crs(LAEA, L93, always_xy=True)
    cx, cy = to_l93.transform(x_laea + 100.0, y_laea + 100.0)
    x0 = np.floor((np.min(cx) - 5_000) / res) * res
    y1 = np.ceil((np.max(cy) + 5_000) / res) * res
    width = int(np.ceil((np.max(cx) + 5_000 - x0) / res))
    height = int(np.ceil((y1 - np.min(cy) + 5_000) / res))
    col = ((np.asarray(cx) - x0) // res).astype(np.int64)
    row = ((y1 - np.asarray(cy)) // res).astype(np.int64)
    dens = np.bincount(row * width + col, weights=ind, minlength=width * height)
    dens = gaussian_filter(dens.reshape(height, width).astype(np.float32), sigma=1_500 / res)
    rng = np.random.default_rng(seed + 1)
    no2 = 8.0 + 32.0 * dens / (dens + 20.0) + rng.normal(0, 0.8, dens.shape).astype(np.float32)
    no2 = np.clip(no2, 1.0, None).astype(np.float32)
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="float32",
                   crs=L93, transform=Affine(res, 0.0, x0, 0.0, -res, y1), tiled=True,
                   blockxsize=512, blockysize=512, compress="deflate", nodata=-9999.0)
    with _atomic(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(no2, 1)
            dst.set_band_description(1, "no2")
    return path


# -- driver -------------------------------------------------------------------------------


class _atomic:  # a folder-local atomic write; qpvgeo's own helper is for library outputs
    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.tmp.unlink(missing_ok=True)
        return self.tmp

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def generate(size: str | Size = "full", *, seed: int = 2024, cache_dir=None,
             force: bool = False, verbose: bool = False) -> Path:
    """Generate (or reuse) the synthetic inputs of ``size``; return their folder.

    Parameters
    ----------
    size : {"quick", "medium", "full"} or Size
    seed : int
        Everything follows from it: same seed, same files.
    cache_dir : path, optional
        Parent folder of the cache (default :func:`default_cache_dir`).
    force : bool
        Regenerate even when a complete folder exists.

    Returns
    -------
    Path
        Folder holding the files listed in this module's docstring.

    Examples
    --------
    >>> folder = generate("quick", cache_dir=tempfile.mkdtemp())  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())[:2]               # doctest: +SKIP
    ['communes.gpkg', 'filosofi_200m.csv']
    """
    size = SIZES[size] if isinstance(size, str) else size
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = root / f"{size.name}-seed{seed}-v{GENERATOR_VERSION}"
    if (folder / "manifest.json").is_file() and not force:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    work = root / f".{folder.name}.partial"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t0 = time.perf_counter()

    def say(msg):
        if verbose:
            print(f"  [generate {size.name} {time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

    rng = np.random.default_rng(seed)
    outline = territory(size)
    cols = _grid_cells(rng, size, outline)
    say(f"{cols['ind'].size:,} cells, {cols['ind'].sum():,.0f} inhabitants")

    to_l93 = Transformer.from_crs(LAEA, L93, always_xy=True)
    cx, cy = to_l93.transform(cols["x_laea"] + 100.0, cols["y_laea"] + 100.0)
    cx, cy = np.asarray(cx), np.asarray(cy)

    # Towns (for denser communes) are the most populated cells' neighbourhoods.
    top = np.argsort(-cols["ind"])[: size.towns]
    seeds, geoms, dep, codes = _communes(rng, size, outline, np.column_stack([cx, cy])[top])
    names = np.char.add("Commune synthétique ", codes)
    commune_of_cell = cKDTree(seeds).query(np.column_stack([cx, cy]))[1]
    cols["commune"] = commune_of_cell.astype(np.int32)
    say(f"{len(codes):,} communes, {len(set(dep))} départements")

    communes = gpd.GeoDataFrame({"code": codes, "nom": names}, geometry=geoms, crs=L93)
    with _atomic(work / "communes.gpkg") as tmp:
        communes.to_file(tmp, layer="communes", driver="GPKG")

    # Mergers, populations légales in the new geography, the mouvements file.
    new_of = _mergers(rng, seeds, dep, codes)
    mouv = _mouvements(new_of, codes, names)
    with _atomic(work / "mouvements_communes.csv") as tmp:
        mouv.to_csv(tmp, index=False)
    pop_old = np.bincount(commune_of_cell, weights=cols["ind"], minlength=len(codes))
    pmun_old = np.round(pop_old * 1.04).astype(np.int64) + rng.poisson(40, len(codes))
    pmun = np.bincount(new_of, weights=pmun_old, minlength=len(codes)).astype(np.int64)
    is_new = np.unique(new_of)
    new_names = np.where(np.isin(is_new, new_of[new_of != np.arange(len(new_of))]),
                         np.char.add(names[is_new], "-Nouvelle"), names[is_new])
    reg = np.array([schema.REGION_OF_DEPARTEMENT[d] for d in dep[is_new]])
    pl = pd.DataFrame({
        "REG": reg, "Région": [schema.REGIONS[r] for r in reg], "DEP": dep[is_new],
        "CODARR": 1, "CODCAN": "01", "CODCOM": [c[-3:] for c in codes[is_new]],
        "COM": codes[is_new], "Commune": new_names, "PMUN": pmun[is_new],
    })

    # QPV in dense places, with their communes and INSEE-like indicators.
    centres = _choose_qpv_centres(rng, size, cx, cy, cols["ind"], outline)
    qgeoms = _qpv_polygons(rng, centres)
    q_dep = dep[cKDTree(seeds).query(centres)[1]]
    order = np.lexsort((centres[:, 0], q_dep))
    centres, qgeoms, q_dep = centres[order], qgeoms[order], q_dep[order]
    rank = pd.Series(q_dep).groupby(q_dep).cumcount().to_numpy()
    qcodes = np.array([f"QN{d:0>3}{r % 99 + 1:02d}{'MIN'[r // 99]}"
                       for d, r in zip(q_dep, rank, strict=True)])
    tree = shapely.STRtree(geoms)
    qi, ci = tree.query(qgeoms, predicate="intersects")
    member = pd.DataFrame({"q": qi, "c": ci}).sort_values(["q", "c"])
    insee_com = member.groupby("q")["c"].agg(lambda s: ", ".join(codes[s]))
    lib_com = member.groupby("q")["c"].agg(lambda s: ", ".join(names[s]))
    q_reg = np.array([schema.REGION_OF_DEPARTEMENT[d] for d in q_dep])
    qpv = gpd.GeoDataFrame({
        "code_qp": qcodes,
        "lib_qp": [f"Quartier synthétique {c[2:]}" for c in qcodes],
        "insee_reg": q_reg, "lib_reg": [schema.REGIONS[r] for r in q_reg],
        "insee_dep": q_dep, "lib_dep": [f"Département {d}" for d in q_dep],
        "insee_com": insee_com.reindex(range(len(qcodes))).to_numpy(),
        "lib_com": lib_com.reindex(range(len(qcodes))).to_numpy(),
        "siren_epci": "200000000",
    }, geometry=qgeoms, crs=L93)
    with _atomic(work / "qpv2024.geojson") as tmp:
        qpv.to_crs("EPSG:4326").to_file(tmp, driver="GeoJSON")
    lst = pd.DataFrame({"code_qp": qcodes[member["q"]], "lib_qp": qpv["lib_qp"].to_numpy()[
        member["q"]], "insee_dep": q_dep[member["q"]], "insee_com": codes[member["c"]],
        "lib_com": qpv["lib_com"].to_numpy()[member["q"]]})
    with _atomic(work / "qpv2024_code_commune.csv") as tmp:
        lst.to_csv(tmp, index=False)

    # The population INSEE publishes for a QPV: cells whose centre is inside, with the
    # excess density of collective housing that the grid's area shares miss (~30 %).
    pi, qi2 = shapely.STRtree(qgeoms).query(shapely.points(cx, cy), predicate="within")
    pop_q = np.bincount(qi2, weights=cols["ind"][pi], minlength=len(qcodes))
    pop_mun = np.maximum(np.round(pop_q * rng.uniform(1.2, 1.4, len(qcodes))), 1_000)
    # Populations légales written once the QPV are known: a commune holds at least 1.25
    # times the QPV inhabitants that its share of each QPV's area gives it (the split the
    # pipeline makes). Drawn independently, a small commune under a big QPV got up to 3x its
    # own population, which population_shares rightly refuses (no real commune has more
    # people in QPV than in all). No random draw here: every other file is unchanged.
    share = shapely.area(shapely.intersection(qgeoms[member["q"]], geoms[member["c"]]))
    share = share / shapely.area(qgeoms[member["q"]])
    need = np.bincount(new_of[member["c"].to_numpy()],
                       weights=pop_mun[member["q"].to_numpy()] * share, minlength=len(codes))
    pl["PMUN"] = np.maximum(pl["PMUN"].to_numpy(), np.ceil(need[is_new] * 1.25)).astype(np.int64)
    pl["PCAP"] = np.round(pl["PMUN"] * 0.015).astype(np.int64)
    pl["PTOT"] = pl["PMUN"] + pl["PCAP"]
    with _atomic(work / "populations_legales.csv") as tmp:
        pl.to_csv(tmp, sep=";", index=False)
    say(f"{len(mouv):,} mouvements rows, {len(pl):,} communes after mergers")

    ind_tab = pd.DataFrame({
        "CODGEO": qcodes, "LIBGEO": qpv["lib_qp"], "POP_MUN": pop_mun.astype(np.int64),
        "TX_TOT_0A24": np.round(rng.uniform(30, 45, len(qcodes)), 1),
        "IND_JEUNE": np.round(rng.uniform(0.8, 2.5, len(qcodes)), 1),
        "TX_TOT_ET": np.round(rng.uniform(5, 35, len(qcodes)), 1),
    })
    with _atomic(work / "qpv_indicators.csv") as tmp:
        ind_tab.to_csv(tmp, sep=";", decimal=",", index=False)
    say(f"{len(qcodes):,} QPV, {len(lst):,} QPV x commune rows")

    layers = _layers(rng, qgeoms, outline)
    with _atomic(work / "layers.gpkg") as tmp:
        for name, frame in layers.items():
            frame.to_file(tmp, layer=name, driver="GPKG")
    say("exposure layers: " + ", ".join(f"{k} {len(v):,}" for k, v in layers.items()))

    np.savez(work / "grid.npz", **cols)
    _write_filosofi_csv(cols, codes[commune_of_cell], work / "filosofi_200m.csv")
    say("grid written (npz + Filosofi CSV)")

    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "size": asdict(size),
        "counts": {
            "cells": int(cols["ind"].size),
            "qpv": len(qcodes),
            "communes_before_mergers": len(codes),
            "communes_after_mergers": len(pl),
            "mouvements_rows": len(mouv),
            "qpv_commune_rows": len(lst),
            "departements": len(set(dep)),
            **{f"layer_{k}": len(v) for k, v in layers.items()},
        },
        "totals": {
            "grid_ind": float(cols["ind"].sum()),
            "pmun": int(pl["PMUN"].sum()),
            "qpv_pop_mun": int(pop_mun.sum()),
            "qpv_area_ha": float(shapely.area(qgeoms).sum() / 1e4),
        },
        "grid_format": "filosofi_200m.csv: INSEE Filosofi 2019 layout, ';' and decimal commas; "
                       "grid.npz: the same cells as arrays (lower-left corners in EPSG:3035)",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    os.replace(work, folder)
    return folder


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("size", choices=sorted(SIZES), nargs="?", default="quick")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--cache-dir")
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    f = generate(a.size, seed=a.seed, cache_dir=a.cache_dir, force=a.force, verbose=True)
    print(f)
    print((f / "manifest.json").read_text())
