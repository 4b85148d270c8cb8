"""The benchmark cases, each run in its own Python process by :mod:`benchmarks.run`.

A case loads its inputs, resets the process's peak-memory counter (Linux
``/proc/self/clear_refs``), times the operation with :func:`time.perf_counter`, then reads the
peak resident set size (``VmHWM``), which counts numpy and GEOS allocations that
``tracemalloc`` misses. Results go to a JSON file; per-zone numbers that the parent compares
across tools go to ``.npy`` files beside it.

Run one case by hand::

    python -m benchmarks.cases grid_population.qpvgeo DATA_DIR WORK_DIR OUT.json

A case whose qpvgeo function has not landed (ImportError) reports ``status:
"not available"`` with the reason; it never invents a number.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

# -- memory -------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset the peak-RSS high-water mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024


def peak_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: the lifetime maximum, which includes the inputs
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":
            kb //= 1024
    return kb / 1024


class Meter:
    """Time and peak memory of the block it wraps."""

    def __enter__(self):
        self.baseline_mb = rss_mb()
        self.peak_reset = reset_peak()
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        # CPU time of this process (all its threads): on a shared machine, wall time much
        # above it means the process waited for a core
        self.cpu_seconds = time.process_time() - self.c0
        self.peak_mb = peak_mb()
        return False

    def record(self) -> dict:
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds_first_run": round(self.cpu_seconds, 3),
            "peak_rss_mb": round(self.peak_mb, 1),
            "baseline_rss_mb": None if self.baseline_mb is None else round(self.baseline_mb, 1),
            "peak_is_since_start_of_case": self.peak_reset,
        }


def measure(fn, opts: dict):
    """Run ``fn`` under a :class:`Meter`, then again while cheap; keep the fastest time.

    The first run gives the peak memory. Further runs (up to ``opts["repeat"]``, default 3,
    while the total stays under ``opts["repeat_budget"]`` seconds, default 60) damp the
    noise of a machine shared with other work; every run's time is kept in the record.
    """
    with Meter() as m:
        result = fn()
    times, cpu = [m.seconds], [m.cpu_seconds]
    while (len(times) < int(opts.get("repeat", 3))
           and sum(times) < float(opts.get("repeat_budget", 60))):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    rec = m.record()
    rec["seconds"] = round(min(times), 3)
    rec["seconds_runs"] = [round(t, 3) for t in times]
    # the least CPU time of the runs: on a loaded machine it moves far less than wall time
    rec["cpu_seconds"] = round(min(cpu), 3)
    return result, rec


class NotAvailable(Exception):
    """A qpvgeo function the case needs is not there (yet)."""


def _need(module: str, *names: str):
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a module that fails to import
        raise NotAvailable(f"{module} cannot be imported: {type(exc).__name__}: {exc}") from exc
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise NotAvailable(f"{module} has no {', '.join(missing)}")
    return [getattr(mod, n) for n in names]


# -- inputs ---------------------------------------------------------------------------------


def _qpv_plain(data: Path, *, crs="EPSG:2154", regions=None):
    """QPV contours read with geopandas only (the peers' view of the same file)."""
    import geopandas as gpd

    q = gpd.read_file(data / "qpv2024.geojson")
    if regions:
        q = q[q["insee_reg"].isin(regions)]
    q = q.rename(columns={"code_qp": "code_qpv"}).sort_values("code_qpv").reset_index(drop=True)
    return q[["code_qpv", "insee_reg", "geometry"]].to_crs(crs)


def _grid(data: Path, *, crs="EPSG:2154", zones=None):
    from benchmarks.generate import load_grid

    grid = load_grid(data, geometry=True)
    if crs != "EPSG:2154":
        # Build the squares where INSEE defines them (exact 200 m squares in LAEA).
        import geopandas as gpd
        import shapely

        x, y = grid["x_laea"].to_numpy(float), grid["y_laea"].to_numpy(float)
        grid = gpd.GeoDataFrame(grid.drop(columns="geometry"),
                                geometry=shapely.box(x, y, x + 200, y + 200), crs="EPSG:3035")
    return grid


def _save(work: Path, name: str, codes, values) -> str:
    path = work / f"{name}.npz"
    np.savez(path, codes=np.asarray(codes, dtype=str), values=np.asarray(values, dtype=float))
    return str(path)


# -- cases ----------------------------------------------------------------------------------


def case_pipeline(data: Path, work: Path, opts: dict) -> dict:
    """load -> harmonise -> population shares, the national QPV population pipeline."""
    (read_qpv, read_qpv_indicators, read_communes, read_commune_population) = _need(
        "qpvgeo.readers", "read_qpv", "read_qpv_indicators", "read_communes",
        "read_commune_population")
    (read_cog_movements,) = _need("qpvgeo.readers.cog", "read_cog_movements")
    (harmonise_communes,) = _need("qpvgeo.cog", "harmonise_communes")
    qpv_population_by_commune, population_shares = _need(
        "qpvgeo.population", "qpv_population_by_commune", "population_shares")

    levels = ("commune", "departement", "region", "france")

    def pipeline():
        steps: dict[str, float] = {}
        t = time.perf_counter()

        def lap(name):
            nonlocal t
            now = time.perf_counter()
            steps[name] = round(now - t, 3)
            t = now

        communes = read_communes(data / "communes.gpkg")
        lap("read_communes")
        population = read_commune_population(data / "populations_legales.csv")
        lap("read_commune_population")
        movements = read_cog_movements(data / "mouvements_communes.csv")
        lap("read_cog_movements")
        communes_h = harmonise_communes(communes, movements=movements)
        lap("harmonise_communes")
        qpv = read_qpv(data / "qpv2024.geojson", communes=communes_h)
        lap("read_qpv")
        indicators = read_qpv_indicators(data / "qpv_indicators.csv")
        lap("read_qpv_indicators")
        by_commune = qpv_population_by_commune(qpv, indicators, communes_h)
        lap("qpv_population_by_commune")
        shares = {lv: population_shares(by_commune, population, level=lv) for lv in levels}
        lap("population_shares")
        return communes, communes_h, qpv, shares, steps

    (communes, communes_h, qpv, shares, steps), rec = measure(pipeline, opts)
    france = shares["france"]
    manifest = json.loads((data / "manifest.json").read_text())
    return {
        **rec,
        "steps_seconds_first_run": steps,
        "n_qpv": int(len(qpv)),
        "n_communes_read": int(len(communes)),
        "n_communes_harmonised": int(len(communes_h)),
        "n_rows_by_commune": {lv: int(len(s)) for lv, s in shares.items()},
        "population_qpv_france": float(france["population_qpv"].sum()),
        "population_france": float(france["population"].sum()),
        "expected_population_qpv": manifest["totals"]["qpv_pop_mun"],
        "expected_population": manifest["totals"]["pmun"],
        "expected_communes_harmonised": manifest["counts"]["communes_after_mergers"],
    }


def case_grid_read(data: Path, work: Path, opts: dict) -> dict:
    """read_filosofi_grid on the national CSV (INSEE layout, decimal commas)."""
    (read_filosofi_grid,) = _need("qpvgeo.readers.grid", "read_filosofi_grid")
    grid, rec = measure(lambda: read_filosofi_grid(data / "filosofi_200m.csv"), opts)
    manifest = json.loads((data / "manifest.json").read_text())
    return {**rec, "n_cells": int(len(grid)), "ind_total": float(grid["ind"].sum()),
            "expected_cells": manifest["counts"]["cells"],
            "expected_ind_total": manifest["totals"]["grid_ind"],
            "file_mb": round((data / "filosofi_200m.csv").stat().st_size / 2**20, 1)}


def case_grid_read_corners(data: Path, work: Path, opts: dict) -> dict:
    """read_filosofi_grid(national CSV, geometry=False): the frame without the squares."""
    (read_filosofi_grid,) = _need("qpvgeo.readers.grid", "read_filosofi_grid")
    grid, rec = measure(lambda: read_filosofi_grid(data / "filosofi_200m.csv", geometry=False),
                        opts)
    manifest = json.loads((data / "manifest.json").read_text())
    return {**rec, "n_cells": int(len(grid)), "ind_total": float(grid["ind"].sum()),
            "expected_cells": manifest["counts"]["cells"],
            "frame_mb": round(float(grid.memory_usage(deep=True).sum()) / 2**20, 1),
            "file_mb": round((data / "filosofi_200m.csv").stat().st_size / 2**20, 1)}


def _grid_population_inputs(data: Path, opts: dict, crs: str):
    zones = _qpv_plain(data, crs=crs, regions=opts.get("regions"))
    grid = _grid(data, crs=crs)
    return grid, zones


def case_grid_population_qpvgeo(data: Path, work: Path, opts: dict) -> dict:
    """qpvgeo.interpolate.grid_population(grid, qpv, method="area")."""
    (grid_population,) = _need("qpvgeo.interpolate", "grid_population")
    grid, zones = _grid_population_inputs(data, opts, "EPSG:2154")
    est, rec = measure(
        lambda: grid_population(grid, zones, columns=("ind",), method="area"), opts)
    return {**rec, "n_zones": len(zones), "n_cells": len(grid),
            "ms_per_zone": round(1000 * rec["seconds"] / max(len(zones), 1), 3),
            "total": float(est["ind"].sum()),
            "values": _save(work, "grid_population.qpvgeo", zones["code_qpv"], est["ind"])}


def case_grid_population_calibrated(data: Path, work: Path, opts: dict) -> dict:
    """grid_population(method="calibrated", qpv=qpv): the dasymetric estimator's cost."""
    (grid_population,) = _need("qpvgeo.interpolate", "grid_population")
    grid, zones = _grid_population_inputs(data, opts, "EPSG:2154")
    est, rec = measure(lambda: grid_population(grid, zones, columns=("ind",),
                                               method="calibrated", qpv=zones), opts)
    return {**rec, "n_zones": len(zones), "n_cells": len(grid),
            "ms_per_zone": round(1000 * rec["seconds"] / max(len(zones), 1), 3),
            "total": float(est["ind"].sum())}


def case_accuracy_bordeaux(data: Path, work: Path, opts: dict) -> dict:
    """Real data: the 21 Bordeaux QPV (validation set of issue 3), both methods vs INSEE.

    Filosofi 2015 grid of Bordeaux Métropole, official 2015 contours, INSEE ``POP_MUN``
    (DEMO 2022 edition); the median absolute percentage error of each method.
    """
    (grid_population,) = _need("qpvgeo.interpolate", "grid_population")
    (read_filosofi_grid,) = _need("qpvgeo.readers.grid", "read_filosofi_grid")
    read_qpv, read_qpv_indicators = _need("qpvgeo.readers", "read_qpv", "read_qpv_indicators")
    shared = Path(opts.get("shared_data") or "")
    paths = {
        "grid": shared / "filosofi_200m_bordeaux_metropole" / "carreaux_200m_bm.gpkg",
        "qpv": shared / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp",
        "demo": shared / "insee_qpv_tables" / "DEMO_2022.csv",
    }
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise NotAvailable(f"real data not found: {', '.join(absent)}")
    grid = read_filosofi_grid(paths["grid"])
    qpv = read_qpv(paths["qpv"]).set_index("code_qpv", drop=False)
    official = read_qpv_indicators(paths["demo"])["population"]
    # the 21 QPV of Bordeaux Métropole fully covered by the grid (tests/test_interpolate.py)
    codes = ["QP033001", "QP033002"] + [f"QP0330{i:02d}" for i in range(5, 24)]
    zones = qpv.loc[codes]
    out: dict = {"n_zones": len(zones), "n_cells": len(grid),
                 "official_total": float(official.loc[codes].sum())}
    for method, kw in (("area", {}), ("calibrated", {"qpv": qpv})):
        with Meter() as m:
            est = grid_population(grid, zones, columns=("ind",), method=method, **kw)["ind"]
        err = (est / official.loc[codes] - 1).astype(float)
        out[method] = {**m.record(), "median_abs_error": float(err.abs().median()),
                       "median_signed_error": float(err.median()),
                       "total_ratio": float(est.sum() / official.loc[codes].sum())}
    return out


def case_grid_population_tobler(data: Path, work: Path, opts: dict) -> dict:
    """tobler.area_interpolate(grid, qpv, extensive_variables=["ind"], allocate_total=False).

    Same inputs as qpvgeo: the exact INSEE squares in EPSG:3035 and the QPV reprojected to
    EPSG:3035, which is where qpvgeo shares the areas.
    """
    from tobler.area_weighted import area_interpolate

    grid, zones = _grid_population_inputs(data, opts, "EPSG:3035")
    grid = grid[["ind", "geometry"]]
    est, rec = measure(lambda: area_interpolate(
        grid, zones[["code_qpv", "geometry"]], extensive_variables=["ind"],
        allocate_total=False), opts)
    return {**rec, "n_zones": len(zones), "n_cells": len(grid),
            "ms_per_zone": round(1000 * rec["seconds"] / max(len(zones), 1), 3),
            "total": float(est["ind"].sum()),
            "values": _save(work, "grid_population.tobler", zones["code_qpv"], est["ind"])}


def case_grid_population_overlay(data: Path, work: Path, opts: dict) -> dict:
    """A plain geopandas.overlay: intersect, share each cell by area, sum per QPV."""
    import geopandas as gpd

    grid, zones = _grid_population_inputs(data, opts, "EPSG:3035")
    grid = grid[["ind", "geometry"]].assign(cell_area=lambda g: g.area)
    def op():
        pieces = gpd.overlay(grid, zones[["code_qpv", "geometry"]], how="intersection",
                             keep_geom_type=True)
        pieces["ind_part"] = pieces["ind"] * pieces.area / pieces["cell_area"]
        return pieces.groupby("code_qpv")["ind_part"].sum().reindex(zones["code_qpv"],
                                                                    fill_value=0.0)

    est, rec = measure(op, opts)
    return {**rec, "n_zones": len(zones), "n_cells": len(grid),
            "ms_per_zone": round(1000 * rec["seconds"] / max(len(zones), 1), 3),
            "total": float(est.sum()),
            "values": _save(work, "grid_population.overlay", est.index, est.to_numpy())}


def case_areal_qpvgeo(data: Path, work: Path, opts: dict) -> dict:
    """qpvgeo.interpolate.areal_interpolate: commune populations onto the QPV."""
    (areal_interpolate,) = _need("qpvgeo.interpolate", "areal_interpolate")
    communes, zones = _areal_inputs(data)
    est, rec = measure(lambda: areal_interpolate(communes, zones, extensive=("population",)),
                       opts)
    return {**rec, "n_zones": len(zones), "n_sources": len(communes),
            "total": float(est["population"].sum()),
            "values": _save(work, "areal.qpvgeo", zones["code_qpv"], est["population"])}


def case_areal_tobler(data: Path, work: Path, opts: dict) -> dict:
    """tobler.area_interpolate(communes, qpv, allocate_total=False)."""
    from tobler.area_weighted import area_interpolate

    communes, zones = _areal_inputs(data)
    est, rec = measure(lambda: area_interpolate(
        communes, zones, extensive_variables=["population"], allocate_total=False), opts)
    return {**rec, "n_zones": len(zones), "n_sources": len(communes),
            "total": float(est["population"].sum()),
            "values": _save(work, "areal.tobler", zones["code_qpv"], est["population"])}


def case_areal_overlay(data: Path, work: Path, opts: dict) -> dict:
    """A plain geopandas.overlay of communes and QPV, population shared by area."""
    import geopandas as gpd

    communes, zones = _areal_inputs(data)
    communes = communes.assign(source_area=lambda g: g.area)
    def op():
        pieces = gpd.overlay(communes, zones[["code_qpv", "geometry"]], how="intersection",
                             keep_geom_type=True)
        pieces["part"] = pieces["population"] * pieces.area / pieces["source_area"]
        return pieces.groupby("code_qpv")["part"].sum().reindex(zones["code_qpv"],
                                                                fill_value=0.0)

    est, rec = measure(op, opts)
    return {**rec, "n_zones": len(zones), "n_sources": len(communes),
            "total": float(est.sum()),
            "values": _save(work, "areal.overlay", est.index, est.to_numpy())}


def _areal_inputs(data: Path):
    import geopandas as gpd
    import pandas as pd

    communes = gpd.read_file(data / "communes.gpkg", layer="communes")
    # populations of the old geography: each commune's share of its new commune's PMUN,
    # by cell population, is not known to a peer; use the grid's own count per commune
    grid = _grid_counts(data)
    communes["population"] = pd.Series(grid).reindex(communes["code"]).fillna(0).to_numpy()
    zones = _qpv_plain(data)
    return communes[["code", "population", "geometry"]], zones


def _grid_counts(data: Path) -> dict:
    with np.load(data / "grid.npz") as z:
        commune, ind = z["commune"], z["ind"]
    import geopandas as gpd

    codes = gpd.read_file(data / "communes.gpkg", layer="communes",
                          ignore_geometry=True)["code"].to_numpy()
    sums = np.bincount(commune, weights=ind, minlength=len(codes))
    return dict(zip(codes, sums, strict=True))


def case_raster_qpvgeo(data: Path, work: Path, opts: dict) -> dict:
    """qpvgeo.exposure.air_exposure(qpv, raster=...): coverage-weighted zonal mean."""
    (air_exposure,) = _need("qpvgeo.exposure", "air_exposure")
    zones = _qpv_plain(data)
    raster = data / "no2.tif"
    est, rec = measure(
        lambda: air_exposure(zones, raster={"no2": raster}, pollutants=["no2"]), opts)
    return {**rec, "n_zones": len(zones), **_raster_facts(raster),
            "total": float(np.nansum(est["no2"])),
            "values": _save(work, "raster.qpvgeo", zones["code_qpv"], est["no2"])}


def case_raster_exactextract(data: Path, work: Path, opts: dict) -> dict:
    """exactextract.exact_extract(raster, qpv, "mean"): exact coverage fractions."""
    from exactextract import exact_extract

    zones = _qpv_plain(data)
    raster = data / "no2.tif"
    est, rec = measure(lambda: exact_extract(
        str(raster), zones[["code_qpv", "geometry"]], "mean", include_cols=["code_qpv"],
        output="pandas"), opts)
    return {**rec, "n_zones": len(zones), **_raster_facts(raster),
            "total": float(np.nansum(est["mean"])),
            "values": _save(work, "raster.exactextract", est["code_qpv"], est["mean"])}


def case_raster_rasterstats(data: Path, work: Path, opts: dict) -> dict:
    """rasterstats.zonal_stats(qpv, raster, stats="mean"): pixels whose centre is inside."""
    from rasterstats import zonal_stats

    zones = _qpv_plain(data)
    raster = data / "no2.tif"
    stats, rec = measure(lambda: zonal_stats(zones, str(raster), stats=["mean"]), opts)
    values = np.array([np.nan if s["mean"] is None else s["mean"] for s in stats])
    return {**rec, "n_zones": len(zones), **_raster_facts(raster),
            "total": float(np.nansum(values)),
            "values": _save(work, "raster.rasterstats", zones["code_qpv"], values)}


def _raster_facts(path: Path) -> dict:
    import rasterio

    with rasterio.open(path) as r:
        return {"raster_pixels": int(r.width * r.height), "raster_res_m": float(r.res[0])}


def _layers_for_profile(data: Path):
    from benchmarks.generate import load_layers

    return load_layers(data)


def case_exposure_profile(data: Path, work: Path, opts: dict) -> dict:
    """exposure_profile for every QPV, every registry layer, the grid, the 500 m ring."""
    import inspect

    (exposure_profile,) = _need("qpvgeo.exposure", "exposure_profile")
    zones = _qpv_plain(data)
    layers = _layers_for_profile(data)
    grid = _grid(data)
    params = inspect.signature(exposure_profile).parameters
    if "layers" not in params:
        raise NotAvailable("exposure_profile has no layers= (the registry-driven version)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof, rec = measure(lambda: exposure_profile(
            zones, layers=layers, population=grid, surroundings="ring"), opts)
    return {**rec, "n_zones": len(zones), "n_rows": int(len(prof)),
            "n_columns": int(prof.shape[1]), "layers_passed": sorted(layers),
            "layer_sizes": {k: len(v) for k, v in layers.items()},
            "n_cells": len(grid)}


# -- exposure_profile against a plain geopandas composition (issue 15) ----------------------


def _exposure_inputs(data: Path, opts: dict):
    """Every QPV (the rings' holes), the QPV measured (``opts["regions"]``), layers, grid."""
    every = _qpv_plain(data)
    zones = every[every["insee_reg"].isin(opts["regions"])] if opts.get("regions") else every
    if not len(zones):
        raise NotAvailable(f"no QPV in the regions {opts['regions']} (--peer-regions)")
    return every, zones.reset_index(drop=True), _layers_for_profile(data), _grid(data)


def _save_frame(work: Path, name: str, frame) -> str:
    """A profile as Parquet beside the result (the parent compares the two frames)."""
    path = work / f"{name}.parquet"
    out = frame.copy()
    out.attrs = {}
    out.to_parquet(path)
    return str(path)


def case_exposure_profile_area(data: Path, work: Path, opts: dict) -> dict:
    """exposure_profile(..., population_method="area"): the method its peer reproduces."""
    (exposure_profile,) = _need("qpvgeo.exposure", "exposure_profile")
    every, zones, layers, grid = _exposure_inputs(data, opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof, rec = measure(lambda: exposure_profile(
            zones, layers=layers, population=grid, surroundings="ring", all_qpv=every,
            population_method="area"), opts)
    return {**rec, "n_zones": len(zones), "n_rows": int(len(prof)),
            "n_columns": int(prof.shape[1]), "regions": opts.get("regions"),
            "values": _save_frame(work, "exposure_profile.area", prof)}


def case_exposure_composition(data: Path, work: Path, opts: dict) -> dict:
    """The same indicators from overlay / sjoin / sjoin_nearest / dissolve / groupby.

    :func:`benchmarks.composition.exposure_composition`: what an analyst writes with
    geopandas alone (a full-size run takes minutes, so it is run once).
    """
    from benchmarks.composition import exposure_composition

    every, zones, layers, grid = _exposure_inputs(data, opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof, rec = measure(lambda: exposure_composition(zones, layers, grid, all_qpv=every),
                            opts)
    return {**rec, "n_zones": len(zones), "n_rows": int(len(prof)),
            "n_columns": int(prof.shape[1]), "regions": opts.get("regions"),
            "ties": prof.attrs.get("ties", {}),
            "values": _save_frame(work, "exposure_profile.composition", prof)}


# -- grid_population from a GeoDataFrame with identifiers -----------------------------------


def _grid_with_ids(data: Path, n_cells: int | None):
    """The grid as a user holds it after geopandas.read_file: identifiers, values, squares.

    No ``x_laea`` / ``y_laea``: qpvgeo reads the corners from the identifiers (strings as
    pyogrio returns them); the squares are INSEE's, in EPSG:3035 (tobler's input).
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    from benchmarks.generate import load_grid

    grid = load_grid(data, geometry=False)
    if n_cells is not None and n_cells < len(grid):
        # every k-th cell: the same territory, thinner (QPV keep people in their cells)
        keep = np.linspace(0, len(grid) - 1, n_cells).astype(np.int64)
        grid = grid.iloc[keep].reset_index(drop=True)
    x, y = grid["x_laea"].to_numpy(), grid["y_laea"].to_numpy()
    ids = pd.Series(np.char.add(np.char.add(np.char.add("CRS3035RES200mN", y.astype(str)), "E"),
                                x.astype(str)).astype(object))
    xf, yf = x.astype(float), y.astype(float)
    return gpd.GeoDataFrame({"idcar_200m": ids, "ind": grid["ind"].to_numpy()},
                            geometry=shapely.box(xf, yf, xf + 200, yf + 200), crs="EPSG:3035")


def _ids_case(data: Path, work: Path, opts: dict, *, n_cells, tool: str, name: str) -> dict:
    grid = _grid_with_ids(data, n_cells)
    zones = _qpv_plain(data, crs="EPSG:3035", regions=opts.get("regions"))
    if tool == "qpvgeo":
        (grid_population,) = _need("qpvgeo.interpolate", "grid_population")
        est, rec = measure(lambda: grid_population(grid, zones, columns=("ind",))["ind"], opts)
    else:
        from tobler.area_weighted import area_interpolate

        est, rec = measure(lambda: area_interpolate(
            grid[["ind", "geometry"]], zones[["code_qpv", "geometry"]],
            extensive_variables=["ind"], allocate_total=False)["ind"], opts)
    return {**rec, "n_zones": len(zones), "n_cells": len(grid),
            "id_dtype": str(grid["idcar_200m"].dtype), "total": float(est.sum()),
            "values": _save(work, name, zones["code_qpv"], est.to_numpy())}


def _make_ids_case(n_cells, tool):
    suffix = "" if n_cells is None else f"_{n_cells // 1000}k"
    name = f"grid_population_ids{suffix}.{tool}"

    def case(data: Path, work: Path, opts: dict) -> dict:
        return _ids_case(data, work, opts, n_cells=n_cells, tool=tool, name=name)

    case.__doc__ = (f"grid_population on a GeoDataFrame carrying idcar_200m only "
                    f"({'all' if n_cells is None else n_cells} cells), {tool}")
    return name, case


# -- points -> QPV --------------------------------------------------------------------------


def _points(data: Path, n: int, seed: int = 7):
    """``n`` addresses where people live: cells drawn by population, uniform inside."""
    import pandas as pd
    from pyproj import Transformer

    with np.load(data / "grid.npz") as z:
        x, y, ind = z["x_laea"], z["y_laea"], z["ind"]
    rng = np.random.default_rng(seed)
    cell = rng.choice(len(x), size=n, p=ind / ind.sum())
    px = x[cell] + rng.uniform(0, 200, n)
    py = y[cell] + rng.uniform(0, 200, n)
    tr = Transformer.from_crs("EPSG:3035", "EPSG:2154", always_xy=True)
    px, py = tr.transform(px, py)
    return pd.DataFrame({"x": px, "y": py})


def _points_case(data: Path, work: Path, opts: dict, *, n: int, tool: str, name: str) -> dict:
    import geopandas as gpd

    pts = _points(data, n)
    zones = _qpv_plain(data)
    if tool == "qpvgeo":
        (locate_qpv,) = _need("qpvgeo.locate", "locate_qpv")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, rec = measure(lambda: locate_qpv(pts, zones, x="x", y="y", crs="EPSG:2154"),
                               {**opts, "repeat": 1 if n > 2_000_000 else opts.get("repeat", 3)})
        code_col = next(c for c in out.columns if c.startswith("code_qpv"))
        codes = out[code_col]
        inside = int(codes.notna().sum())
        dist_col = next(c for c in out.columns if c.startswith("distance_bord_qpv"))
        extra = {"points_with_distance": int(out[dist_col].notna().sum()),
                 "points_on_edge": int(out[next(c for c in out.columns
                                                if c.startswith("bord_qpv"))].sum())}
    elif tool == "geopandas":
        # the same answers as locate_qpv with geopandas, from the same plain x/y table:
        # the QPV holding each point (sjoin "intersects", first QPV), the distance to the
        # nearest QPV edge within 1 km and that QPV (sjoin_nearest to the boundaries),
        # the edge flag (distance <= 20 m, the 2024 tolerance, or two QPV)
        def peer():
            gpts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pts["x"], pts["y"]),
                                    crs="EPSG:2154")
            held = gpd.sjoin(gpts, zones[["code_qpv", "geometry"]], predicate="intersects",
                             how="left")
            n_in = held.groupby(level=0)["code_qpv"].count()
            held = held[~held.index.duplicated()]
            edges = gpd.GeoDataFrame({"code_qpv": zones["code_qpv"].to_numpy()},
                                     geometry=zones.boundary.to_numpy(), crs=zones.crs)
            near = gpd.sjoin_nearest(gpts, edges, how="left", max_distance=1000.0,
                                     distance_col="distance")
            near = near[~near.index.duplicated()]
            return held.assign(distance=near["distance"], code_proche=near["code_qpv"],
                               bord=(near["distance"] <= 20.0) | (n_in > 1))

        out, rec = measure(peer, {**opts, "repeat": opts.get("repeat", 3)})
        inside = int(out["code_qpv"].notna().sum())
        extra = {"points_with_distance": int(out["distance"].notna().sum()),
                 "points_on_edge": int(out["bord"].sum())}
    else:
        gpts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pts["x"], pts["y"]),
                                crs="EPSG:2154")
        out, rec = measure(lambda: gpd.sjoin(gpts, zones[["code_qpv", "geometry"]],
                                             predicate="within", how="left"),
                           {**opts, "repeat": 1 if n > 2_000_000 else opts.get("repeat", 3)})
        inside = int(out["code_qpv"].notna().sum())
        extra = {}
    return {**rec, "n_points": n, "n_zones": len(zones), "points_in_qpv": inside,
            "us_per_point": round(1e6 * rec["seconds"] / n, 3), **extra}


def _make_points_case(n, tool):
    name = f"points_{n // 1_000_000}m.{tool}"

    def case(data: Path, work: Path, opts: dict) -> dict:
        return _points_case(data, work, opts, n=n, tool=tool, name=name)

    case.__doc__ = f"{n:,} points -> QPV, {tool}"
    return name, case


# -- diagnose on the real files -------------------------------------------------------------


def case_diagnose_real32(data: Path, work: Path, opts: dict) -> dict:
    """``qpvgeo diagnose --territory region:32`` (HdF, 2024) on the real files."""
    (diagnose,) = _need("qpvgeo.report", "diagnose")
    shared = Path(opts.get("shared_data") or "")
    folders = ["qpv2024_contours_simplified", "qpv2024_list_anct",
               "qpv2024_indicators_sigville", "insee_population_communes", "flood_hdf",
               "icpe_hdf"]
    absent = [f for f in folders if not (shared / f).is_dir()]
    if absent:
        raise NotAvailable(f"real data not found in {shared}: {', '.join(absent)}")
    import shutil

    root = work / "diagnose-data"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for f in folders:
        (root / f).symlink_to(shared / f, target_is_directory=True)
    out_dir = work / "diagnose-32"

    def run():
        shutil.rmtree(out_dir, ignore_errors=True)
        return diagnose("region:32", millesime=2024, data_dir=root, out=out_dir,
                        progress=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path, rec = measure(run, {**opts, "repeat": 1})
    files = sorted(p.name for p in Path(path).iterdir())
    return {**rec, "n_files": len(files), "files": files}


def _map_case(qpv, work: Path, name: str) -> dict:
    """Offline qpvgeo map vs geopandas.explore() of the same polygons."""
    import shapely

    out: dict = {"n_qpv": int(len(qpv)),
                 "original_area_km2": round(float(qpv.area.sum()) / 1e6, 4),
                 "original_vertices": int(shapely.get_num_coordinates(qpv.geometry.values).sum())}
    # the peer: geopandas.explore(), which links Leaflet etc. from CDNs
    with Meter() as m:
        explore_path = work / f"{name}.explore.html"
        qpv.explore().save(str(explore_path))
    out["explore"] = {**m.record(), "bytes": explore_path.stat().st_size,
                      "needs_network": _needs_network(explore_path)}
    try:
        qpv_map, save_html = _need("qpvgeo.maps", "qpv_map", "save_html")
        cache = _asset_cache(work)
    except NotAvailable as exc:
        out["qpvgeo"] = {"status": "not available", "reason": str(exc)}
        return out
    path = work / f"{name}.qpvgeo.html"
    with Meter() as m:
        fmap = qpv_map(qpv)
        save_html(fmap, path, offline=True, cache=cache)
    rec = {**m.record(), "bytes": path.stat().st_size, "needs_network": _needs_network(path)}
    simplified = _simplified_area_km2(path)
    if simplified is not None:
        rec["map_area_km2"] = round(simplified[0], 4)
        rec["map_vertices"] = simplified[1]
        rec["area_rel_diff"] = simplified[0] / out["original_area_km2"] - 1
    else:
        rec["map_area_km2"] = None
        rec["area_note"] = "no GeoJSON polygons could be read back from the HTML"
    out["qpvgeo"] = rec
    return out


def _asset_cache(work: Path) -> Path | None:
    """A qpvgeo download cache pre-filled with the pinned web assets from their npm packages.

    This machine reaches package registries but not CDNs; the npm packages installed by
    ``npm ci --prefix tests/web_assets`` hold the same bytes (qpvgeo checks each file's
    pinned sha256 when it inlines it). Without them, the default cache (and
    ``$QPVGEO_MIRROR``) is used, which needs the network once.
    """
    import shutil
    from urllib.parse import urlsplit

    from qpvgeo.maps import _assets

    repo = Path(__file__).resolve().parents[1]
    node_modules = repo / "tests" / "web_assets" / "node_modules"
    root = work / "asset-cache"
    missing = []
    for url, asset in _assets.ASSETS.items():
        pkg_ver, _, rel = asset.npm.partition("/")
        src = node_modules / pkg_ver.rpartition("@")[0] / rel
        parts = urlsplit(url)
        dst = root.joinpath("urls", parts.netloc, *parts.path.lstrip("/").split("/"))
        if dst.is_file():
            continue
        if not src.is_file():
            missing.append(asset.npm)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    if missing:
        if os.environ.get("QPVGEO_MIRROR"):
            return None
        raise NotAvailable(
            "offline map assets not available without network: "
            f"{', '.join(missing)} missing from {node_modules} "
            "(run `npm ci --prefix tests/web_assets`, or set QPVGEO_MIRROR)")
    return root


def _needs_network(path: Path) -> list[str]:
    import re

    text = path.read_text(encoding="utf-8", errors="replace")
    urls = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["'](https?://[^"']+)""", text)
    return sorted(set(urls))


def _simplified_area_km2(path: Path):
    """Area (km², EPSG:2154) and vertex count of the polygons embedded in a folium HTML."""
    import re

    import geopandas as gpd
    import shapely

    from qpvgeo.maps._pack import unpack_geojson

    text = path.read_text(encoding="utf-8", errors="replace")
    geoms = []
    # folium embeds each GeoJson layer as a JS object literal: {"type": "FeatureCollection", …}
    for match in re.finditer(r'\{"(?:bbox|features|type)"', text):
        start = match.start()
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
            obj = unpack_geojson(obj)  # qpvgeo writes contours as integer deltas
            for feat in obj.get("features", []):
                g = shapely.geometry.shape(feat["geometry"]) if feat.get("geometry") else None
                if g is None:
                    continue
                # a repaired contour can be a collection (polygon + stray line): keep its area
                parts = shapely.get_parts(g) if g.geom_type == "GeometryCollection" else [g]
                geoms += [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not geoms:
        return None
    s = gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs("EPSG:2154")
    return float(s.area.sum()) / 1e6, int(shapely.get_num_coordinates(s.values).sum())


def case_map_synthetic(data: Path, work: Path, opts: dict) -> dict:
    """Interactive offline map of all the synthetic QPV."""
    zones = _qpv_plain(data)
    zones["nom_qpv"] = zones["code_qpv"]
    return _map_case(zones, work, "map_synthetic")


def case_map_real2015(data: Path, work: Path, opts: dict) -> dict:
    """The same on the 1,296 official 2015 contours (QP_METROPOLE_LB93.shp), when present."""
    import geopandas as gpd

    shp = Path(opts.get("real_qpv") or "")
    if not shp.is_file():
        raise NotAvailable(f"real 2015 contours not found at {shp}")
    q = gpd.read_file(shp)
    q = q.rename(columns={"CODE_QP": "code_qpv", "NOM_QP": "nom_qpv"})
    q["geometry"] = q.geometry.make_valid()
    return _map_case(q[["code_qpv", "nom_qpv", "geometry"]], work, "map_real2015")


CASES = {
    "pipeline": case_pipeline,
    "grid_read": case_grid_read,
    "grid_read.corners": case_grid_read_corners,
    "grid_population.qpvgeo": case_grid_population_qpvgeo,
    "grid_population.tobler": case_grid_population_tobler,
    "grid_population.qpvgeo_calibrated": case_grid_population_calibrated,
    "accuracy.bordeaux": case_accuracy_bordeaux,
    "grid_population.overlay": case_grid_population_overlay,
    "areal.qpvgeo": case_areal_qpvgeo,
    "areal.overlay": case_areal_overlay,
    "areal.tobler": case_areal_tobler,
    "raster.qpvgeo": case_raster_qpvgeo,
    "raster.exactextract": case_raster_exactextract,
    "raster.rasterstats": case_raster_rasterstats,
    "exposure_profile": case_exposure_profile,
    "exposure_profile.area": case_exposure_profile_area,
    "exposure_profile.composition": case_exposure_composition,
    "map.synthetic": case_map_synthetic,
    "map.real2015": case_map_real2015,
    "diagnose.real32": case_diagnose_real32,
}
for _n in (700_000, None):
    for _tool in ("qpvgeo", "tobler"):
        _name, _case = _make_ids_case(_n, _tool)
        CASES[_name] = _case
for _n in (1_000_000, 10_000_000):
    for _tool in ("qpvgeo", "sjoin", "geopandas"):
        if _n > 1_000_000 and _tool != "qpvgeo":
            continue  # the 10 M case says where one machine ends for qpvgeo; see README
        _name, _case = _make_points_case(_n, _tool)
        CASES[_name] = _case


def main(argv: list[str]) -> int:
    name, data, work, out = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    opts = json.loads(argv[4]) if len(argv) > 4 else {}
    work.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = {"status": "ok", **CASES[name](data, work, opts)}
    except NotAvailable as exc:
        result = {"status": "not available", "reason": str(exc)}
    except Exception as exc:  # reported, never hidden: the table shows the error
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=6)}
    result["case"] = name
    result["pid"] = os.getpid()
    out.write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
