"""Run the qpvgeo benchmarks: national-size synthetic inputs, qpvgeo against its peers.

Usage (from the repository root)::

    python -m benchmarks.run                 # full national size, ~2.3 M cells (minutes)
    python -m benchmarks.run --quick         # tiny size, a few seconds (the test suite's)
    python -m benchmarks.run --size medium   # ~300 k cells around Paris
    python -m benchmarks.run --out DIR --cases grid_population,map

Each case runs in its own process (clean peak memory); results are printed as a table and
written to ``<out>/<date>.json`` (``<date>-<size>.json`` for sizes other than full) with the
machine's facts. Targets of issue 7 are checked and, when missed, the table says by how much.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks import generate as gen

REPO = Path(__file__).resolve().parents[1]
REAL_QPV_2015 = REPO.parent / "shared" / "data" / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp"

#: Targets from issue 7, raised by issue 15 ("Performance v2") where it says so.
TARGETS = {
    "pipeline_seconds": 60.0,
    "pipeline_peak_mb": 4096.0,
    "grid_population_speedup_vs_tobler": 20.0,  # issue 15 (issue 7: 5)
    "grid_population_ids_speedup_vs_tobler": 10.0,  # issue 15
    "areal_speedup_vs_tobler": 2.0,  # issue 15
    "raster_speedup_vs_exactextract": 1.0,  # issue 15, qpvgeo's bookkeeping included
    "grid_read_seconds": 4.0,  # issue 15
    "grid_read_peak_mb": 1024.0,  # issue 15
    "exposure_seconds": 15.0,  # issue 15
    "exposure_peak_mb": 1024.0,  # issue 15
    "exposure_speedup_vs_composition": 5.0,  # issue 15: vs a plain geopandas composition
    # same numbers: both sides compute in float64 (see benchmarks.composition.compare_profiles)
    "exposure_composition_rel_tol": 1e-9,
    "points_1m_seconds": 10.0,  # issue 15; and no slower than geopandas.sjoin
    "diagnose_seconds": 10.0,  # issue 15, region 32 on the real files
    "totals_rel_tol": 1e-9,  # against the float64 peers (the overlay; qpvgeo itself)
    # tobler's area table is float32 (tobler.area_weighted._area_tables_binning): each
    # area carries up to 6e-8 relative rounding; totals over thousands of areas, whose
    # roundings partly cancel, measured 1e-10..1e-9. 1e-6 (16 float32 steps) is the bound
    # that says tobler and qpvgeo compute the same thing at float32 precision.
    "tobler_totals_rel_tol": 1e-6,
    "map_bytes": 2_500_000,  # 2.5 MB, decimal megabytes as the 5.98 MB
    "map_area_rel_tol": 1e-3,
}

GROUPS = {
    "pipeline": ["pipeline"],
    "grid_read": ["grid_read", "grid_read.corners"],
    "grid_population": ["grid_population.qpvgeo", "grid_population.overlay",
                        "grid_population.tobler", "grid_population.qpvgeo_calibrated"],
    "accuracy": ["accuracy.bordeaux"],
    "areal": ["areal.qpvgeo", "areal.overlay", "areal.tobler"],
    "raster": ["raster.qpvgeo", "raster.exactextract", "raster.rasterstats"],
    "grid_population_ids": ["grid_population_ids_700k.qpvgeo", "grid_population_ids_700k.tobler",
                            "grid_population_ids.qpvgeo", "grid_population_ids.tobler"],
    "exposure": ["exposure_profile", "exposure_profile.area", "exposure_profile.composition"],
    "points": ["points_1m.qpvgeo", "points_1m.sjoin", "points_1m.geopandas",
               "points_10m.qpvgeo"],
    # without the 10 M (~7 min, 7 GB)
    "points_1m": ["points_1m.qpvgeo", "points_1m.sjoin", "points_1m.geopandas"],
    "diagnose": ["diagnose.real32"],
    "map": ["map.synthetic", "map.real2015"],
}


# -- machine facts ----------------------------------------------------------------------------


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return None


def machine_facts() -> dict:
    """CPU, memory, load and library versions of the machine the figures come from."""
    facts: dict = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                 if ln.startswith("model name")]
        facts["cpu_model"] = model[0] if model else None
    except OSError:
        facts["cpu_model"] = platform.processor() or None
    try:
        mem = {ln.split(":")[0]: int(ln.split()[1]) for ln in
               Path("/proc/meminfo").read_text().splitlines() if ln.split()[1:2]}
        facts["ram_total_gb"] = round(mem["MemTotal"] / 2**20, 1)
        facts["ram_available_gb_at_start"] = round(mem.get("MemAvailable", 0) / 2**20, 1)
    except (OSError, KeyError, ValueError):
        facts["ram_total_gb"] = None
    if hasattr(os, "getloadavg"):
        facts["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    import shapely

    facts["versions"] = {m: _version(m) for m in (
        "qpvgeo", "geopandas", "shapely", "pandas", "numpy", "pyproj", "pyogrio", "tobler",
        "scipy", "folium", "rasterstats", "exactextract")}
    facts["versions"]["geos"] = shapely.geos_version_string
    try:
        import pyproj

        facts["versions"]["proj"] = pyproj.proj_version_str
    except Exception:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "qpvgeo"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        facts["git_commit"] = rev or None
        facts["qpvgeo_uncommitted_changes"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        facts["git_commit"] = None
    return facts


# -- running cases ----------------------------------------------------------------------------


def run_case(name: str, data: Path, work: Path, *, opts: dict, timeout: float,
             in_process: bool = False) -> dict:
    """Run one case in a fresh interpreter and return its JSON record.

    ``in_process`` runs it in this interpreter instead (quick correctness checks: no
    timeout, and the peak memory then includes everything this process holds).
    """
    out = work / f"{name}.json"
    out.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    if in_process:
        from benchmarks import cases

        cases.main([name, str(data), str(work), str(out), json.dumps(opts)])
        rec = json.loads(out.read_text())
        rec["in_process"] = True
        return rec
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, "-m", "benchmarks.cases", name, str(data), str(work), str(out),
           json.dumps(opts)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": name, "status": "timeout", "timeout_seconds": timeout,
                "reason": f"did not finish within {timeout:.0f} s (process killed)"}
    wall = time.perf_counter() - t0
    if not out.is_file():
        return {"case": name, "status": "error",
                "reason": f"exit code {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    rec = json.loads(out.read_text())
    rec["process_wall_seconds"] = round(wall, 2)
    return rec


def _load_values(rec: dict):
    with np.load(rec["values"]) as z:
        return dict(zip(z["codes"].tolist(), z["values"].tolist(), strict=True))


def compare_values(ref: dict, other: dict) -> dict:
    """Totals and per-zone relative differences between two per-zone results."""
    a, b = _load_values(ref), _load_values(other)
    codes = sorted(set(a) & set(b))
    va = np.array([a[c] for c in codes])
    vb = np.array([b[c] for c in codes])
    total_a, total_b = va.sum(), vb.sum()
    denom = np.maximum(np.abs(va), 1e-12)
    per = np.abs(va - vb) / denom
    return {
        "zones_compared": len(codes),
        "zones_only_in_one": len(set(a) ^ set(b)),
        "total_rel_diff": float(abs(total_a - total_b) / max(abs(total_a), 1e-12)),
        "max_zone_rel_diff": float(per[va > 0].max()) if (va > 0).any() else 0.0,
        "max_zone_abs_diff": float(np.abs(va - vb).max()) if len(va) else 0.0,
    }


def _ok(rec: dict | None) -> bool:
    return bool(rec) and rec.get("status") == "ok"


def assess(results: dict) -> dict:
    """Check the issue's targets; a miss says by how much."""
    t = TARGETS
    checks: dict = {}
    p = results.get("pipeline")
    if _ok(p):
        checks["pipeline_time"] = _check(p["seconds"], "<=", t["pipeline_seconds"], "s")
        checks["pipeline_memory"] = _check(p["peak_rss_mb"], "<=", t["pipeline_peak_mb"], "MB")
        checks["pipeline_population_qpv_conserved"] = _check(
            abs(p["population_qpv_france"] / p["expected_population_qpv"] - 1), "<=", 1e-9,
            "relative")
    q, tb, ov = (results.get(f"grid_population.{k}") for k in ("qpvgeo", "tobler", "overlay"))
    if _ok(q) and _ok(tb):
        checks["grid_population_vs_tobler_totals"] = _tobler_gap(compare_values(q, tb))
        checks["grid_population_speedup_vs_tobler"] = {**_check(
            tb["seconds"] / q["seconds"], ">=", t["grid_population_speedup_vs_tobler"], "x"),
            "cpu_time_ratio": _cpu_ratio(tb, q)}
    for size in ("_700k", ""):
        qi, ti = (results.get(f"grid_population_ids{size}.{k}") for k in ("qpvgeo", "tobler"))
        if _ok(qi) and _ok(ti):
            checks[f"grid_population_ids{size}_vs_tobler_totals"] = _tobler_gap(
                compare_values(qi, ti))
            checks[f"grid_population_ids{size}_speedup_vs_tobler"] = {
                **_check(ti["seconds"] / qi["seconds"], ">=",
                         t["grid_population_ids_speedup_vs_tobler"], "x"),
                "identifier_dtype": qi.get("id_dtype"), "cpu_time_ratio": _cpu_ratio(ti, qi)}
    qi = results.get("grid_population_ids.qpvgeo")
    if _ok(q) and _ok(qi):  # the same cells, corners parsed from the identifiers: float64
        cmp = compare_values(q, qi)
        checks["grid_population_ids_vs_corners_totals"] = {
            **_check(cmp["total_rel_diff"], "<=", t["totals_rel_tol"], "relative"), **cmp}
    g = results.get("grid_read")
    if _ok(g):
        checks["grid_read_time"] = _check(g["seconds"], "<=", t["grid_read_seconds"], "s")
        checks["grid_read_memory"] = _check(g["peak_rss_mb"], "<=", t["grid_read_peak_mb"], "MB")
        checks["grid_read_cells"] = _check(abs(g["n_cells"] - g["expected_cells"]), "<=", 0,
                                           "cells missing or extra")
    gc = results.get("grid_read.corners")
    if _ok(gc):
        # the national-scale path (no squares): the same targets; with the 2.3 M squares
        # the 1 GB is out of reach (frame 570 MB + squares ~970 MB, benchmarks/README.md)
        checks["grid_read_corners_time"] = _check(gc["seconds"], "<=", t["grid_read_seconds"],
                                                  "s")
        checks["grid_read_corners_memory"] = _check(gc["peak_rss_mb"], "<=",
                                                    t["grid_read_peak_mb"], "MB")
    e = results.get("exposure_profile")
    if _ok(e):
        checks["exposure_time"] = _check(e["seconds"], "<=", t["exposure_seconds"], "s")
        checks["exposure_memory"] = _check(e["peak_rss_mb"], "<=", t["exposure_peak_mb"], "MB")
    checks.update(_composition_checks(results))
    pq, ps = results.get("points_1m.qpvgeo"), results.get("points_1m.sjoin")
    if _ok(pq):
        checks["points_1m_time"] = _check(pq["seconds"], "<=", t["points_1m_seconds"], "s")
    if _ok(pq) and _ok(ps):
        checks["points_1m_speedup_vs_sjoin"] = {
            **_check(ps["seconds"] / pq["seconds"], ">=", 1.0, "x"),
            "cpu_time_ratio": _cpu_ratio(ps, pq)}
        checks["points_1m_same_count_as_sjoin"] = _check(
            abs(pq["points_in_qpv"] - ps["points_in_qpv"]), "<=", 0, "points")
    pg = results.get("points_1m.geopandas")
    if _ok(pq) and _ok(pg):
        # the honest peer: geopandas computing the same answers (sjoin + sjoin_nearest to
        # the QPV edges within 1 km); sjoin alone gives neither distance nor flag
        checks["points_1m_speedup_vs_geopandas_same_answers"] = {
            **_check(pg["seconds"] / pq["seconds"], ">=", 1.0, "x"),
            "cpu_time_ratio": _cpu_ratio(pg, pq)}
        checks["points_1m_same_answers_as_geopandas"] = _check(
            abs(pq["points_in_qpv"] - pg["points_in_qpv"])
            + abs(pq["points_with_distance"] - pg["points_with_distance"])
            + abs(pq["points_on_edge"] - pg["points_on_edge"]), "<=", 0,
            "points (in a QPV, with a distance, on an edge)")
    p10 = results.get("points_10m.qpvgeo")
    if _ok(p10):
        checks["points_10m"] = {"value": p10["seconds"], "unit": "s",
                                "peak_rss_mb": p10["peak_rss_mb"]}
    dg = results.get("diagnose.real32")
    if _ok(dg):
        checks["diagnose_region_32_time"] = _check(dg["seconds"], "<=", t["diagnose_seconds"],
                                                   "s")
    if _ok(q) and _ok(ov):
        cmp = compare_values(q, ov)
        checks["grid_population_vs_overlay_totals"] = {
            **_check(cmp["total_rel_diff"], "<=", t["totals_rel_tol"], "relative"), **cmp}
        checks["grid_population_speedup_vs_overlay"] = {
            "value": round(ov["seconds"] / q["seconds"], 2), "unit": "x"}
    if _ok(tb) and _ok(ov):
        checks["tobler_vs_overlay_totals"] = compare_values(ov, tb)
    a, at = results.get("areal.qpvgeo"), results.get("areal.tobler")
    if _ok(a) and _ok(at):
        checks["areal_vs_tobler_totals"] = _tobler_gap(compare_values(a, at))
        checks["areal_speedup_vs_tobler"] = {**_check(
            at["seconds"] / a["seconds"], ">=", t["areal_speedup_vs_tobler"], "x"),
            "cpu_time_ratio": _cpu_ratio(at, a)}
    ao = results.get("areal.overlay")
    if _ok(a) and _ok(ao):
        cmp = compare_values(a, ao)
        checks["areal_vs_overlay_totals"] = {
            **_check(cmp["total_rel_diff"], "<=", t["totals_rel_tol"], "relative"), **cmp}
    r, rx, rs = (results.get(f"raster.{k}") for k in ("qpvgeo", "exactextract", "rasterstats"))
    if _ok(r) and _ok(rx):
        cmp = compare_values(r, rx)
        checks["raster_vs_exactextract"] = {
            **_check(cmp["max_zone_rel_diff"], "<=", t["totals_rel_tol"], "relative"), **cmp}
        checks["raster_speedup_vs_exactextract"] = {**_check(
            rx["seconds"] / r["seconds"], ">=", t["raster_speedup_vs_exactextract"], "x"),
            "cpu_time_ratio": _cpu_ratio(rx, r)}
    if _ok(r) and _ok(rs):
        checks["raster_vs_rasterstats"] = compare_values(r, rs)
        checks["raster_speedup_vs_rasterstats"] = {
            "value": round(rs["seconds"] / r["seconds"], 2), "unit": "x"}
    acc = results.get("accuracy.bordeaux")
    if _ok(acc):
        checks["bordeaux_calibrated_median_abs_error"] = _check(
            acc["calibrated"]["median_abs_error"], "<=", 0.10, "relative")
        checks["bordeaux_area_median_abs_error"] = {
            "value": round(acc["area"]["median_abs_error"], 4), "unit": "relative"}
    for key in ("map.synthetic", "map.real2015"):
        m = results.get(key)
        if _ok(m) and _ok({"status": m.get("qpvgeo", {}).get("status", "ok")}):
            qm = m["qpvgeo"]
            checks[f"{key}_size"] = _check(qm["bytes"], "<=", t["map_bytes"], "bytes")
            if qm.get("area_rel_diff") is not None:
                checks[f"{key}_area"] = _check(abs(qm["area_rel_diff"]), "<=",
                                               t["map_area_rel_tol"], "relative")
            checks[f"{key}_offline"] = {"met": not qm["needs_network"],
                                        "value": len(qm["needs_network"]),
                                        "unit": "network URLs", "target": "== 0",
                                        "urls": qm["needs_network"]}
    for name, c in checks.items():
        if c.get("met") is False and not c.get("why") and name in MISS_WHY:
            c["why"] = MISS_WHY[name]
    return checks


#: Why a target may be missed, printed beside the miss (the measurements behind each are in
#: benchmarks/README.md, "Issue 15: where the time goes").
MISS_WHY = {
    "exposure_time": "12 grid_population calls (piece x QPV mask overlays ~3.7 s CPU), "
                     "ring buffers of jagged contours (~2.3 ms a QPV in GEOS), per-layer "
                     "overlays of zones x dissolved parts",
    "exposure_memory": "the inputs alone hold 2.3 GB (2.3 M grid squares as GEOS polygons); "
                       "qpvgeo adds ~0.3 GB",
    "exposure_speedup_vs_composition": "the composition's GEOS overlays are the same kind of "
                                       "work as qpvgeo's remaining ones; see exposure_time",
    "grid_population_speedup_vs_tobler": "fixed costs of the 1,362 QPV: is_valid ~28 ms "
                                         "(in a thread), cell shares ~25 ms, the 2.3 M-corner "
                                         "scan ~20 ms",
    "grid_population_ids_700k_speedup_vs_tobler": "the same ~60 ms of fixed QPV costs against "
                                                  "tobler's 0.6-0.8 s on 700 k cells",
    "grid_read_time": "9.2 M corner transforms ~2 s CPU and 2.3 M GEOS squares ~1.2 s beside "
                      "the read; geometry=False meets the target",
    "grid_read_memory": "126 MB interpreter + 568 MB frame + ~970 MB for 2.3 M GEOS squares = "
                        "1.66 GB at least; geometry=False meets the target",
    "areal_speedup_vs_tobler": "2,012 GEOS overlays (~65 us CPU each) are the floor of an "
                               "overlay-based method; qpvgeo runs them in two threads",
    "points_1m_speedup_vs_sjoin": "sjoin gives neither the distance to the edge nor the "
                                  "boundary flag: ~430 k points within 1 km of a QPV need an "
                                  "exact distance (~1.3 s of GEOS); see "
                                  "points_1m_speedup_vs_geopandas_same_answers",
}


def _composition_checks(results: dict) -> dict:
    """exposure_profile (population_method="area") against its geopandas composition.

    The speed-up is the composition's time over qpvgeo's on the same QPV; a composition
    stopped by ``--timeout`` still gives a lower bound (timeout / qpvgeo's time). The numbers
    are compared column by column (:func:`benchmarks.composition.compare_profiles`).
    """
    q, c = results.get("exposure_profile.area"), results.get("exposure_profile.composition")
    checks: dict = {}
    if not _ok(q) or not c:
        return checks
    target = TARGETS["exposure_speedup_vs_composition"]
    if c.get("status") == "timeout" and c.get("timeout_seconds"):
        checks["exposure_speedup_vs_composition"] = {
            **_check(c["timeout_seconds"] / q["seconds"], ">=", target, "x"),
            "lower_bound": True, "why": "the composition did not finish within --timeout"}
        return checks
    if not _ok(c):
        return checks
    checks["exposure_speedup_vs_composition"] = {
        **_check(c["seconds"] / q["seconds"], ">=", target, "x"),
        "cpu_time_ratio": _cpu_ratio(c, q), "n_zones": q.get("n_zones"),
        "regions": q.get("regions")}
    import pandas as pd

    from benchmarks.composition import KNOWN_DIFFERENCES, compare_profiles

    if not (Path(q["values"]).is_file() and Path(c["values"]).is_file()):
        # a merged report whose runs' work folders are gone: the speed-up still stands
        checks["exposure_vs_composition"] = {"value": "profiles not found", "unit": "",
                                             "files": [q["values"], c["values"]]}
        return checks
    ours, peer = pd.read_parquet(q["values"]), pd.read_parquet(c["values"])
    peer.attrs["ties"] = c.get("ties", {})
    cmp = compare_profiles(ours, peer)
    tol = TARGETS["exposure_composition_rel_tol"]
    over = sorted(k for k, v in cmp["rel_diff_by_column"].items() if v > tol)
    same_shape = not (cmp["only_in_qpvgeo"] or cmp["only_in_peer"] or cmp["na_mismatch"]
                      or cmp["text_mismatch"])
    rec = {**_check(cmp["max_rel_diff"], "<=", tol, "relative"),
           "max_rel_diff_column": cmp["max_rel_diff_column"],
           "columns_compared": cmp["columns_compared"], "columns_over_tolerance": over,
           **{k: cmp[k] for k in ("only_in_qpvgeo", "only_in_peer", "na_mismatch",
                                  "text_mismatch", "ties")}}
    if rec["met"] and not same_shape:
        rec["met"] = False
        rec["missed_by"] = "columns, NA patterns or nearest-site labels differ"
    known = [k for k in over if KNOWN_DIFFERENCES.match(k)]
    others = [v for k, v in cmp["rel_diff_by_column"].items() if not KNOWN_DIFFERENCES.match(k)]
    rec["max_rel_diff_outside_known_differences"] = max(others, default=0.0)
    if known:
        rec["why"] = (f"{len(known)} column(s) differ by qpvgeo's known departures from its "
                      "definitions (benchmarks.composition.KNOWN_DEFECTS): outside them the "
                      f"largest difference is {rec['max_rel_diff_outside_known_differences']:.2g}")
    checks["exposure_vs_composition"] = rec
    return checks


def _cpu_ratio(peer: dict, ours: dict) -> float | None:
    """Speed-up in CPU time (all threads counted), when both runs recorded it."""
    a, b = peer.get("cpu_seconds"), ours.get("cpu_seconds")
    return round(a / b, 2) if a and b else None


def _tobler_gap(cmp: dict) -> dict:
    """qpvgeo against tobler: bounded at float32 precision, with the reason."""
    return {**_check(cmp["total_rel_diff"], "<=", TARGETS["tobler_totals_rel_tol"], "relative"),
            **cmp,
            "why": ("tobler keeps its area table in float32 "
                    "(tobler.area_weighted._area_tables_binning): ~6e-8 per area; the 1e-9 "
                    "bound is checked against the float64 overlay (*_vs_overlay_totals)")}


def _check(value: float, op: str, target: float, unit: str) -> dict:
    met = value <= target if op == "<=" else value >= target
    rec = {"value": value, "target": f"{op} {target:g}", "unit": unit, "met": bool(met)}
    if not met:
        if op == "<=":
            rec["missed_by"] = (f"{value / target:.2f}x the limit" if target
                                else f"{value:g} {unit} instead of 0")
        else:
            rec["missed_by"] = (f"{target / value:.2f}x short ({value:.2f} vs {target:g})"
                                if value else f"0 {unit} (target {target:g})")
    return rec


# -- reporting ------------------------------------------------------------------------------


def _fmt(x, spec=",.2f"):
    return "-" if x is None else format(x, spec)


def _delta(rec: dict) -> str:
    """Peak minus the memory held before the operation (inputs, interpreter)."""
    if rec.get("peak_rss_mb") is None or rec.get("baseline_rss_mb") is None:
        return "-"
    return format(max(rec["peak_rss_mb"] - rec["baseline_rss_mb"], 0.0), ",.0f")


def table(results: dict, checks: dict) -> str:
    """The printed summary: one line per case, then the targets."""
    lines = [f"{'case':35} {'status':14} {'seconds':>10} {'peak MB':>9} {'+MB':>7}  notes",
             "-" * 110]
    for name, rec in results.items():
        note = ""
        if rec.get("status") != "ok":
            note = rec.get("reason", "")[:160]
        elif name == "accuracy.bordeaux":
            a, c = rec["area"], rec["calibrated"]
            note = (f"{rec['n_zones']} QPV vs INSEE POP_MUN: median abs error area "
                    f"{a['median_abs_error']:.1%}, calibrated {c['median_abs_error']:.1%}")
        elif name.startswith(("grid_population", "areal", "raster")):
            note = f"{rec['n_zones']:,} zones, total {rec['total']:,.3f}"
            if name.startswith("grid_population_ids"):
                note += f", {rec['n_cells']:,} cells, ids {rec.get('id_dtype')}"
        elif name.startswith("points_"):
            note = (f"{rec['n_points']:,} points, {rec['points_in_qpv']:,} in a QPV, "
                    f"{rec['us_per_point']} us/point")
        elif name == "diagnose.real32":
            note = f"{rec['n_files']} files written"
        elif name == "pipeline":
            note = (f"{rec['n_qpv']:,} QPV, {rec['n_communes_harmonised']:,} communes, "
                    f"pop QPV {rec['population_qpv_france']:,.0f}")
        elif name == "grid_read":
            note = f"{rec['n_cells']:,} cells from a {rec['file_mb']} MB CSV"
        elif name == "grid_read.corners":
            note = (f"{rec['n_cells']:,} cells, geometry=False, frame {rec['frame_mb']:,} MB "
                    "in memory")
        elif name.startswith("exposure_profile"):
            note = f"{rec['n_rows']:,} rows x {rec['n_columns']} columns"
        lines.append(f"{name:35} {rec.get('status', '?'):14} {_fmt(rec.get('seconds')):>10} "
                     f"{_fmt(rec.get('peak_rss_mb'), ',.0f'):>9} {_delta(rec):>7}  {note}")
        if name.startswith("map.") and rec.get("status") == "ok":
            e, q = rec["explore"], rec["qpvgeo"]
            lines.append(f"{'  explore() html':35} {'ok':14} {_fmt(e['seconds']):>10} "
                         f"{_fmt(e['peak_rss_mb'], ',.0f'):>9} {_delta(e):>7}  "
                         f"{e['bytes'] / 1e6:.2f} MB, "
                         f"needs {len(e['needs_network'])} CDN URLs")
            if q.get("status", "ok") == "ok":
                area = q.get("area_rel_diff")
                lines.append(f"{'  qpvgeo offline html':35} {'ok':14} {_fmt(q['seconds']):>10} "
                             f"{_fmt(q['peak_rss_mb'], ',.0f'):>9} {_delta(q):>7}  "
                             f"{q['bytes'] / 1e6:.2f} MB, "
                             f"area diff {'-' if area is None else f'{area:+.4%}'}, "
                             f"{len(q['needs_network'])} network URLs")
            else:
                lines.append(f"{'  qpvgeo offline html':35} {q['status']:14} "
                             f"{'':>10} {'':>9} {'':>7}  {q.get('reason', '')[:100]}")
    lines += ["", "targets (issues 7 and 15):"]
    for name, c in checks.items():
        if "met" not in c:
            if "value" in c:
                lines.append(f"  {name:44} {c['value']} {c.get('unit', '')}")
            else:  # a comparison between two peers
                lines.append(f"  {name:44} total rel diff {c['total_rel_diff']:.3g}, "
                             f"max zone rel diff {c['max_zone_rel_diff']:.3g}")
            continue
        v = c["value"]
        vs = f"{v:.3g}" if isinstance(v, float) else str(v)
        status = "MET" if c["met"] else f"MISSED ({c.get('missed_by', '')})"
        cpu = f" (CPU time ratio {c['cpu_time_ratio']} x)" if c.get("cpu_time_ratio") else ""
        lines.append(f"  {name:44} {vs} {c.get('unit', '')} target {c.get('target', '')}: "
                     f"{status}{cpu}")
        if c.get("why"):
            lines.append(f"  {'':44} why: {c['why']}")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """A Markdown summary of a result file (what the README quotes)."""
    m = report["machine"]
    v = m["versions"]
    rows = [f"Run of {report['started_utc']} UTC, size `{report['size']}` "
            f"({report['inputs']['counts']['cells']:,} cells, "
            f"{report['inputs']['counts']['qpv']:,} QPV, "
            f"{report['inputs']['counts']['communes_before_mergers']:,} communes), "
            f"{m['cpu_usable']} CPUs ({m.get('cpu_model')}), {m['ram_total_gb']} GB RAM, "
            f"load {m.get('load_average_at_start')}; geopandas {v['geopandas']}, "
            f"shapely {v['shapely']} (GEOS {v['geos']}), tobler {v['tobler']}, "
            f"commit {str(m.get('git_commit'))[:7]}.", "",
            "| case | status | seconds | peak MB | notes |", "|---|---|---:|---:|---|"]
    for line in table(report["results"], {}).splitlines()[2:]:
        if not line.strip() or line.startswith("targets"):
            break
        name, rest = line[:35].strip(), line[35:].split()
        if line.startswith("  "):
            name = f"↳ {name}"
        status = rest[0] if rest else ""
        if status == "not" and len(rest) > 1:  # "not available"
            status, rest = "not available", rest[1:]
        secs, peak = (rest[1], rest[2]) if len(rest) > 2 else ("-", "-")
        note = line[35 + 14 + 1 + 10 + 1 + 9 + 1 + 7 + 2:].strip()
        rows.append(f"| {name} | {status} | {secs} | {peak} | {note} |")
    rows += ["", "| target (issues 7, 15) | measured | target | met | CPU-time ratio |",
             "|---|---:|---|---|---:|"]
    for name, c in report["checks"].items():
        if "met" not in c:
            continue
        val = c["value"]
        val = f"{val:.3g}" if isinstance(val, float) else str(val)
        met = "yes" if c["met"] else f"**no** ({c.get('missed_by', '')})"
        cpu = c.get("cpu_time_ratio") or "-"
        rows.append(f"| {name} | {val} {c.get('unit', '')} | {c.get('target', '')} | {met} "
                    f"| {cpu} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny size (same as --size quick)")
    ap.add_argument("--size", choices=sorted(gen.SIZES), default="full")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"),
                    help="folder of the result JSON (default benchmarks/results)")
    ap.add_argument("--cache-dir", help="where generated inputs are kept "
                    "(default $QPVGEO_BENCH_CACHE or <tmp>/qpvgeo-bench)")
    ap.add_argument("--cases", default=",".join(GROUPS),
                    help=f"comma-separated groups among {', '.join(GROUPS)}")
    ap.add_argument("--peer-regions", default="",
                    help="run the grid_population comparison (qpvgeo, tobler, overlay) and the "
                    "exposure one (exposure_profile.area, its composition) on the QPV of these "
                    "region codes only, e.g. 11,32 (grid_population.qpvgeo and "
                    "exposure_profile are also run on all)")
    ap.add_argument("--timeout", type=float, default=2400, help="seconds per case")
    ap.add_argument("--in-process", action="store_true",
                    help="run the cases in this process (fast correctness check; peak memory "
                    "and timings are then not isolated)")
    ap.add_argument("--real-qpv", default=str(REAL_QPV_2015),
                    help="the official 2015 contours for the map-size case")
    ap.add_argument("--summarise", metavar="RESULT_JSON",
                    help="print a Markdown summary of a result file and exit")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="OUT IN1 IN2...: one result file from runs of separate case groups "
                    "(same size and seed), targets checked again on the union, then exit")
    args = ap.parse_args(argv)
    if args.summarise:
        print(markdown(json.loads(Path(args.summarise).read_text())))
        return {}
    if args.merge:
        report = merge_reports([Path(f) for f in args.merge[1:]])
        out = Path(args.merge[0])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=float, ensure_ascii=False))
        print(table(report["results"], report["checks"]))
        print(f"\nwritten {out}")
        return report
    size = "quick" if args.quick else args.size

    started = dt.datetime.now(dt.UTC)
    facts = machine_facts()
    print(f"qpvgeo benchmarks, size {size}, seed {args.seed}, "
          f"{facts['cpu_usable']} usable CPUs, {facts['ram_total_gb']} GB RAM", flush=True)
    t0 = time.perf_counter()
    data = gen.generate(size, seed=args.seed, cache_dir=args.cache_dir, verbose=True)
    gen_seconds = time.perf_counter() - t0
    manifest = json.loads((data / "manifest.json").read_text())
    print(f"inputs: {data} ({gen_seconds:.1f} s; {manifest['counts']['cells']:,} cells, "
          f"{manifest['counts']['qpv']:,} QPV, "
          f"{manifest['counts']['communes_before_mergers']:,} communes)", flush=True)

    if "raster" in args.cases.split(","):
        t1 = time.perf_counter()
        gen.no2_raster(data, seed=args.seed)
        print(f"NO2 raster ready ({time.perf_counter() - t1:.1f} s)", flush=True)
    work = data / "work"
    work.mkdir(exist_ok=True)
    opts = {"real_qpv": args.real_qpv, "shared_data": str(Path(args.real_qpv).parents[1])}
    regions = [r for r in args.peer_regions.split(",") if r]
    results: dict = {}
    for group in [g for g in args.cases.split(",") if g]:
        if group not in GROUPS:
            ap.error(f"unknown case group {group!r}; choose among {', '.join(GROUPS)}")
        for name in GROUPS[group]:
            case_opts = dict(opts)
            label = name
            if regions and name == "grid_population.qpvgeo_calibrated":
                continue  # the subset only serves the comparison with the peers
            if regions and name in ("exposure_profile.area", "exposure_profile.composition"):
                case_opts["regions"] = regions  # both sides on the same QPV, for the ratio
            if regions and group == "grid_population":
                case_opts["regions"] = regions
                if name == "grid_population.qpvgeo":  # also the national figure
                    print(f"  running {name} (all QPV) ...", flush=True)
                    results[name + ".all"] = run_case(name, data, work / "all", opts=opts,
                                                      timeout=args.timeout,
                                                      in_process=args.in_process)
            print(f"  running {label} ...", flush=True)
            results[label] = run_case(name, data, work, opts=case_opts, timeout=args.timeout,
                                      in_process=args.in_process)
            r = results[label]
            print(f"    {r.get('status')} {r.get('seconds', '')} s "
                  f"{r.get('reason', '')[:200]}", flush=True)

    checks = assess(results)
    report = {
        "started_utc": started.isoformat(timespec="seconds"),
        "size": size,
        "seed": args.seed,
        "inputs": {"folder": str(data), "generation_seconds_this_run": round(gen_seconds, 1),
                   **{k: manifest[k] for k in ("counts", "totals", "size", "grid_format",
                                                "generator_version")}},
        "peer_regions": regions or None,
        "cases_in_process": args.in_process,
        "machine": facts,
        "targets": TARGETS,
        "results": results,
        "checks": checks,
        "notes": NOTES,
    }
    print()
    print(table(results, checks))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = started.strftime("%Y-%m-%d") + ("" if size == "full" else f"-{size}")
    out = out_dir / f"{stem}.json"
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=float, ensure_ascii=False))
    os.replace(tmp, out)
    print(f"\nwritten {out}")
    report["path"] = str(out)
    return report


def merge_reports(paths: list[Path]) -> dict:
    """One report from several runs (one per case group, as on a shared machine).

    Results are united (a later file wins for a case run twice), the targets checked again
    on the union; each part keeps its start time and the machine's load at its start.
    """
    parts = [json.loads(p.read_text()) for p in paths]
    if len({(r["size"], r["seed"]) for r in parts}) != 1:
        raise SystemExit("--merge: the runs are of different sizes or seeds")
    results: dict = {}
    for r in parts:
        results.update(r["results"])
    first = parts[0]
    return {
        **{k: first[k] for k in ("size", "seed", "inputs", "peer_regions", "cases_in_process",
                                 "machine", "notes")},
        "started_utc": min(r["started_utc"] for r in parts),
        "targets": TARGETS,
        "parts": [{"file": str(p), "started_utc": r["started_utc"],
                   "load_average_at_start": r["machine"].get("load_average_at_start"),
                   "cases": list(r["results"])} for p, r in zip(paths, parts, strict=True)],
        "results": results,
        "checks": assess(results),
    }


NOTES = [
    "Inputs are synthetic (benchmarks/generate.py), seeded; same seed -> same files.",
    "Times are wall-clock (time.perf_counter) of the operation only, inputs already in memory, "
    "except 'pipeline' and 'grid_read', which include reading the files. 'seconds' is the "
    "fastest of up to 3 runs (while their total stays under 60 s; all in 'seconds_runs'), "
    "on a machine shared with other work; the peak memory is that of the first run.",
    "tobler is called as documented (n_jobs=1, its default).",
    "peak_rss_mb is the process's peak resident memory during the operation (VmHWM reset "
    "just before it): it includes the inputs already held in memory and the interpreter.",
    "grid_population: tobler and the overlay get the exact INSEE squares in EPSG:3035 and the "
    "QPV reprojected to EPSG:3035, where qpvgeo shares areas, so all three see the same "
    "geometry. tobler stores its area table as float32 "
    "(tobler.area_weighted._area_tables_binning), which bounds its agreement with float64 "
    "tools to about 1e-7 relative per zone.",
    "Map sizes are in decimal megabytes (1 MB = 10^6 bytes).",
    "cpu_seconds_first_run is the CPU time of the case's process during its first run (all "
    "threads): on a machine shared with other work, a wall time far above it means the "
    "process waited for a core.",
]


if __name__ == "__main__":
    main()
