"""The benchmark harness at its ``--quick`` size: inputs, agreement between tools, the JSON.

No timing is asserted here (speed belongs to benchmarks/results); these tests check that
the harness measures the right thing: deterministic inputs in the official layouts, the
same totals from qpvgeo and from its peers on the same inputs, and a complete report.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import skip_or_fail

from benchmarks import generate as gen
from benchmarks import run as bench
from qpvgeo import schema


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    # in-process: the harness's arithmetic is what is checked here, not isolated timings
    cache = tmp_path_factory.mktemp("bench-cache")
    out = tmp_path_factory.mktemp("bench-out")
    report = bench.main(["--quick", "--out", str(out), "--cache-dir", str(cache),
                         "--cases", "pipeline,grid_population,areal,raster", "--in-process"])
    return report, out, cache


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generator_is_deterministic_and_in_official_layouts(tmp_path):
    a = gen.generate("quick", cache_dir=tmp_path / "a")
    b = gen.generate("quick", cache_dir=tmp_path / "b")
    for name in ("filosofi_200m.csv", "qpv_indicators.csv", "populations_legales.csv",
                 "mouvements_communes.csv", "qpv2024_code_commune.csv"):
        assert _sha(a / name) == _sha(b / name), name
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["counts"]["cells"] == gen.SIZES["quick"].cells
    assert manifest["counts"]["qpv"] == gen.SIZES["quick"].qpv

    # INSEE Filosofi 2019 layout: ';', decimal commas, identifiers of lower-left corners
    head = (a / "filosofi_200m.csv").read_text().splitlines()[:2]
    assert head[0].startswith("idcar_200m;idcar_1km;idcar_nat;i_est_200;i_est_1km;lcog_geo;ind;")
    assert re.match(r"CRS3035RES200mN\d+E\d+;CRS3035RES1000mN\d+E\d+;", head[1])
    grid = pd.read_csv(a / "filosofi_200m.csv", sep=";", decimal=",", dtype={"lcog_geo": str})
    assert grid["idcar_200m"].is_unique
    assert grid["ind"].sum() == pytest.approx(manifest["totals"]["grid_ind"], rel=1e-12)
    n = grid["idcar_200m"].str.extract(r"N(\d+)E(\d+)").astype(int)
    assert (n % 200 == 0).all().all()  # on INSEE's 200 m lattice

    # ANCT 2024 codes, INSEE populations légales header, INSEE mouvements header
    ind = pd.read_csv(a / "qpv_indicators.csv", sep=";", decimal=",")
    assert all(schema.millesime_of_code(c) == 2024 for c in ind["CODGEO"])
    pl = (a / "populations_legales.csv").read_text(encoding="utf-8").splitlines()[0]
    assert pl == "REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN;PCAP;PTOT"
    mv = pd.read_csv(a / "mouvements_communes.csv", dtype=str)
    assert list(mv.columns[:4]) == ["MOD", "DATE_EFF", "TYPECOM_AV", "COM_AV"]
    # every merged commune disappears from the populations légales, which use new codes
    pop = pd.read_csv(a / "populations_legales.csv", sep=";", dtype={"COM": str})
    gone = set(mv.loc[mv["COM_AV"] != mv["COM_AP"], "COM_AV"])
    assert gone and not gone & set(pop["COM"])
    assert len(pop) == manifest["counts"]["communes_after_mergers"]
    # INSEE commune codes: 5 characters, never a Paris/Lyon/Marseille arrondissement code
    assert pop["COM"].str.fullmatch(r"\d{5}").all()
    assert not pop["COM"].str.fullmatch(r"751(0[1-9]|1\d|20)|6938[1-9]|132(0[1-9]|1[0-6])").any()


def test_generated_qpv_are_valid_disjoint_and_sized_like_qpv(tmp_path):
    import geopandas as gpd

    folder = gen.generate("quick", cache_dir=tmp_path)
    q = gpd.read_file(folder / "qpv2024.geojson").to_crs(schema.CRS)
    assert q.is_valid.all()
    ha = q.area / 1e4
    # 10-300 ha, less what the 1.29 km radius cap trims from the largest ones
    assert ha.min() >= 9.99 and ha.max() <= 300.01
    pairs = gpd.sjoin(q, q, predicate="overlaps")
    assert len(pairs) == 0


def test_quick_run_report_keys_and_machine_facts(quick_report):
    report, out, _ = quick_report
    assert set(report) >= {"started_utc", "size", "inputs", "machine", "targets", "results",
                           "checks", "notes"}
    on_disk = json.loads((out / f"{report['started_utc'][:10]}-quick.json").read_text())
    assert on_disk["results"].keys() == report["results"].keys()
    m = report["machine"]
    assert m["cpu_count"] >= 1 and m["ram_total_gb"] > 0
    assert m["versions"]["geopandas"] and m["versions"]["shapely"] and m["versions"]["geos"]
    for name, rec in report["results"].items():
        assert rec["status"] in {"ok", "not available", "error", "timeout"}, name
        if rec["status"] == "ok":
            assert rec["seconds"] >= 0 and rec["peak_rss_mb"] > 0
        else:
            assert rec["reason"], name  # a case that did not run always says why


def test_peers_agree_on_the_same_inputs(quick_report):
    report, _, _ = quick_report
    res, checks = report["results"], report["checks"]
    # the two peers must agree with each other whatever qpvgeo does: tobler keeps its area
    # table in float32, hence 1e-6 and not 1e-9 against the float64 overlay
    assert res["grid_population.overlay"]["status"] == "ok"
    assert res["grid_population.tobler"]["status"] == "ok"
    assert checks["tobler_vs_overlay_totals"]["total_rel_diff"] < 1e-6
    assert checks["tobler_vs_overlay_totals"]["zones_compared"] == gen.SIZES["quick"].qpv
    # the quick grid holds people inside the QPV: the comparison is not of zeros
    assert res["grid_population.overlay"]["total"] > 1_000


def test_qpvgeo_totals_equal_the_overlay_to_1e9(quick_report):
    report, _, _ = quick_report
    res, checks = report["results"], report["checks"]
    for case, check in (("grid_population.qpvgeo", "grid_population_vs_overlay_totals"),
                        ("areal.qpvgeo", "areal_vs_overlay_totals")):
        if res[case]["status"] != "ok":
            # qpvgeo's own case failing is skipped locally but fails under CI=true
            skip_or_fail(f"{case}: {res[case]['reason']}")
        # both compute in float64: only rounding differs
        assert checks[check]["total_rel_diff"] <= 1e-9, check
        assert checks[check]["max_zone_rel_diff"] <= 1e-7, check


def test_raster_means_equal_exactextract(quick_report):
    report, _, _ = quick_report
    res, checks = report["results"], report["checks"]
    assert res["raster.exactextract"]["status"] == "ok"
    assert res["raster.rasterstats"]["status"] == "ok"
    # rasterstats counts whole pixels whose centre is inside: close to, not equal to, the
    # coverage-weighted mean (200 m pixels on 10-300 ha zones: within a few percent)
    assert checks["raster_vs_rasterstats"]["max_zone_rel_diff"] < 0.05
    if res["raster.qpvgeo"]["status"] != "ok":
        skip_or_fail(f"raster.qpvgeo: {res['raster.qpvgeo']['reason']}")
    assert checks["raster_vs_exactextract"]["max_zone_rel_diff"] <= 1e-9


def test_pipeline_conserves_the_qpv_population(quick_report):
    report, _, _ = quick_report
    rec = report["results"]["pipeline"]
    if rec["status"] != "ok":
        skip_or_fail(f"pipeline: {rec['reason']}")
    assert rec["population_qpv_france"] == pytest.approx(rec["expected_population_qpv"],
                                                         rel=1e-9)
    assert rec["population_france"] == pytest.approx(rec["expected_population"], rel=1e-9)
    assert rec["n_communes_harmonised"] == rec["expected_communes_harmonised"]


def test_compare_and_check_helpers(tmp_path):
    a = tmp_path / "a.npz"
    b = tmp_path / "b.npz"
    np.savez(a, codes=np.array(["Q1", "Q2"]), values=np.array([100.0, 50.0]))
    np.savez(b, codes=np.array(["Q2", "Q1"]), values=np.array([50.0, 100.0 + 1.5e-5]))
    cmp = bench.compare_values({"values": str(a)}, {"values": str(b)})
    assert cmp["zones_compared"] == 2 and cmp["zones_only_in_one"] == 0
    assert cmp["total_rel_diff"] == pytest.approx(1e-7, rel=1e-6)
    assert cmp["max_zone_rel_diff"] == pytest.approx(1.5e-7, rel=1e-6)
    missed = bench._check(1.25, ">=", 5.0, "x")
    assert missed["met"] is False and missed["missed_by"].startswith("4.00x short")
    over = bench._check(90.0, "<=", 60.0, "s")
    assert over["met"] is False and over["missed_by"] == "1.50x the limit"
    assert bench._check(30.0, "<=", 60.0, "s")["met"] is True


def test_markdown_summary_lists_every_case(quick_report):
    report, _, _ = quick_report
    md = bench.markdown(report)
    for name, rec in report["results"].items():
        assert f"| {name} | {rec['status']} |" in md
    assert "| pipeline_population_qpv_conserved |" in md or \
        report["results"]["pipeline"]["status"] != "ok"
