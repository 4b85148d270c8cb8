"""`qpvgeo diagnose`: territory parsing and selection, the folder it writes, in a browser,
and on the real files (expected values recomputed here with plain pandas from the raw files).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from qpvgeo.cli import main
from qpvgeo.datasets import demo
from qpvgeo.errors import DataFormatError, QpvgeoError
from qpvgeo.profile import rings, socio_economic_profile
from qpvgeo.report import (
    REPORT_FILES,
    build_diagnostic,
    demo_data,
    diagnose,
    write_report,
)
from qpvgeo.territory import Territory, parse_territory, select_territory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import skip_or_fail
from http_mirror import MirrorServer

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "tests" / "web_assets" / "node_modules"
EVIL = "<img src=x onerror=alert(1)>"
#: Former SIREN of the Métropole européenne de Lille (Lille Métropole Communauté urbaine,
#: before its 2017 merger with the CC des Weppes), as INSEE's pop_qp_2013 table gives it.
MEL_SIREN_2013 = "245900410"
MEL = "200093201"




def _csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: no UTF-8 BOM (Excel)"
    return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig",
                       dtype={"code_qpv": str, "code_commune": str})


# -- territories --------------------------------------------------------------------------


def test_parse_territory_levels_and_codes():
    assert parse_territory("region:32") == Territory("region", "32")
    assert parse_territory("dep:2") == Territory("departement", "02")
    assert parse_territory("département:2a") == Territory("departement", "2A")
    assert parse_territory("epci:200093201").slug == "epci-200093201"
    assert parse_territory("commune:1053").code == "01053"
    for bad, match in [("59", "level:code"), ("canton:5901", "unknown level"),
                       ("epci:2000932", "not a valid epci"), ("commune:593", "not a valid"),
                       ("region:3A", "not a valid region")]:
        with pytest.raises(DataFormatError, match=match):
            parse_territory(bad)


def test_select_territory_by_level_on_the_demo():
    d = demo()

    def codes(text):
        sel = select_territory(parse_territory(text), qpv=d.qpv, membership=d.qpv_communes,
                               commune_population=d.commune_population, epci=d.epci)
        return sorted(sel.qpv["code_qpv"]), sel

    # QN09902M straddles 99001 and 99002: it belongs to both communes and to their EPCI.
    assert codes("commune:99001")[0] == ["QN09901M", "QN09902M"]
    assert codes("commune:99002")[0] == ["QN09902M", "QN09903M"]
    assert codes("commune:99004")[0] == []
    assert codes("epci:299000002")[0] == ["QN09904M"]
    got, sel = codes("region:99")
    assert got == ["QN09901M", "QN09902M", "QN09903M", "QN09904M"]
    assert len(sel.commune_population) == 4 and sel.departements == ("99",)
    # Every commune of a straddling QPV is kept in the membership (splits need them).
    _, sel = codes("commune:99001")
    assert sorted(sel.membership["code_commune"]) == ["99001", "99001", "99002"]
    with pytest.raises(DataFormatError, match="no commune"):
        codes("commune:59350")
    with pytest.raises(QpvgeoError, match="EPCI membership"):
        select_territory(parse_territory("epci:299000002"), qpv=d.qpv, membership=None,
                         commune_population=d.commune_population)


def test_rings_exclude_every_qpv():
    d = demo()
    r = rings(d.qpv, ring=500)
    every = d.qpv.geometry.union_all()
    # the ring of a QPV overlaps no QPV (only boundaries may touch)
    assert (r.intersection(every).area < 1e-6).all()
    # and a ring reaches 500 m: its outer extent is the QPV's bounds widened by 500 m, to
    # the chord error of shapely's arc (16 segments a quarter: 500 (1 - cos(pi/32)) = 2.4 m)
    b, q = r.total_bounds, d.qpv.total_bounds
    assert abs((q[0] - b[0]) - 500) < 2.5 and abs((b[2] - q[2]) - 500) < 2.5


def test_profile_keeps_secret_values_na_and_commune_share():
    ind = pd.DataFrame(
        {"population": [1000, 2000], "taux_pauvrete": [40.0, None],
         "population_communes": [10000, 10000], "population_qpv_communes": [3000, 3000],
         "taux_emploi": [None, None]},
        index=pd.Index(["QP000001", "QP000002"], name="code_qpv"),
    )
    prof = socio_economic_profile(ind)
    assert prof["taux_pauvrete"].isna().tolist() == [False, True]
    assert "taux_emploi" not in prof  # NA for every QPV: nothing to show
    assert prof["part_qpv_communes"].tolist() == [0.3, 0.3]


# -- the demo folder ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "diag"
    # the README's main job: no territory given, the whole demo region
    result = CliRunner().invoke(main, ["diagnose", "--demo", "--out", str(out), "--dpi", "50"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def test_diagnose_demo_writes_every_file(demo_report):
    names = {p.name for p in demo_report.iterdir()}
    assert set(REPORT_FILES) | {"carte_pauvrete.png", "carte_pauvrete.pdf"} <= names
    # nothing half-written or temporary left beside it
    assert [p.name for p in demo_report.parent.iterdir()] == ["diag"]
    assert (demo_report / "carte_population.png").read_bytes()[:4] == b"\x89PNG"
    assert (demo_report / "carte_population.pdf").read_bytes()[:5] == b"%PDF-"


def test_demo_tables_hold_the_demo_figures(demo_report):
    d = demo()
    table = _csv(demo_report / "tableau_qpv.csv")
    assert sorted(table["code_qpv"]) == sorted(d.qpv["code_qpv"])
    assert table["population"].sum() == d.indicators["population"].sum() == 54_628
    total = d.commune_population["population"].sum()  # 177,622
    # every demo QPV lies inside the demo region: the shares add up to QPV pop / region pop
    # the CSV rounds shares to 6 digits: 4 QPV, at most 5e-7 each
    assert table["part_qpv"].sum() == pytest.approx(54_628 / total, abs=4 * 5e-7)
    # counts are whole numbers in the CSV (no 15931,096993417836)
    assert (table["population"] == table["population"].round()).all()
    # the nearest site by its name, beside its code
    sites = d.sites.set_index("code_site")["nom_site"]
    assert (table["nom_site_plus_proche"] == table["site_plus_proche"].map(sites)).all()
    communes = _csv(demo_report / "tableau_communes.csv")
    assert communes["population_qpv"].sum() == pytest.approx(54_628, rel=1e-12)
    layers = pyogrio.list_layers(demo_report / "diagnostic.gpkg")[:, 0].tolist()
    assert layers == ["qpv", "communes"]
    gpkg = gpd.read_file(demo_report / "diagnostic.gpkg", layer="qpv")
    assert len(gpkg) == 4 and gpkg.crs.to_epsg() == 2154
    assert gpkg["taux_pauvrete"].tolist() == table["taux_pauvrete"].tolist()
    dictionary = _csv(demo_report / "dictionnaire.csv")
    assert set(table.columns) == set(dictionary["colonne"])


def test_demo_provenance(demo_report):
    from qpvgeo import __version__

    prov = json.loads((demo_report / "provenance.json").read_text(encoding="utf-8"))
    assert prov["qpvgeo_version"] == __version__
    assert prov["parameters"]["territory"] == "region:99"
    assert prov["parameters"]["demo"] is True and prov["millesimes"]["qpv"] == 2024
    assert prov["synthetic"] == demo().label
    assert prov["key_figures"]["n_qpv"] == 4
    assert prov["key_figures"]["part_qpv"] == pytest.approx(54_628 / 177_622, rel=1e-12)
    assert prov["sources"][0]["source"] == "demo"


def test_demo_page_says_synthetic_and_has_no_external_resource(demo_report):
    page = (demo_report / "index.html").read_text(encoding="utf-8")
    assert demo().label in page
    assert 'id="tableau-qpv"' in page
    for marker in ('src="http', "src='http", 'href="http', "<script", "@import"):
        assert marker not in page, marker


def test_cli_needs_a_territory_without_demo(tmp_path):
    result = CliRunner().invoke(main, ["diagnose", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "--territory is required" in result.output
    result = CliRunner().invoke(main, ["diagnose", "--demo", "--territory", "commune:59350",
                                       "--out", str(tmp_path / "d"), "--quiet"])
    assert result.exit_code == 1
    assert "qpvgeo: error: territory commune:59350: no commune" in result.output
    assert not (tmp_path / "d").exists()


def test_failed_run_keeps_the_previous_report(demo_report, tmp_path):
    out = tmp_path / "diag"
    diagnose("commune:99001", demo=True, out=out, progress=False, dpi=40)
    before = (out / "provenance.json").read_bytes()
    with pytest.raises(DataFormatError, match="no commune"):
        diagnose("commune:59350", demo=True, out=out, progress=False, dpi=40)
    assert (out / "provenance.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["diag"]
    # a second successful run replaces the folder whole
    diagnose("commune:99002", demo=True, out=out, progress=False, dpi=40)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["territory"]["code"] == "99002"
    assert [p.name for p in tmp_path.iterdir()] == ["diag"]


def test_data_text_is_escaped(tmp_path):
    data = demo_data()
    qpv = data.qpv.copy()
    qpv.loc[0, "nom_qpv"] = EVIL
    data = dataclasses.replace(data, qpv=qpv)
    out = write_report(build_diagnostic(data, "region:99"), tmp_path / "evil", dpi=40)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_missing_layers_are_reported_not_fatal(tmp_path):
    data = dataclasses.replace(demo_data(), layers={"flood": demo().flood}, grid=None)
    diag = build_diagnostic(data, "region:99")
    assert diag.sections["exposition"].ok
    # every registered layer but the flood one the test gives is reported missing
    from qpvgeo.exposure import LAYERS

    assert set(diag.missing) == set(LAYERS) - {"flood"}
    assert not diag.sections["profil_environs"].ok
    out = write_report(diag, tmp_path / "d", dpi=40)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Espaces verts absente des données" in page
    # a layer absent from the data is not "hors couverture" (read, but not reaching)
    assert page.count("hors couverture</td>") == 0
    # no layer at all: the exposure section says it is unavailable, the rest is written
    diag = build_diagnostic(dataclasses.replace(data, layers={}), "commune:99003")
    assert not diag.sections["exposition"].ok
    assert (write_report(diag, tmp_path / "e", dpi=40) / "index.html").is_file()


def test_no_share_is_guessed_without_commune_outlines():
    # QN09902M spans 99001 and 99002: without commune outlines it cannot be split, so a
    # commune's share is not given; a region's is (its QPV lie wholly inside it).
    data = dataclasses.replace(demo_data(), communes=None)
    diag = build_diagnostic(data, "commune:99001")
    assert not diag.sections["population"].ok
    assert "part_qpv" not in diag.key_figures
    assert diag.key_figures["population_qpv"] == 24_025 + 12_924
    diag = build_diagnostic(data, "region:99")
    assert diag.key_figures["part_qpv"] == pytest.approx(54_628 / 177_622, rel=1e-12)


# -- in Chromium ----------------------------------------------------------------------------


def _open(browser, path: Path):
    """Open a file with every http(s) request aborted; return (page, errors, blocked)."""
    errors: list[str] = []
    blocked: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dlg: (errors.append(f"dialog: {dlg.message}"), dlg.dismiss()))

    def route(r):
        if r.request.url.startswith(("http://", "https://")):
            blocked.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors, blocked


@pytest.mark.browser
def test_index_opens_offline_in_chromium(browser, demo_report):
    page, errors, blocked = _open(browser, demo_report / "index.html")
    try:
        assert errors == [] and blocked == []
        rows = page.locator("#tableau-qpv tbody tr")
        assert rows.count() == 4
        assert page.locator("#tableau-qpv").is_visible()
        assert "Les Tours du Port" in rows.first.inner_text()
        # the static maps are shown from the folder itself
        assert page.locator("img[src='carte_population.png']").evaluate(
            "img => img.naturalWidth") > 0
    finally:
        page.close()


def test_demo_page_reads_like_a_publication(demo_report):
    d = demo()
    page = (demo_report / "index.html").read_text(encoding="utf-8")
    nn = "\u202f"
    # the headline states the figures: QPV population, its share (54,628 / 177,622)
    chapeau = page.split('id="chapeau"', 1)[1].split("</div>", 1)[0]
    assert f"54{nn}628 habitants" in chapeau and f"30,8{nn}%" in chapeau
    assert "4 quartiers prioritaires" in chapeau
    # the most exposed QPV of the burden synthesis is named
    assert "le plus exposé" in chapeau
    # no raw code for the territory, a French date
    assert "region:99" not in page.split("<main>", 1)[0]
    assert re.search(r"produit le (1er|\d{1,2}) (janvier|février|mars|avril|mai|juin|juillet|"
                     r"août|septembre|octobre|novembre|décembre) 20\d\d", page)
    # table of contents, charts as inline SVG, maps before the tables
    assert 'id="sommaire"' in page
    for chart in ("graphique-parts", "graphique-pauvrete", "graphique-cumul"):
        assert re.search(rf'<figure id="{chart}"><svg ', page), chart
    assert page.index('id="cartes"') < page.index('id="tableau-qpv"')
    # the reference a key figure is read against (demo: no national reference, said so)
    assert "Pas de référence nationale" in page
    # a fiche per QPV, linked from the index, with the QPV's figures
    for code, name in zip(d.qpv["code_qpv"], d.qpv["nom_qpv"], strict=True):
        fiche = demo_report / "quartiers" / f"{code}.html"
        assert f'href="quartiers/{code}.html"' in page
        text = fiche.read_text(encoding="utf-8")
        assert f"<h1>{html.escape(name, quote=False)}</h1>" in text
        assert "<svg viewBox" in text and 'href="../index.html"' in text
    fiche = (demo_report / "quartiers" / "QN09904M.html").read_text(encoding="utf-8")
    assert f"52,3{nn}%" in fiche  # taux de pauvreté of Cité des Essais (demo SOURCE)
    # grouped like SIG Ville's fiches: population, profile, one group per layer, synthesis
    for group in ("Population", "Profil socio-économique", *(layer.label for layer in
                  __import__("qpvgeo.exposure", fromlist=["LAYERS"]).LAYERS.values()),
                  "Synthèse des expositions"):
        assert f'scope="rowgroup">{html.escape(group).replace("&#x27;", "&#39;")}' in fiche
    # every layer is listed in the exposure table, none named by hand: the registry's
    from qpvgeo.exposure import LAYERS

    for layer in LAYERS.values():
        assert f"<td>{html.escape(layer.label).replace('&#x27;', '&#39;')}</td>" in page


def test_dictionary_from_the_column_catalogue(demo_report):
    dictionary = _csv(demo_report / "dictionnaire.csv").set_index("colonne")
    assert dictionary.loc["taux_pauvrete", "libelle"] == "Taux de pauvreté (seuil 60 %)"
    assert dictionary.loc["part_qpv", "unite"].startswith("% (fraction 0-1")
    assert dictionary.loc["taux_pauvrete", "sens"] == "plus élevé = plus défavorable"
    # the exposure columns come from the registry's catalogue, with French typography
    no_raw = dictionary["libelle"].dropna()
    assert not no_raw.str.contains(r">=|\bno2\b|frequent\b").any()


def test_offline_maps_without_assets_fails_with_every_asset_named(tmp_path, monkeypatch):
    monkeypatch.setenv("QPVGEO_DATA_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("QPVGEO_MIRROR", "http://127.0.0.1:9")  # closed loopback port
    result = CliRunner().invoke(main, ["diagnose", "--demo", "--offline-maps", "--quiet",
                                       "--out", str(tmp_path / "d"), "--dpi", "30"])
    assert result.exit_code == 1, result.output
    assert "11 web asset(s) missing" in result.output
    assert "leaflet.js" in result.output and "jquery-3.7.1.min.js" in result.output
    assert not (tmp_path / "d").exists()
    # and `qpvgeo assets` says the same, at once
    result = CliRunner().invoke(main, ["assets", "--dest", str(tmp_path / "c"),
                                       "--from", str(tmp_path)])
    assert result.exit_code == 1 and "11 web asset(s) missing" in result.output


def test_assets_command_fills_the_cache_from_a_folder(tmp_path, monkeypatch):
    if not (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file():
        skip_or_fail(f"{NODE_MODULES} missing: run `npm ci --prefix tests/web_assets`")
    result = CliRunner().invoke(main, ["assets", "--dest", str(tmp_path / "cache"),
                                       "--from", NODE_MODULES.as_uri()])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("QPVGEO_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QPVGEO_MIRROR", raising=False)
    # the assets at hand: diagnose writes the offline map by default
    out = diagnose("commune:99001", demo=True, out=tmp_path / "d", progress=False, dpi=30)
    page = (out / "carte_interactive.html").read_text(encoding="utf-8")
    assert 'src="https://cdn.jsdelivr.net' not in page and "/* https://" in page


@pytest.mark.browser
def test_page_in_chromium_headline_charts_and_a4_print(browser, demo_report):
    page, errors, blocked = _open(browser, demo_report / "index.html")
    try:
        assert errors == [] and blocked == []
        # the first screen holds the headline, the key figures and the top of the maps
        assert page.locator("#chapeau").bounding_box()["y"] < 400
        assert page.locator("#chiffres-cles .card").count() >= 3
        first_map = page.locator("#cartes img").first.bounding_box()
        assert first_map["y"] < 2 * 900
        for chart in ("#graphique-parts svg", "#graphique-pauvrete svg"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100, chart
        # sticky table headers
        assert page.locator("#tableau-qpv thead th").first.evaluate(
            "th => getComputedStyle(th).position") == "sticky"
        # printed on A4 (210 mm − 2 × 12 mm margins = 186 mm = 703 CSS px): nothing wider
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 703, "height": 1000})
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 703, width
        assert page.locator("#sommaire").is_hidden()
        pdf = page.pdf(format="A4", margin={"top": "14mm", "bottom": "14mm",
                                            "left": "12mm", "right": "12mm"})
        assert pdf[:5] == b"%PDF-"
    finally:
        page.close()


def _npm_file(asset) -> Path:
    pkg_ver, _, rel = asset.npm.partition("/")
    pkg, _, _version = pkg_ver.rpartition("@")
    path = NODE_MODULES / pkg / rel
    if not path.is_file():
        skip_or_fail(f"{path} missing: run `npm ci --prefix tests/web_assets`")
    return path


@pytest.mark.browser
def test_offline_maps_open_with_no_network(browser, tmp_path, monkeypatch):
    from qpvgeo.maps import _assets

    server = MirrorServer()
    for url, asset in _assets.ASSETS.items():
        parts = urlsplit(url)
        server.add(f"/{parts.netloc}{parts.path}", _npm_file(asset))
    server.start()
    try:
        monkeypatch.setenv("QPVGEO_MIRROR", server.url)
        monkeypatch.setenv("QPVGEO_DATA_DIR", str(tmp_path / "cache"))
        out = diagnose("epci:299000001", demo=True, out=tmp_path / "d", offline_maps=True,
                       progress=False, dpi=40)
    finally:
        server.stop()
    page, errors, blocked = _open(browser, out / "carte_interactive.html")
    try:
        assert errors == [] and blocked == []
        # one SVG path per QPV of the EPCI (3) at least, drawn by the inlined Leaflet
        assert page.locator("path.leaflet-interactive").count() >= 3
    finally:
        page.close()


# -- real data ------------------------------------------------------------------------------


def _data_dir(root: Path, shared: Path, folders: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in folders:
        (root / name).symlink_to(shared / name, target_is_directory=True)
    return root


def _run(tmp_path_factory, shared, territory, millesime, folders, links=None) -> Path:
    base = tmp_path_factory.mktemp(territory.replace(":", "-"))
    data_dir = _data_dir(base / "data", shared, folders)
    for target, source in (links or {}).items():
        (data_dir / target).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / target).symlink_to(shared / source)
    return diagnose(territory, millesime=millesime, data_dir=data_dir, out=base / "diag",
                    progress=False, dpi=40)


@pytest.mark.slow
def test_diagnose_hauts_de_france_2024(shared_data, tmp_path_factory):
    out = _run(tmp_path_factory, shared_data, "region:32", 2024, [
        "qpv2024_contours_simplified", "qpv2024_list_anct", "qpv2024_indicators_sigville",
        "insee_population_communes", "flood_hdf", "icpe_hdf",
    ])
    # Expected, from the raw files: SIG Ville rows (one per commune x QPV), each QPV once.
    sig = pd.read_csv(shared_data / "qpv2024_indicators_sigville" / "analyse_qpv.csv",
                      dtype={"codeQPV": str})
    hdf = sig[sig["insee_reg"] == 32].drop_duplicates("codeQPV")
    pop = pd.read_csv(shared_data / "insee_population_communes"
                      / "populations_legales_2023_communes_cog2025.csv", sep=";",
                      dtype={"REG": str})
    region_pop = pop.loc[pop["REG"] == "32", "PMUN"].sum()
    assert len(hdf) == 204 and hdf["popMuniQPV"].sum() == 753_115  # SOURCE.md, INSEE ~753,100
    table = _csv(out / "tableau_qpv.csv")
    assert sorted(table["code_qpv"]) == sorted(hdf["codeQPV"])
    assert table["population"].sum() == 753_115
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    k = prov["key_figures"]
    assert k["n_qpv"] == 204 and k["population_qpv"] == 753_115
    assert k["population_territoire"] == region_pop == 5_992_194
    # every HdF QPV lies inside the region: share = 753,115 / 5,992,194 (12.57 %)
    assert k["part_qpv"] == pytest.approx(753_115 / 5_992_194, rel=1e-12)
    assert prov["sections"]["exposition"]["ok"]
    assert "noise" in prov["missing_layers"]  # no noise map for HdF in this data directory
    assert {r["role"] for r in prov["sources"]} >= {"qpv2024", "population", "flood"}
    assert prov["millesimes"]["population"] == "Insee, populations légales 2023, COG 2025"
    # References, recomputed with plain pandas from the raw files: metropolitan France
    # (regions 11 and above) and the rank of HdF among the 13 metropolitan regions.
    metro = sig[sig["insee_reg"] >= 11].drop_duplicates("codeQPV")
    metro_pop = pop[pop["REG"].astype(int) >= 11]
    france = metro["popMuniQPV"].sum() / metro_pop["PMUN"].sum()  # 5,307,455 / 66,165,815
    by_region = (metro.groupby("insee_reg")["popMuniQPV"].sum()
                 / metro_pop.groupby(metro_pop["REG"].astype(int))["PMUN"].sum())
    rank = int((by_region > by_region[32]).sum()) + 1
    assert (rank, len(by_region)) == (2, 13)  # after Île-de-France (13.7 %)
    page = (out / "index.html").read_text(encoding="utf-8")
    chapeau = page.split('id="chapeau"', 1)[1].split("</div>", 1)[0]
    nn = "\u202f"
    assert f"753{nn}115 habitants" in chapeau and f"12,6{nn}%" in chapeau
    assert f"contre {france * 100:.1f}".replace(".", ",") + f"{nn}% en France" in chapeau
    assert "au 2e rang des 13 régions métropolitaines" in chapeau
    # the map and the charts are there; every QPV has its fiche
    assert (out / "carte_population.png").is_file()
    assert len(list((out / "quartiers").glob("QN*.html"))) == 204
    # the CSVs are rounded: no 15931,096993417836 inhabitants
    assert (table["population"] == table["population"].round()).all()


@pytest.mark.slow
def test_diagnose_lille_metropole_2015(shared_data, tmp_path_factory):
    out = _run(tmp_path_factory, shared_data, "epci:200093201", 2015, [
        "qpv2015_contours_anct", "insee_qpv_tables", "insee_population_communes",
        "communes_hdf", "epci_hdf",
    ])
    # Expected, independently: INSEE's own EPCI column of the RP 2013 table (the MEL under
    # its 2013 SIREN), populations from the 2022 DEMO edition.
    tables = shared_data / "insee_qpv_tables"
    rp = pd.read_csv(tables / "pop_qp_2013.csv", sep=";", dtype=str)
    mel = rp[rp["epci1"].isin([MEL_SIREN_2013, MEL]) | rp["epci2"].isin([MEL_SIREN_2013, MEL])]
    demo22 = pd.read_csv(tables / "DEMO_2022.csv", sep=";", dtype=str, encoding="utf-8-sig")
    demo22 = demo22.set_index("CODGEO")["POP_MUN"].str.replace("\u202f", "").astype(int)
    expected = demo22.reindex(mel["qp"])
    assert len(mel) == 26 and expected.notna().all()
    table = _csv(out / "tableau_qpv.csv")
    assert sorted(table["code_qpv"]) == sorted(mel["qp"])
    assert table["population"].sum() == expected.sum()
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["key_figures"]["n_qpv"] == 26
    assert prov["key_figures"]["population_qpv"] == expected.sum()
    assert prov["millesimes"]["qpv"] == 2015


@pytest.mark.slow
def test_diagnose_toulouse_2015_hackaviz(shared_data, tmp_path_factory):
    # The population file sits where `qpvgeo fetch insee_population_2023` puts INSEE's
    # archive (fetch-cache layout), to check that layout too.
    out = _run(tmp_path_factory, shared_data, "commune:31555", 2015, [
        "qpv2015_occitanie_hackaviz", "communes_occitanie", "green_spaces_toulouse",
    ], links={"insee_population_2023/ensemble/donnees_communes.csv":
              "insee_population_communes/populations_legales_2023_communes_cog2025.csv"})
    hack = shared_data / "qpv2015_occitanie_hackaviz"
    contours = gpd.read_file(hack / "qp.geojson", columns=["code_qp", "code_commune"],
                             ignore_geometry=True)
    codes = contours.loc[contours["code_commune"] == "31555", "code_qp"]
    ind = pd.read_csv(hack / "qp.csv", dtype={"code_qp": str}, encoding="utf-8-sig")
    expected = ind.set_index("code_qp").loc[codes, "pop_mun"].sum()
    assert len(codes) == 12 and expected == 55_543
    table = _csv(out / "tableau_qpv.csv")
    assert sorted(table["code_qpv"]) == sorted(codes)
    assert table["population"].sum() == 55_543
    # INSEE's commune figures from the same table: 55,543 of Toulouse's 458,298 in QPV
    assert table["part_qpv_communes"].round(6).unique().tolist() == [round(55_543 / 458_298, 6)]
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["key_figures"]["n_qpv"] == 12
    assert prov["territory"]["name"] == "Toulouse"
    assert prov["sections"]["exposition"]["ok"]  # green spaces of Toulouse
    # (found there: the data directory has no insee_population_communes folder)
    pop = [r for r in prov["sources"] if r["role"] == "population"]
    assert len(pop) == 1 and pop[0]["sha256"] == (
        "ccfe782e04ebde04a1706214157b288a0d055eb3ab913ff9f7bab5a3571f67ab")  # SOURCE.md


def test_missing_required_file_names_the_layout(tmp_path):
    (tmp_path / "qpv2024_list_anct").mkdir()
    with pytest.raises(DataFormatError, match="qpvgeo fetch insee_population_2023"):
        diagnose("region:32", data_dir=tmp_path, out=tmp_path / "d", progress=False)
    assert not (tmp_path / "d").exists()



def test_exposure_summary_counts_worse_off_qpv_by_the_columns_direction():
    # Green-space access is "higher is better": a QPV is worse off than its surroundings
    # when its ratio is below 1, not above (the count follows the catalogue's direction).
    from qpvgeo.diagnostic.page import (
        _headline_of,
        _info,
        _main_indicator,
        exposure_summary,
        layer_columns,
    )
    from qpvgeo.exposure import LAYERS

    diag = build_diagnostic(demo_data(), "region:99")
    rows = {r["layer"]: r for r in exposure_summary(diag)}
    qpv = diag.qpv_table
    directions = []
    for name in ("green_spaces", "noise", "flood"):
        cols = layer_columns(diag, name)
        main = _headline_of(LAYERS[name], cols) or _main_indicator(cols)
        direction = _info(diag, main).direction
        r = pd.to_numeric(qpv[f"{main}_ratio"], errors="coerce").dropna()
        worse = (r < 1) if direction < 0 else (r > 1)
        assert rows[LAYERS[name].label]["above"] == f"{int(worse.sum())} sur {len(r)}"
        directions.append(direction)
    assert sorted(directions) == [-1, 1, 1]
