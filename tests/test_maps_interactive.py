"""Interactive maps: French formatting, classes, web geometry, escaping, offline export.

The browser tests (marker ``browser``) open the exported files in Debian's Chromium
through Playwright, with every network request aborted: only the ``file://`` page
itself may load. The web assets the offline export inlines are served by a loopback
mirror from the npm packages installed by ``npm ci --prefix tests/web_assets``.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import skip_or_fail
from http_mirror import MirrorServer
from shapely.geometry import Polygon, box

from qpvgeo.datasets import demo
from qpvgeo.errors import ChecksumError, QpvgeoError, QpvgeoWarning, SchemaError
from qpvgeo.maps import _assets, _format
from qpvgeo.maps._classes import classify
from qpvgeo.maps.interactive import (
    Legend,
    add_indicator_switcher,
    add_layer,
    add_sites_layer,
    finish,
    qpv_map,
    save_html,
    web_geometry,
)

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "tests" / "web_assets" / "node_modules"
ARTIFACTS = REPO / "tests" / "artifacts"
EVIL = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = "</script><script>alert(2)</script>"
#: Size bound of the offline export of the 204 HdF QPV of 2024 (+ 3,782 communes and 92
#: EPCI, all scripts inlined): 6 MB. Measured 5.24 MB (communes ≈ 3 MB of it).
HDF_SIZE_BOUND = 6_000_000

NNBSP = "\u202f"




def _demo_frame():
    d = demo()
    return d, d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)


# -- French formatting ------------------------------------------------------------------


def test_french_number_formats():
    assert _format.format_number(1234567.891, 1) == f"1{NNBSP}234{NNBSP}567,9"
    assert _format.format_number(753115) == f"753{NNBSP}115"
    assert _format.format_percent(12.5) == f"12,5{NNBSP}%"
    assert _format.format_percent(0.4321, fraction=True) == f"43,2{NNBSP}%"
    assert _format.format_euros(14520) == f"14{NNBSP}520\u00a0€"
    assert _format.format_number(-0.04, 1) == "0,0"
    assert _format.format_value(float("nan"), "taux_pauvrete") == "n.d."
    assert _format.format_value(pd.NA, "population") == "n.d."
    assert _format.format_value(6399, "population") == f"6{NNBSP}399"
    assert _format.format_value(43.0, "taux_pauvrete") == f"43,0{NNBSP}%"


@pytest.mark.parametrize(
    ("scheme", "mc"),
    [("quantiles", mapclassify.Quantiles), ("natural_breaks", mapclassify.FisherJenks),
     ("equal_interval", mapclassify.EqualInterval)],
)
def test_classes_are_mapclassify_bins(scheme, mc):
    values = pd.Series([29.0, 31.5, 35.2, 38.0, 41.0, 43.3, 47.9, 52.0, 58.4, 63.0, None])
    c = classify(values, scheme=scheme, k=4)
    expected = mc(values.dropna().to_numpy(), k=4)
    np.testing.assert_array_equal(c.bins, expected.bins)
    assert c.yb.tolist()[:-1] == expected.yb.tolist()
    assert c.yb[-1] == -1 and c.n_missing == 1
    assert sum(c.counts) == 10
    assert c.labels == _format.class_labels(29.0, expected.bins)


def test_user_bins_and_bad_scheme():
    c = classify(pd.Series([10.0, 20, 30, 40]), bins=[15, 35])
    # mapclassify adds the maximum as the last bound when it exceeds the user's last one
    assert c.bins.tolist() == [15.0, 35.0, 40.0] and c.yb.tolist() == [0, 1, 1, 2]
    with pytest.raises(QpvgeoError, match="unknown classification scheme"):
        classify(pd.Series([1.0, 2.0]), scheme="kmeans")
    with pytest.raises(SchemaError, match="no value"):
        classify(pd.Series([None, None], dtype="float64"), column="taux_emploi")


# -- web geometry ------------------------------------------------------------------------


def _zigzag_pair() -> gpd.GeoDataFrame:
    # Two 500 m x 1 km rectangles sharing a zigzag edge with 1 m teeth: a 5 m tolerance removes
    # the teeth; simplified as a coverage, both sides must remove the same ones.
    x0, y0 = 700_000.0, 7_000_000.0
    ys = np.linspace(y0, y0 + 1000, 201)
    xs = x0 + 500 + np.where(np.arange(201) % 2 == 0, 0.0, 1.0)
    edge = list(zip(xs, ys, strict=True))
    left = Polygon([(x0, y0), *edge, (x0, y0 + 1000)])
    right = Polygon([*edge, (x0 + 1000, y0 + 1000), (x0 + 1000, y0)])
    return gpd.GeoDataFrame({"code_commune": ["00001", "00002"]}, geometry=[left, right],
                            crs=2154)


def test_web_geometry_coverage_keeps_shared_edges():
    pair = _zigzag_pair()
    before = int(shapely.get_num_coordinates(np.asarray(pair.geometry.array)).sum())
    web = web_geometry(pair, tolerance=5.0, precision=6, coverage=True)
    arr = np.asarray(web.geometry.array)
    after = int(shapely.get_num_coordinates(arr).sum())
    assert web.crs.to_epsg() == 4326
    assert after < before / 10  # the 200 teeth are gone (2 x 205 vertices -> a few)
    # Still a coverage: no gap and no overlap between the two communes.
    assert bool(shapely.coverage_is_valid(arr))
    back = gpd.GeoSeries(arr, crs=4326).to_crs(2154)
    # Area kept within 0.5 %: the teeth are 1 m high over 1 km (0.1 % of the area),
    # and the 1e-6 degree grid moves vertices by under 0.1 m.
    assert back.area.sum() == pytest.approx(1e6, rel=5e-3)
    # Coordinates snapped to 6 decimals.
    coords = shapely.get_coordinates(arr)
    np.testing.assert_allclose(coords * 1e6, np.round(coords * 1e6), atol=1e-6)


def test_web_geometry_repairs_invalid_with_warning():
    bowtie = Polygon([(700000, 7000000), (700100, 7000100), (700100, 7000000),
                      (700000, 7000100)])
    g = gpd.GeoDataFrame({"code_qpv": ["QN05999M"]}, geometry=[bowtie], crs=2154)
    with pytest.warns(QpvgeoWarning, match="1 invalid geometry repaired"):
        web = web_geometry(g, tolerance=0)
    assert bool(shapely.is_valid(web.geometry.iloc[0]))


def test_web_geometry_needs_crs():
    g = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)])
    with pytest.raises(QpvgeoError, match="no CRS"):
        web_geometry(g)


# -- the page ------------------------------------------------------------------------------


def test_qpv_map_page_holds_classes_legend_and_sources():
    d, g = _demo_frame()
    m = qpv_map(d.qpv, "taux_pauvrete", indicators=d.indicators, k=3, tiles=None)
    page = m.get_root().render()
    expected = mapclassify.Quantiles(g["taux_pauvrete"].to_numpy(), k=3)
    np.testing.assert_array_equal(m.qpvgeo_classes.bins, expected.bins)
    labels = _format.class_labels(g["taux_pauvrete"].min(), expected.bins)
    for label in labels:
        assert json.dumps(label) in page  # the legend spec carries every class label
    # Jinja's tojson writes non-ASCII letters as \u escapes: "g\u00e9ographie".
    assert "ANCT, SIG Ville (g\\u00e9ographie 2024)" in page
    # Only the assets the page uses: Leaflet, jQuery, the fullscreen control.
    links = re.findall(r'(?:src|href)="(https://[^"]+)"', page)
    assert sorted(links) == sorted([
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
        "https://code.jquery.com/jquery-3.7.1.min.js",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css",
        _assets.FULLSCREEN_JS, _assets.FULLSCREEN_CSS,
    ])


def test_unknown_column_names_the_column():
    d = demo()
    with pytest.raises(SchemaError, match="'taux_chomage'"):
        qpv_map(d.qpv, "taux_chomage", indicators=d.indicators, tiles=None)


def _evil_qpv() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    d = demo()
    qpv = d.qpv.copy()
    qpv["nom_qpv"] = [EVIL, EVIL_SCRIPT, "Les Tours", "Le Port"]
    qpv["nom_commune"] = [EVIL_SCRIPT, EVIL, "Port-Synthèse", "Bourg"]
    return qpv, d.indicators


def test_page_source_never_carries_data_as_markup():
    qpv, ind = _evil_qpv()
    m = qpv_map(qpv, "taux_emploi", indicators=ind, tiles=None, title=EVIL,
                sources=EVIL, name=EVIL)
    page = m.get_root().render()
    assert "<img src=x" not in page
    assert "<script>alert(2)" not in page
    assert "alert(2)</script>" not in page


def test_offline_export_refuses_unpinned_assets(tmp_path):
    m = folium.Map(tiles=None)  # folium's defaults include awesome-markers, glyphicons
    with pytest.raises(QpvgeoError, match="bootstrap-glyphicons.css"):
        save_html(m, tmp_path / "m.html", offline=True, cache=tmp_path / "cache")
    assert not (tmp_path / "m.html").exists()


# -- loopback mirror of the npm packages ---------------------------------------------------


def _npm_file(asset: _assets.Asset) -> Path:
    pkg_ver, _, rel = asset.npm.partition("/")
    pkg, _, version = pkg_ver.rpartition("@")
    meta = NODE_MODULES / pkg / "package.json"
    if not meta.is_file():
        skip_or_fail(f"{NODE_MODULES} lacks {pkg}: run `npm ci --prefix tests/web_assets`")
    found = json.loads(meta.read_text())["version"]
    assert found == version, f"{pkg} {found} installed, {version} pinned"
    return NODE_MODULES / pkg / rel


@pytest.fixture(scope="module")
def asset_mirror():
    """Loopback mirror serving each pinned asset from its npm package."""
    server = MirrorServer()
    for url, asset in _assets.ASSETS.items():
        parts = urlsplit(url)
        server.add(f"/{parts.netloc}{parts.path}", _npm_file(asset))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def asset_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("asset-cache")


def test_offline_assets_are_checked_against_pinned_hashes(tmp_path):
    server = MirrorServer()
    for url, asset in _assets.ASSETS.items():
        parts = urlsplit(url)
        server.add(f"/{parts.netloc}{parts.path}", _npm_file(asset))
    # An altered Leaflet (one byte appended) must be refused, and nothing written.
    leaflet = next(u for u in _assets.ASSETS if u.endswith("leaflet.js"))
    parts = urlsplit(leaflet)
    server.add(f"/{parts.netloc}{parts.path}", _npm_file(_assets.ASSETS[leaflet]).read_bytes()
               + b"\n")
    server.start()
    try:
        d = demo()
        with pytest.raises(ChecksumError):
            save_html(qpv_map(d.qpv, tiles=None), tmp_path / "m.html", offline=True,
                      mirror=server.url, cache=tmp_path / "cache")
    finally:
        server.stop()
    assert not (tmp_path / "m.html").exists()


def test_offline_export_is_self_contained(asset_mirror, asset_cache, tmp_path):
    d = demo()
    m = qpv_map(d.qpv, "population", indicators=d.indicators, tiles=None, k=2)
    out = save_html(m, tmp_path / "demo.html", offline=True, mirror=asset_mirror.url,
                    cache=asset_cache)
    raw = out.path.read_bytes()
    page = raw.decode("utf-8")
    assert out.offline and out.size_bytes == len(raw)
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', page)
    # Leaflet's stylesheet images became data: URIs.
    assert "data:image/png;base64," in page and "data:image/svg+xml;base64," in page
    assert "sourceMappingURL" not in page
    # Exported a second time: served from the cache, no new request to the mirror.
    hits = sum(asset_mirror.hits.values())
    save_html(m, tmp_path / "again.html", offline=True, mirror=asset_mirror.url,
              cache=asset_cache)
    assert sum(asset_mirror.hits.values()) == hits


def test_offline_export_with_tiles_warns(asset_mirror, asset_cache, tmp_path):
    d = demo()
    m = qpv_map(d.qpv, tiles="OpenStreetMap")
    with pytest.warns(QpvgeoWarning, match="tile layer"):
        save_html(m, tmp_path / "t.html", offline=True, mirror=asset_mirror.url,
                  cache=asset_cache)


# -- in Chromium ----------------------------------------------------------------------------


class Opened:
    """A page opened with every network request aborted, with what it tried."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1100, "height": 800})
        self.page.on("console",
                     lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.url:
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def demo_page(browser, asset_mirror, asset_cache, tmp_path_factory):
    d = demo()
    m = qpv_map(d.qpv, "taux_pauvrete", indicators=d.indicators, k=3, tiles=None,
                tooltip=["population", "taux_pauvrete"], title="Territoire de démonstration")
    add_layer(m, d.communes, kind="communes")
    add_layer(m, d.flood, kind="flood")
    add_sites_layer(m, d.sites, radius={"haut": 1000, "bas": 500})
    add_layer(m, d.air, kind="air", pollutant="no2", k=3)
    path = tmp_path_factory.mktemp("demo-map") / "demo.html"
    save_html(m, path, offline=True, mirror=asset_mirror.url, cache=asset_cache)
    opened = Opened(browser, path)
    yield opened, m
    opened.close()


@pytest.mark.browser
def test_offline_demo_renders_without_network(demo_page):
    opened, m = demo_page
    page = opened.page
    page.wait_for_selector("path.qpvgeo-qpv")
    assert opened.errors == []
    assert opened.requests == []  # nothing was even attempted beyond the file
    assert page.locator("path.qpvgeo-qpv").count() == 4  # one SVG path per QPV
    legend = page.locator(".qpvgeo-legend", has_text="Taux de pauvreté")
    assert legend.is_visible()
    shown = legend.locator(".qpvgeo-legend-label").all_inner_texts()
    assert shown == m.qpvgeo_classes.labels
    assert m.qpvgeo_classes.labels == _format.class_labels(
        38.5, mapclassify.Quantiles(demo().indicators["taux_pauvrete"].to_numpy(), k=3).bins)
    assert page.locator(".qpvgeo-title").inner_text() == "Territoire de démonstration"
    assert "hors ligne" in page.locator(".qpvgeo-note").inner_text()
    assert "géographie 2024" in page.locator(".leaflet-control-attribution").inner_text()
    # Scale, fullscreen and layer control are there.
    assert page.locator(".leaflet-control-scale").is_visible()
    assert page.locator(".leaflet-control-zoom-fullscreen").count() == 1
    names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert [n.strip() for n in names] == [
        "Quartiers prioritaires (QPV)", "Communes", "Zones inondables (TRI)",
        "Sites industriels (Seveso, ICPE)", "Concentration moyenne annuelle de NO₂"]
    # Hover: the tooltip names the QPV, its commune and the indicators, French-formatted.
    first = demo().qpv.iloc[0]
    page.locator("path.qpvgeo-qpv").first.hover()
    tip = page.locator(".leaflet-tooltip", has_text=first["nom_qpv"])
    tip.wait_for()
    text = tip.inner_text()
    assert first["code_qpv"] in text and first["code_commune"] in text
    assert f"24{NNBSP}025" in text and f"46,2{NNBSP}%" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "offline_demo_map.png"))
    assert (ARTIFACTS / "offline_demo_map.png").stat().st_size > 10_000


@pytest.mark.browser
def test_layer_toggle_hides_and_shows_paths(demo_page):
    opened, _ = demo_page
    page = opened.page
    # The layer control is collapsed: it opens on hover, never covering the data for good.
    control = page.locator(".leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in (control.get_attribute("class") or "")
    control.hover()
    communes = page.locator(".leaflet-control-layers-overlays label", has_text="Communes")
    assert page.locator("path.qpvgeo-territory").count() == 4
    communes.locator("input").uncheck()
    assert page.locator("path.qpvgeo-territory").count() == 0
    communes.locator("input").check()
    assert page.locator("path.qpvgeo-territory").count() == 4
    # A legend follows its layer: unchecking the flood layer hides the flood legend.
    flood_legend = page.locator(".qpvgeo-legend", has_text="Fréquent")
    assert flood_legend.is_visible()
    flood = page.locator(".leaflet-control-layers-overlays label", has_text="Zones inondables")
    flood.locator("input").uncheck()
    assert not flood_legend.is_visible()
    flood.locator("input").check()
    assert flood_legend.is_visible()
    assert opened.errors == [] and opened.requests == []


@pytest.mark.browser
def test_injected_names_show_as_text_and_never_run(browser, asset_mirror, asset_cache,
                                                   tmp_path):
    qpv, ind = _evil_qpv()
    m = qpv_map(qpv, "taux_emploi", indicators=ind, tiles=None, title=EVIL, sources=EVIL,
                tooltip=["taux_emploi"], name=EVIL, popup=True)
    Legend(EVIL, [("#000000", EVIL_SCRIPT)]).add_to(m)  # a legend of data-borne labels
    path = tmp_path / "evil.html"
    save_html(m, path, offline=True, mirror=asset_mirror.url, cache=asset_cache)
    opened = Opened(browser, path)
    try:
        page = opened.page
        page.wait_for_selector("path.qpvgeo-qpv")
        assert page.locator("path.qpvgeo-qpv").count() == 4
        assert page.locator(".qpvgeo-title").inner_text() == EVIL
        assert EVIL in page.locator(".leaflet-control-attribution").inner_text()
        assert EVIL in page.locator(".leaflet-control-layers-overlays").inner_text()
        legend = page.locator(".qpvgeo-legend", has_text=EVIL)
        assert legend.is_visible() and EVIL_SCRIPT in legend.inner_text()
        page.locator("path.qpvgeo-qpv").nth(0).hover()
        tip = page.locator(".leaflet-tooltip", has_text=EVIL)
        tip.wait_for()
        assert EVIL_SCRIPT in tip.inner_text()  # the commune, shown as text
        page.locator("path.qpvgeo-qpv").nth(1).click()
        popup = page.locator(".leaflet-popup-content", has_text=EVIL_SCRIPT)
        popup.wait_for()
        assert EVIL in popup.inner_text()
        # No element was created from the names, and nothing ran.
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("document.querySelectorAll('script').length") == \
            page.evaluate("Array.from(document.scripts).filter(s => !s.src).length")
        assert opened.dialogs == []
        assert opened.errors == [] and opened.requests == []
    finally:
        opened.close()


# -- real files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hdf_2024(request):
    shared = request.getfixturevalue("shared_data")
    from qpvgeo.readers import (
        read_communes,
        read_epci_boundaries,
        read_qpv,
        read_qpv_indicators,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)  # the readers report their repairs
        qpv = read_qpv(shared / "qpv2024_contours_simplified" / "qpv2024_hdf_simplified.geojson")
        ind = read_qpv_indicators(shared / "qpv2024_indicators_sigville" / "analyse_qpv.csv")
        communes = read_communes(shared / "communes_hdf" / "communes_hdf_cog2025.gpkg")
        epci = read_epci_boundaries(shared / "epci_hdf" / "epci_hdf_2025_derived.gpkg")
    return qpv, ind, communes, epci


@pytest.mark.browser
def test_real_hdf_2024_offline_map(hdf_2024, browser, asset_mirror, asset_cache, tmp_path):
    qpv, ind, communes, epci = hdf_2024
    assert len(qpv) == 204 and len(communes) == 3782 and len(epci) == 92
    m = qpv_map(qpv, "taux_pauvrete", indicators=ind, scheme="natural_breaks", tiles=None,
                tooltip=["population", "taux_pauvrete", "taux_emploi"],
                layers=[("communes", communes), ("epci", epci)],
                title="QPV 2024 des Hauts-de-France")
    # SOURCE.md of analyse_qpv.csv: 197 of the 204 HdF QPV have a poverty rate, 29 to 63 %.
    c = m.qpvgeo_classes
    assert c.n_missing == 7 and sum(c.counts) == 197
    assert c.lower == 29.0 and c.bins[-1] == 63.0
    out = save_html(m, tmp_path / "hdf2024.html", offline=True, mirror=asset_mirror.url,
                    cache=asset_cache)
    assert 1_000_000 < out.size_bytes < HDF_SIZE_BOUND, out
    opened = Opened(browser, out.path)
    try:
        page = opened.page
        page.wait_for_selector("path.qpvgeo-qpv")
        assert page.locator("path.qpvgeo-qpv").count() == 204
        assert page.locator("path.qpvgeo-territory").count() == 3782 + 92
        assert page.locator(".qpvgeo-legend", has_text="Taux de pauvreté").is_visible()
        assert opened.errors == [] and opened.requests == []
        page.screenshot(path=str(ARTIFACTS / "offline_hdf2024_map.png"))
    finally:
        opened.close()


def test_real_sites_and_other_geographies(shared_data):
    from qpvgeo.readers import read_industrial_sites, read_qpv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        q2015 = read_qpv(shared_data / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson")
        occ = read_qpv(shared_data / "qpv2015_occitanie_hackaviz" / "qp.geojson")
        seveso = read_industrial_sites(shared_data / "icpe_hdf" / "seveso_sh_prio_ied_hdf.gpkg")
        irep = read_industrial_sites(
            shared_data / "industrial_emitters_irep_hdf" / "irep_sites_2021_hdf.gpkg")
    assert len(q2015) == 199
    m = qpv_map(q2015, tiles=None)
    assert len(m.qpvgeo_qpv_layer.data["features"]) == 199
    assert "ANCT, SIG Ville (g\\u00e9ographie 2015)" in m.get_root().render()
    mo = qpv_map(occ, tiles=None)
    assert len(mo.qpvgeo_qpv_layer.data["features"]) == len(occ)
    group = add_sites_layer(m, seveso, radius=1000)
    layers = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    # One radius polygon and one point per Seveso site (SOURCE.md: 49 sites).
    assert [len(g.data["features"]) for g in layers] == [49, 49]
    group = add_sites_layer(m, irep)  # 1,047 IREP sites, no Seveso status: points only
    layers = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    assert [len(g.data["features"]) for g in layers] == [1047]
    legends = [c.rows for c in m._children.values() if isinstance(c, Legend)]
    # Seveso file: all upper tier; IREP: no status, said so rather than shown as "non".
    assert legends[-2] == [("#a50f15", "Seveso seuil haut")]
    assert legends[-1] == [("#bdbdbd", "Statut Seveso non renseigné")]


def test_every_layer_kind_on_the_demo():
    d = demo()
    m = qpv_map(d.qpv, tiles=None)
    counts = {}
    for kind, frame, extra in [
        ("communes", d.communes, {}), ("flood", d.flood, {}), ("air", d.air, {"k": 3}),
        ("green_spaces", d.green_spaces, {}), ("heat", d.heat, {"k": 3}),
        ("noise", d.noise, {}), ("sites", d.sites, {"radius": {"haut": 1000, "bas": 500}}),
    ]:
        layer = add_layer(m, frame, kind=kind, **extra)
        if isinstance(layer, folium.GeoJson):
            counts[kind] = len(layer.data["features"])
        else:  # sites: radius polygons for the Seveso sites, then one point per site
            counts[kind] = [len(c.data["features"]) for c in layer._children.values()]
    seveso = int(d.sites["seveso"].isin(["haut", "bas"]).sum())
    assert counts == {
        "communes": len(d.communes), "flood": len(d.flood), "air": len(d.air),
        "green_spaces": len(d.green_spaces), "heat": len(d.heat), "noise": len(d.noise),
        "sites": [seveso, len(d.sites)],
    }
    page = m.get_root().render()
    assert page.count("qpvgeo-legend") >= 7  # QPV + flood, air, green, heat, noise, sites
    with pytest.raises(QpvgeoError, match="unknown layer kind"):
        add_layer(m, d.flood, kind="floods")
    bad = d.flood.assign(scenario="centennale")
    with pytest.raises(SchemaError, match="centennale"):
        add_layer(m, bad, kind="flood")


def test_air_stations_and_heat_classes_layers(shared_data):
    """Real layers as the readers give them: Atmo stations (points), Lille heat classes."""
    import warnings

    import folium

    from qpvgeo.maps import add_air_layer, add_heat_layer
    from qpvgeo.readers import read_air_stations, read_heat_iris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stations = read_air_stations(
            shared_data / "air_quality_occitanie/atmo_occitanie_mesure_annuelle_2018_2023.csv")
        heat = read_heat_iris(shared_data / "urban_heat_lcz/lille_iris_heat_vulnerability.geojson")
    m = folium.Map(tiles=None)
    layer = add_air_layer(m, stations.dropna(subset=["no2"]), pollutant="no2", k=3)
    feats = layer.data["features"]
    assert len(feats) == stations["no2"].notna().sum()
    assert {f["geometry"]["type"] for f in feats} == {"Polygon"}  # disks, not points
    layer = add_heat_layer(m, heat)
    assert len(layer.data["features"]) == len(heat)
    # One colour per class, in the publisher's order, in the legend.
    from qpvgeo.maps import Legend

    legend = [c for c in m._children.values() if isinstance(c, Legend)][-1]
    assert [label for _, label in legend.rows] == ["faible", "moyenne", "forte"]
    assert len({color for color, _ in legend.rows}) == 3
    fills = {f["properties"]["c"] for f in layer.data["features"]}
    assert fills == {color for color, _ in legend.rows}


@pytest.mark.browser
def test_online_export_says_why_it_is_blank_without_network(browser, tmp_path):
    """A map that needs the CDNs, opened with no network, explains itself in French."""
    from qpvgeo.maps.interactive import NETWORK_NOTICE

    _, frame = _demo_frame()
    path = tmp_path / "online.html"
    save_html(qpv_map(frame, "taux_pauvrete", tiles=None), path)
    page = browser.new_page()
    try:
        page.route("http*://**", lambda route: route.abort())
        page.goto(path.as_uri(), wait_until="load")
        notice = page.locator(".qpvgeo-network-notice")
        notice.wait_for(timeout=5000)
        assert notice.inner_text() == NETWORK_NOTICE
    finally:
        page.close()


@pytest.fixture(scope="module")
def switcher_page(browser, asset_mirror, asset_cache, tmp_path_factory):
    d = demo()
    g = d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)
    m = qpv_map(g, tiles=None, outline_only=True, tooltip=["population"])
    add_indicator_switcher(m, g, ["taux_pauvrete", "taux_emploi"],
                           palettes={"taux_pauvrete": "YlOrBr", "taux_emploi": "Blues"})
    path = tmp_path_factory.mktemp("switch-map") / "switch.html"
    save_html(m, path, offline=True, mirror=asset_mirror.url, cache=asset_cache)
    opened = Opened(browser, path)
    yield opened, m
    opened.close()


def _visible_legends(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('.qpvgeo-legend'))"
        ".filter(e => getComputedStyle(e).display !== 'none')"
        ".map(e => e.querySelector('.qpvgeo-legend-title').textContent)")


@pytest.mark.browser
def test_indicator_switcher_shows_one_layer_and_its_legend(switcher_page):
    opened, _ = switcher_page
    page = opened.page
    page.wait_for_selector("path.qpvgeo-indicator")
    # one indicator at a time: 4 QPV paths of the indicator, and only its legend
    assert page.locator("path.qpvgeo-indicator").count() == 4
    assert _visible_legends(page) == ["Taux de pauvreté (seuil 60 %)"]
    page.select_option(".qpvgeo-switch select", index=1)
    assert page.locator("path.qpvgeo-indicator").count() == 4
    assert _visible_legends(page) == ["Taux d'emploi des 15-64 ans (en %)"]
    assert page.get_attribute(".qpvgeo-switch", "data-shown") == "Taux d'emploi des 15-64 ans"
    assert opened.errors == [] and opened.requests == []


@pytest.mark.browser
def test_search_finds_a_qpv_and_zooms_to_it(switcher_page):
    opened, _ = switcher_page
    page = opened.page
    page.wait_for_selector("path.qpvgeo-qpv")
    area = ("Math.max(...Array.from(document.querySelectorAll('path.qpvgeo-qpv'))"
            ".map(p => { const r = p.getBoundingClientRect(); return r.width * r.height; }))")
    before = page.evaluate(area)
    box = page.locator(".qpvgeo-search input")
    # the names are offered as suggestions, in French capitalisation
    options = page.evaluate("Array.from(document.querySelectorAll('.qpvgeo-search option'))"
                            ".map(o => o.value)")
    assert sorted(options) == sorted(demo().qpv["nom_qpv"])
    box.fill("essais")  # part of a name, any case
    box.press("Enter")
    assert page.get_attribute(".qpvgeo-search", "data-found") == "Cité des Essais"
    page.wait_for_timeout(400)
    assert page.evaluate(area) > 2 * before  # the map zoomed in on the QPV
    box.fill("aucun quartier de ce nom")
    box.press("Enter")
    assert page.get_attribute(".qpvgeo-search", "data-found") == ""
    assert opened.errors == []


def test_no_popup_by_default_and_legends_bound_to_layers():
    d = demo()
    m = qpv_map(d.qpv, "taux_pauvrete", indicators=d.indicators, tiles=None, k=3)
    add_layer(m, d.flood, kind="flood")
    html_text = m.get_root().render()
    assert "bindPopup" not in html_text  # the tooltip already shows the values
    # each legend knows its layer (shown only while the layer is on the map)
    assert html_text.count("layer.on(\"add\", sync)") == 2
    finish(m)
    assert '"collapsed": true' in m.get_root().render()


# -- packed contours --------------------------------------------------------------------------


def _rings(fc: dict) -> list:
    # through JSON: folium's data holds tuples, the page and the unpacker lists
    return json.loads(json.dumps([f["geometry"]["coordinates"] for f in fc["features"]]))


def test_packed_contours_round_trip_exactly_and_weigh_less(tmp_path):
    from qpvgeo.maps import _pack

    d = demo()
    m = qpv_map(d.qpv, tiles=None)
    add_layer(m, d.communes, kind="communes")
    add_layer(m, d.flood, kind="flood")
    save_html(m, tmp_path / "m.html")
    layers = [g for g in m._children.values() if isinstance(g, folium.GeoJson)]
    packed = [g for g in layers if getattr(g, "_qpvgeo_packed", None)]
    assert len(packed) >= 2  # QPV and communes at least
    for g in packed:
        back = _pack.unpack_geojson(json.loads(g._qpvgeo_packed))
        assert _rings(back) == _rings(g.data)  # the same rounded coordinates, exactly
        # the Python object is never changed: tests and users still read GeoJSON there
        assert "coordinates" in g.data["features"][0]["geometry"]
        # the contours (not the properties) in at most half the characters
        packed_geoms = json.dumps([f["geometry"]["d"] for f in json.loads(g._qpvgeo_packed)[
            "features"]], separators=(",", ":"))
        assert len(packed_geoms) < 0.5 * len(json.dumps(_rings(g.data)))
    text = (tmp_path / "m.html").read_text()
    assert text.count("function qpvgeoUnpack") == 1


def test_packing_refuses_coordinates_finer_than_its_grid():
    from qpvgeo.maps import _pack

    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
          "geometry": {"type": "LineString", "coordinates": [[3.1234567, 50.6], [3.2, 50.7]]}}]}
    assert _pack.pack_geojson(fc, precision=5) is None  # would move a vertex: not packed
    assert _pack.unpack_geojson(_pack.pack_geojson(fc, precision=7)) == fc
    points = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
              "geometry": {"type": "Point", "coordinates": [3.1, 50.6]}}]}
    assert not _pack.packable(points)
    assert "</script>" not in _pack.script_json({"n": "</script><b>"})
    # a repaired contour can be a collection (polygon + stray line): packed member by member
    gc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
          "geometry": {"type": "GeometryCollection", "geometries": [
              {"type": "Polygon", "coordinates": [[[3.1, 50.6], [3.2, 50.6], [3.1, 50.7],
                                                   [3.1, 50.6]]]},
              {"type": "LineString", "coordinates": [[3.1, 50.6], [3.0, 50.5]]}]}}]}
    assert _pack.packable(gc)
    assert _pack.unpack_geojson(_pack.pack_geojson(gc, precision=4)) == gc


@pytest.mark.browser
def test_packed_contours_decode_in_the_page_to_the_same_coordinates(demo_page):
    opened, m = demo_page
    page = opened.page
    page.wait_for_selector("path.qpvgeo-qpv")
    layer = m.qpvgeo_qpv_layer
    assert getattr(layer, "_qpvgeo_packed", None)  # the QPV layer was written packed
    got = page.evaluate(
        f"() => {{ var out = []; {layer.get_name()}.eachLayer(function (l) {{"
        " out.push(l.feature.geometry.coordinates); }); return out; }")
    assert got == _rings(layer.data)
    assert opened.errors == []
