"""Static maps: files written, legend bounds = mapclassify bins, map furniture, baseline image.

The baseline image ``tests/baseline/demo_taux_pauvrete.png`` is the demo territory's
poverty-rate map at 60 dpi, drawn with matplotlib's default style. To regenerate it
after a deliberate change of the map design, run this file with
``QPVGEO_REGENERATE_BASELINE=1`` and commit the new image with the change.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mapclassify
import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

from qpvgeo.datasets import demo
from qpvgeo.errors import QpvgeoError, QpvgeoWarning, SchemaError
from qpvgeo.maps import _format
from qpvgeo.maps.static import (
    context_from_communes,
    dense_area,
    furniture_overlaps,
    plot_choropleth,
    plot_qpv,
    plot_symbols,
    save_figure,
)

BASELINE = Path(__file__).resolve().parent / "baseline" / "demo_taux_pauvrete.png"
#: RMS tolerance (0-255 grey levels) of the baseline comparison: absorbs anti-aliasing
#: differences between FreeType builds; a change of palette, of class or of layout
#: goes far beyond it (checked below with a different palette).
BASELINE_TOL = 3.0
NNBSP = "\u202f"


def _demo_frame():
    d = demo()
    return d, d.qpv.merge(d.indicators, left_on="code_qpv", right_index=True)


def _legend_texts(fig) -> list[str]:
    # the legend sits in the furniture column (axes 1), beside the map (axes 0)
    return [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def _bounds(label: str) -> tuple[float, float]:
    """Both bounds of "[a ; b[" (rounded classes) or "a – b" (mapclassify's)."""
    text = label.strip("[]")
    lo, hi = text.split(" ; ") if " ; " in text else text.split(_format.RANGE_SEP)
    return tuple(float(x.replace(NNBSP, "").replace(",", ".")) for x in (lo, hi))


def test_png_and_pdf_written_with_truetype_fonts(tmp_path):
    d, _ = _demo_frame()
    fig = plot_qpv(d.qpv, "taux_pauvrete", indicators=d.indicators, communes=d.communes, k=3,
                   title="Taux de pauvreté")
    written = save_figure(fig, tmp_path / "carte", dpi=120)
    assert [p.name for p in written] == ["carte.png", "carte.pdf"]
    img = matplotlib.image.imread(written[0])
    w, h = fig.get_size_inches()
    # figsize x dpi (to the pixel), no cropping
    assert abs(img.shape[0] - h * 120) <= 1 and abs(img.shape[1] - w * 120) <= 1
    pdf = written[1].read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    # TrueType (Type 42) fonts, never Type 3 (bitmap-like, refused by print shops)
    assert b"/FontType 3" not in pdf and b"/Subtype /Type3" not in pdf
    assert b"/CIDFontType2" in pdf or b"/TrueType" in pdf
    # Only the targets, no temporary file left beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["carte.pdf", "carte.png"]
    only_pdf = save_figure(fig, tmp_path / "seul.pdf")
    assert [p.name for p in only_pdf] == ["seul.pdf"]
    with pytest.raises(QpvgeoError, match="unsupported map format"):
        save_figure(fig, tmp_path / "carte.svg")


@pytest.mark.parametrize(
    ("scheme", "mc"),
    [("quantiles", mapclassify.Quantiles), ("natural_breaks", mapclassify.FisherJenks),
     ("equal_interval", mapclassify.EqualInterval)],
)
def test_legend_bounds_are_mapclassify_bins(scheme, mc):
    _, g = _demo_frame()
    y = g["revenu_disponible_median"].to_numpy(dtype=float)
    expected = mc(y, k=3)
    # unrounded: mapclassify's own bounds
    fig = plot_choropleth(g, "revenu_disponible_median", scheme=scheme, k=3, rounded=False)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == _format.class_labels(y.min(), expected.bins)
    # rounded (the default): the very classes of mapclassify, their bounds made round —
    # half-open, each between the largest value of a class and the smallest of the next
    fig = plot_choropleth(g, "revenu_disponible_median", scheme=scheme, k=3)
    labels = _legend_texts(fig)
    assert all(s.startswith("[") and s.endswith("[") for s in labels[:-1])
    assert labels[-1].endswith("]")
    assert _bounds(labels[0])[0] <= y.min() and _bounds(labels[-1])[1] >= y.max()
    edges = [_bounds(s)[0] for s in labels[1:]]
    ours = np.searchsorted(edges, y, side="right")
    theirs = np.asarray(expected.yb)
    # same partition of the QPV (class numbers may shift if mapclassify left one empty)
    assert len(set(zip(ours.tolist(), theirs.tolist(), strict=True))) == len(set(ours))
    assert all(float(e).is_integer() and e % 100 == 0 for e in edges)  # round euros


def test_no_more_classes_than_distinct_values():
    _, g = _demo_frame()
    g = g.assign(x=[40.0, 40.0, 45.0, 45.0])
    fig = plot_choropleth(g, "x", k=5)
    assert _legend_texts(fig) == ["[40 ; 45[", "[45 ; 45]"]  # two values, two classes
    assert fig.qpvgeo_classes.counts == [2, 2]
    fig = plot_choropleth(g.assign(x=41.3), "x", k=5)
    assert _legend_texts(fig) == ["[41,3 ; 41,3]"]


def test_user_bins_and_missing_values_in_legend():
    _, g = _demo_frame()
    g = g.assign(taux_emploi=g["taux_emploi"].where(g["code_qpv"] != "QN09904M"))
    fig = plot_choropleth(g, "taux_emploi", bins=[45, 50])
    assert _legend_texts(fig) == ["44,1 – 45,0", "45,0 – 50,0", "50,0 – 51,7", "n.d."]
    assert fig.qpvgeo_classes.n_missing == 1
    with pytest.raises(SchemaError, match="'chomage'"):
        plot_choropleth(g, "chomage")


def test_map_furniture_never_overlaps():
    d, g = _demo_frame()
    region = d.communes.dissolve()
    fig = plot_qpv(d.qpv, "taux_pauvrete", indicators=d.indicators, communes=d.communes,
                   region=region, title="Titre", k=2,
                   sources="ANCT, QPV 2024 ; Insee, Filosofi 2021 ; une longue ligne de "
                           "sources qui passe à la ligne " * 3)
    gids = {a.get_gid() for a in fig.findobj() if a.get_gid()}
    assert {"legend", "north-arrow", "north-label", "scalebar", "scalebar-label", "sources",
            "title"} <= gids
    assert furniture_overlaps(fig) == []
    assert [t.get_text() for t in fig.texts if t.get_gid() == "title"] == ["Titre"]
    assert fig.axes[1].get_legend().get_title().get_text().startswith("Taux de pauvreté")
    assert fig.axes[-1].get_title() == "Localisation"  # the inset
    # The check can fail: a legend put back over the data is caught.
    fig.axes[1].get_legend().set_bbox_to_anchor((-1.2, 0.6))
    assert ("data", "legend") in furniture_overlaps(fig)


def test_page_follows_the_extent_and_names_few_qpv():
    d, g = _demo_frame()
    x0, y0, x1, y1 = g.total_bounds
    wide = plot_choropleth(g, "taux_pauvrete", extent=(x0, y0, x1 + 3 * (x1 - x0), y1))
    tall = plot_choropleth(g, "taux_pauvrete", extent=(x0, y0, x1, y1 + 3 * (y1 - y0)))
    assert wide.get_size_inches()[0] == tall.get_size_inches()[0]  # one page width
    assert tall.get_size_inches()[1] > wide.get_size_inches()[1] + 2
    # four QPV: each named on the map
    names = {t.get_text() for t in wide.axes[0].texts}
    assert set(d.qpv["nom_qpv"]) <= names


def test_counts_as_proportional_symbols():
    d, g = _demo_frame()
    ctx = context_from_communes(d.communes, population=d.commune_population, n_cities=2)
    fig = plot_symbols(g, "population", context=ctx, title="Population")
    from matplotlib.collections import PathCollection

    sc = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)][0]
    sizes = sc.get_sizes()
    pop = np.sort(g["population"].to_numpy(dtype=float))[::-1]
    # circle areas (points²) proportional to the values, largest first
    np.testing.assert_allclose(sizes / sizes.max(), pop / pop.max())
    assert fig.qpvgeo_symbols["values"] == [20000.0, 5000.0, 1000.0]
    assert furniture_overlaps(fig) == []
    # the two most populous communes are named
    top = d.commune_population.nlargest(2, "population")["nom_commune"]
    assert set(top) <= {t.get_text() for t in fig.axes[0].texts}


def _baseline_figure(cmap: str = "YlOrRd"):
    d, _ = _demo_frame()
    with matplotlib.style.context("default"):
        fig = plot_qpv(d.qpv, "taux_pauvrete", indicators=d.indicators, communes=d.communes,
                       k=3, cmap=cmap, title="Taux de pauvreté — territoire de démonstration")
    return fig


def test_baseline_image(tmp_path):
    actual = tmp_path / "demo_taux_pauvrete.png"
    with matplotlib.style.context("default"):
        save_figure(_baseline_figure(), actual, dpi=60)
    if os.environ.get("QPVGEO_REGENERATE_BASELINE") == "1":
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_bytes(actual.read_bytes())
    assert BASELINE.is_file(), f"baseline missing: {BASELINE}"
    assert compare_images(str(BASELINE), str(actual), tol=BASELINE_TOL) is None
    # The comparison can fail: the same map in another palette is far out of tolerance.
    other = tmp_path / "blues.png"
    with matplotlib.style.context("default"):
        save_figure(_baseline_figure("Blues"), other, dpi=60)
    result = compare_images(str(BASELINE), str(other), tol=BASELINE_TOL, in_decorator=True)
    assert result is not None and result["rms"] > 3 * BASELINE_TOL


# -- real files ---------------------------------------------------------------------------


def test_real_maps(shared_data, tmp_path):
    from qpvgeo.readers import (
        read_communes,
        read_industrial_sites,
        read_qpv,
        read_qpv_indicators,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)  # the readers report their repairs
        q2024 = read_qpv(
            shared_data / "qpv2024_contours_simplified" / "qpv2024_hdf_simplified.geojson")
        ind = read_qpv_indicators(shared_data / "qpv2024_indicators_sigville" / "analyse_qpv.csv")
        q2015 = read_qpv(shared_data / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson")
        occ = read_qpv(shared_data / "qpv2015_occitanie_hackaviz" / "qp.geojson")
        communes = read_communes(shared_data / "communes_hdf" / "communes_hdf_cog2025.gpkg")
        seveso = read_industrial_sites(shared_data / "icpe_hdf" / "seveso_sh_prio_ied_hdf.gpkg")
    fig = plot_qpv(q2024, "taux_emploi", indicators=ind, scheme="quantiles", k=5,
                   region=communes.dissolve(), title="Taux d'emploi, QPV 2024",
                   points=seveso, points_label="Seveso seuil haut", extent=communes,
                   rounded=False)
    assert furniture_overlaps(fig) == []
    # SOURCE.md of icpe_hdf: 49 upper-tier Seveso sites, all in the region.
    assert _legend_texts(fig)[-1] == "Seveso seuil haut (49)"
    g = q2024.merge(ind[["taux_emploi"]], left_on="code_qpv", right_index=True)
    y = g["taux_emploi"].dropna().to_numpy()
    # SOURCE.md of analyse_qpv.csv: all 204 HdF QPV have an employment rate, 25.4 to 57.3.
    assert y.size == 204 and y.min() == 25.4 and y.max() == 57.3
    expected = mapclassify.Quantiles(y, k=5)
    assert _legend_texts(fig)[:-1] == _format.class_labels(25.4, expected.bins)
    assert [_bounds(s)[1] for s in _legend_texts(fig)[:-1]] == list(np.round(expected.bins, 1))
    png, pdf = save_figure(fig, tmp_path / "hdf2024", dpi=150)
    assert png.stat().st_size > 50_000 and pdf.read_bytes().startswith(b"%PDF-")
    fig15 = plot_qpv(q2015, communes=communes)
    assert _legend_texts(fig15) == ["QPV"]
    assert "géographie 2015" in [t.get_text() for t in fig15.texts][0]
    polys = fig15.axes[0].collections[-1]
    assert len(polys.get_paths()) >= 199  # one path (or more) per QPV
    fig_occ = plot_qpv(occ)
    assert len(fig_occ.axes[0].collections[-1].get_paths()) >= len(occ)


def test_points_listed_with_their_count_in_the_extent():
    d, g = _demo_frame()
    # Around the QPV only: the demo's sites all lie beyond the QPV's bounding box.
    fig = plot_choropleth(g, "taux_emploi", k=2, points=d.sites, points_label="Sites")
    assert _legend_texts(fig)[-1] == "Sites (0)"
    # Over the whole territory (the communes): all of them.
    x0, y0, x1, y1 = d.communes.total_bounds
    xy = d.sites.geometry.get_coordinates()
    assert bool(((xy.x > x0) & (xy.x < x1) & (xy.y > y0) & (xy.y < y1)).all())
    fig = plot_choropleth(g, "taux_emploi", k=2, points=d.sites, points_label="Sites",
                          extent=d.communes)
    assert _legend_texts(fig)[-1] == f"Sites ({len(d.sites)})"
    xlim = fig.axes[0].get_xlim()
    assert xlim[0] < x0 and xlim[1] > x1


def test_dense_area_gets_an_inset_that_overlaps_nothing():
    import geopandas as gpd
    from shapely.geometry import Point

    # 12 QPV packed within 5 km (a metropolis) and 6 spread over 200 km
    pts = [Point(700_000 + 400 * i, 7_050_000 + 300 * (i % 4)) for i in range(12)]
    pts += [Point(600_000 + 40_000 * i, 6_900_000 + 25_000 * (i % 3)) for i in range(6)]
    g = gpd.GeoDataFrame({"nom_qpv": [f"Q{i}" for i in range(18)],
                          "population": [5000.0] * 12 + [1500.0] * 6},
                         geometry=[p.buffer(150) for p in pts], crs=2154)
    zoom = dense_area(g, "population")
    assert zoom is not None
    x0, y0, x1, y1 = zoom
    assert x0 < 700_000 and x1 > 700_000 + 400 * 11 and x1 - x0 < 20_000
    fig = plot_symbols(g, "population", zoom=zoom, zoom_label="Zoom", title="Titre",
                       sources="essai")
    assert any(a.get_gid() == "zoom" for a in fig.axes)
    assert furniture_overlaps(fig) == []
