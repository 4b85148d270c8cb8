"""The INSEE grid reader: layouts (Filosofi 2019, 2021; RP 2021 1 km), both CSV engines,
identifiers (fast path, lattice), and the frame it returns on the real files.

The 2021 layouts are not in ``../shared/data``: the files below are BUILT here, small and
hand-made, in the layout INSEE's 2021 releases use as documented by their users
(``Filosofi2021_carreaux_200m_csv.zip`` / ``carreaux_200m_met.csv``: ``,``-separated,
lower-case names ``idcar_200m,idcar_1km,idcar_nat,i_est_200,i_est_1km,lcog_geo,ind,men,
men_pauv,…,ind_inc``, no ``groupe`` column, ``i_est_200`` = 1 on imputed squares;
``rp2021_carreaux_1km``: ``pop``, ``pop0014``, ``pop1564``, ``pop65p``, ``popf``, ``poph``…,
``carreau_traite_secret``). Nothing in them is real.
"""

from __future__ import annotations

import importlib.util
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from qpvgeo.errors import DataFormatError, QpvgeoWarning
from qpvgeo.interpolate import grid_population
from qpvgeo.readers import grid as grid_module
from qpvgeo.readers.grid import cell_squares, parse_cell_ids, read_filosofi_grid

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None

# -- built files in the 2021 layouts ------------------------------------------------------

FILOSOFI_2021_HEADER = (
    "idcar_200m,idcar_1km,idcar_nat,i_est_200,i_est_1km,lcog_geo,ind,men,men_pauv,men_1ind,"
    "men_5ind,men_prop,men_fmp,ind_snv,men_surf,men_coll,men_mais,log_av45,log_45_70,"
    "log_70_90,log_ap90,log_inc,log_soc,ind_0_3,ind_4_5,ind_6_10,ind_11_17,ind_18_24,"
    "ind_25_39,ind_40_54,ind_55_64,ind_65_79,ind_80p,ind_inc"
)


def _filosofi_2021_row(north, east, imputed, ind, men):
    rest = ",".join(["0.5"] * 26)
    return (f"CRS3035RES200mN{north}E{east},CRS3035RES1000mN{north // 1000 * 1000}E"
            f"{east // 1000 * 1000},CRS3035RES1000mN{north // 1000 * 1000}E"
            f"{east // 1000 * 1000},{imputed},0,59350,{ind},{men},{rest}")


def test_filosofi_2021_layout_and_imputed_flag(tmp_path):
    f = tmp_path / "carreaux_200m_met.csv"  # BUILT, in the 2021 layout
    f.write_text(FILOSOFI_2021_HEADER + "\n"
                 + _filosofi_2021_row(3090000, 3810000, 0, 250.5, 101.2) + "\n"
                 + _filosofi_2021_row(3090200, 3810000, 1, 6, 2.5) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", QpvgeoWarning)  # every column is INSEE's: no warning
        g = read_filosofi_grid(f)
    assert len(g) == 2 and "groupe" not in g.columns
    assert g["ind"].tolist() == [250.5, 6.0]
    assert g["men"].tolist() == [101.2, 2.5]
    # the imputed-square flag is kept, as an integer column
    assert str(g["i_est_200"].dtype) == "Int64"
    assert g["i_est_200"].tolist() == [0, 1]
    assert g["lcog_geo"].tolist() == ["59350", "59350"]
    assert g["y_laea"].tolist() == [3090000, 3090200]
    assert g.attrs["cell_size"] == 200.0
    assert g.to_crs(3035).area.tolist() == pytest.approx([40000.0, 40000.0], rel=1e-9)


def test_rp_2021_1km_layout(tmp_path):
    f = tmp_path / "carreaux_1km_met.csv"  # BUILT, in the RP 2021 1 km layout
    f.write_text(
        "idcar_1km,pop,pop0014,pop1564,pop65p,popf,poph,popmigrfr,carreau_traite_secret,"
        "c21_act1564\n"
        "CRS3035RES1000mN3090000E3810000,1200,240,760,200,610,590,80,0,520\n"
        "CRS3035RES1000mN3090000E3811000,14,3,9,2,7,7,1,1,6\n"
    )
    g = read_filosofi_grid(f)
    assert g["pop"].tolist() == [1200.0, 14.0]
    assert g["pop65p"].tolist() == [200.0, 2.0]
    assert g["carreau_traite_secret"].tolist() == [0, 1]
    assert g.attrs["cell_size"] == 1000.0
    assert g["x_laea"].tolist() == [3810000, 3811000]
    assert g.to_crs(3035).area.tolist() == pytest.approx([1e6, 1e6], rel=1e-9)
    # grid_population uses the 1 km squares: a zone on the east half of the first square
    zone = gpd.GeoDataFrame(geometry=[box(3810500, 3090000, 3811000, 3091000)], crs=3035)
    assert grid_population(g, zone, columns=["pop"])["pop"].tolist() == pytest.approx([600.0])
    # ... and from the identifiers alone (a frame held without the corners)
    plain = pd.DataFrame({"idcar_1km": g["idcar_1km"], "pop": g["pop"]})
    assert grid_population(plain, zone, columns=["pop"])["pop"].tolist() == pytest.approx([600.0])


# -- engines, identifiers -----------------------------------------------------------------


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed: one engine only")
def test_both_engines_give_the_same_frame(tmp_path):
    # R's write.csv2: ';', decimal commas, quotes, a row-name column, secrecy markers,
    # an empty value, a column that is not INSEE's (dropped with a warning), a BOM
    f = tmp_path / "x.csv"
    f.write_text(
        '\ufeff"";"idcar_200m";"ind";"men";"men_pauv";"i_est_200";"lcog_geo";"population"\n'
        '"1";"CRS3035RES200mN2890400E3767200";12,5;5;0,5;1;"33063";900\n'
        '"2";"CRS3035RES200mN2890600E3767200";40;s;;0;"33063";900\n'
        '"3";"CRS3035RES200mN2890800E3767200";7,25;nd;1;0;"";900\n', encoding="utf-8")
    with pytest.warns(QpvgeoWarning, match="population"):
        fast = read_filosofi_grid(f)
    with pytest.warns(QpvgeoWarning, match="population"):
        slow = read_filosofi_grid(f, engine="pandas")
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["men"].isna().tolist() == [False, True, True]
    assert fast["ind"].tolist() == [12.5, 40.0, 7.25]
    assert fast["lcog_geo"].isna().tolist() == [False, False, True]
    # a file pyarrow cannot read as plain numbers (a U+202F thousands separator) is read
    # by pandas, whose _to_number understands it
    f.write_text('"idcar_200m";"ind_snv"\n"CRS3035RES200mN2890400E3767200";"1\u202f234,5"\n',
                 encoding="utf-8")
    assert read_filosofi_grid(f)["ind_snv"].tolist() == [1234.5]


def test_identifier_fast_path_equals_the_pattern(tmp_path):
    rng = np.random.default_rng(1)
    north = rng.integers(100, 60000, 500) * 200  # 5 to 8 digits: several layouts
    east = rng.integers(100, 60000, 500) * 200
    ids = pd.Series([f"CRS3035RES200mN{n}E{e}" for n, e in zip(north, east, strict=True)])
    for s in (ids, ids.astype("string"), ids.astype(object)):
        c = parse_cell_ids(s)
        assert c["x_laea"].tolist() == east.tolist()
        assert c["y_laea"].tolist() == north.tolist()
        assert (c["res"] == 200).all()
    # the slow path (a stray space) gives the same numbers
    c = parse_cell_ids(" " + ids)
    assert c["x_laea"].tolist() == east.tolist()
    assert grid_module._parse_fixed(" " + ids) is None


def test_off_lattice_identifiers_name_the_file_and_the_identifiers(tmp_path):
    # a corner that is not a multiple of 200 m is not one of INSEE's squares (a typo, or
    # a centre written instead of the corner): an error, never a shifted square
    a, b = tmp_path / "59.csv", tmp_path / "62.csv"
    a.write_text('"idcar_200m";"ind"\n"CRS3035RES200mN3090000E3810000";3\n')
    b.write_text('"idcar_200m";"ind"\n"CRS3035RES200mN3090100E3810000";3\n'
                 '"CRS3035RES200mN3090400E3810050";4\n"CRS3035RES200mN3090600E3810000";5\n')
    with pytest.raises(DataFormatError, match=r"2 identifier\(s\) off INSEE's lattice") as e:
        read_filosofi_grid(b)
    assert "62.csv" in str(e.value) and "CRS3035RES200mN3090100E3810000" in str(e.value)
    assert "CRS3035RES200mN3090400E3810050" in str(e.value)
    with pytest.raises(DataFormatError, match="off INSEE's lattice") as e:
        read_filosofi_grid(tmp_path)
    assert "62.csv" in str(e.value) and "59.csv" not in str(e.value).split("(in")[1]
    # grid_population on a frame holding such identifiers refuses it too
    plain = pd.DataFrame({"idcar_200m": ["CRS3035RES200mN3090100E3810000"], "ind": [3.0]})
    zone = gpd.GeoDataFrame(geometry=[box(3810000, 3090000, 3810200, 3090200)], crs=3035)
    with pytest.raises(DataFormatError, match="lattice"):
        grid_population(plain, zone)


# -- the frame on the real files -----------------------------------------------------------

REAL = {
    # folder or file, squares (SOURCE.md of each folder)
    "filosofi_200m_2019_communes_sample": 14341,
    "filosofi_200m_bordeaux_metropole/carreaux_200m_bm.gpkg": 6735,
}


@pytest.mark.real_data
@pytest.mark.parametrize("rel", sorted(REAL))
def test_real_files_frame_is_unchanged(shared_data, rel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        g = read_filosofi_grid(shared_data / rel)
        ref = read_filosofi_grid(shared_data / rel, engine="pandas")
    assert len(g) == REAL[rel]
    # exact: both engines parse the same decimal text into the nearest float64
    pd.testing.assert_frame_equal(g, ref, check_exact=True)
    assert shapely.equals_exact(g.geometry.values, ref.geometry.values, 0).all()
    # the frame's contract: identifiers as text, flags as Int64, values float64, corners
    # int64, the square in Lambert-93, the side in attrs
    for col in g.columns:
        dtype = g[col].dtype
        if col in ("idcar_200m", "idcar_1km", "idcar_nat", "idcar_2010", "lcog_geo", "depcom"):
            assert isinstance(dtype, pd.StringDtype), col
        elif col in ("i_est_200", "i_est_1km", "i_est_cr", "i_pauv", "groupe"):
            assert str(dtype) == "Int64", col
        elif col in ("x_laea", "y_laea"):
            assert dtype == np.int64, col
        elif col != "geometry":
            assert dtype == np.float64, col
    assert list(g.columns[-3:]) == ["x_laea", "y_laea", "geometry"]
    assert g.crs.to_epsg() == 2154 and g.attrs == {"cell_size": 200.0}
    assert g["idcar_200m"].is_unique
    # squares rebuilt from the identifiers: 200 m squares above the corner in EPSG:3035
    assert g.to_crs(3035).area.to_numpy() == pytest.approx(40000.0, rel=1e-6)


# -- the national-scale fast paths (issue 15) ------------------------------------------------


@pytest.mark.real_data
@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed: one engine only")
def test_arrow_reader_without_squares_equals_the_pandas_reader(shared_data):
    # the geometry=False path (the national one): the arrow table converted column by
    # column, identifiers not copied when there is nothing to strip, duplicates checked
    # without hashing; same frame as pandas' reader, dtypes and values exact
    folder = shared_data / "filosofi_200m_2019_communes_sample"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        for f in sorted(folder.glob("*.csv"))[:3] + [folder]:
            fast = read_filosofi_grid(f, geometry=False)
            slow = read_filosofi_grid(f, geometry=False, engine="pandas")
            pd.testing.assert_frame_equal(fast, slow, check_exact=True)
            assert fast.attrs == slow.attrs == {"cell_size": 200.0}
            assert not isinstance(fast, gpd.GeoDataFrame)


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed: one engine only")
def test_text_columns_are_stripped_only_when_needed(tmp_path):
    # spaces, a tab, a no-break space (non-ASCII) around the text values: stripped by
    # both engines; the in-place check must send every such column to str.strip
    f = tmp_path / "x.csv"
    f.write_text('"idcar_200m";"lcog_geo";"idcar_1km";"ind"\n'
                 '"CRS3035RES200mN2890400E3767200";" 33063";"CRS3035RES1000mN2890000E3767000";1\n'
                 '"CRS3035RES200mN2890600E3767200";"33063\t";"";2\n'
                 '"CRS3035RES200mN2890800E3767200";"\u00a033063";'
                 '"CRS3035RES1000mN2890000E3767000";3\n', encoding="utf-8")
    fast = read_filosofi_grid(f, geometry=False)
    slow = read_filosofi_grid(f, geometry=False, engine="pandas")
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast["lcog_geo"].tolist() == ["33063"] * 3
    assert fast["idcar_1km"].isna().tolist() == [False, True, False]
    clean = pd.Series(["a b", None, "", "c"], dtype="string")
    assert grid_module._stripped(clean) is clean  # nothing to strip: the same column
    for bad in (" a", "a ", "a\u202f", "\x1ca"):
        out = grid_module._stripped(pd.Series(["x", bad], dtype="string"))
        assert out.tolist() == ["x", bad.strip()], repr(bad)


def test_duplicate_squares_are_found_by_every_path():
    # _all_distinct: sorted keys (one pass), a byte per square of the extent, and a
    # sparse extent left to hashing; each must see a repeated square
    def corners(x, y):
        return pd.DataFrame({"x_laea": np.asarray(x, np.int64), "y_laea": np.asarray(y, np.int64)})

    sorted_ids = corners([3767200, 3767400, 3767200], [2890400, 2890400, 2890600])
    assert grid_module._all_distinct(sorted_ids, 200.0)
    shuffled = corners([3767400, 3767200, 3767200], [2890600, 2890400, 2890600])
    assert grid_module._all_distinct(shuffled, 200.0)
    repeated = corners([3767400, 3767200, 3767400], [2890600, 2890400, 2890600])
    assert not grid_module._all_distinct(repeated, 200.0)
    # 2 squares 40,000 km apart: too sparse for a bitmap, "maybe" (hashed by the caller)
    far = corners([0, 4_000_000_000], [2890600, 0])
    assert not grid_module._all_distinct(far, 200.0)


def test_squares_built_by_blocks_in_threads_are_bit_identical(monkeypatch):
    # the squares built by blocks in two threads have the coordinates of one pyproj call
    from pyproj import Transformer

    monkeypatch.setattr(grid_module, "_SQUARES_BLOCK", 7_000)  # 36 blocks, 2 threads
    rng = np.random.default_rng(3)
    x = rng.integers(15_000, 21_000, 250_000) * 200.0
    y = rng.integers(10_000, 16_000, 250_000) * 200.0
    sq = cell_squares(x, y)
    assert len(sq) == len(x) and sq.crs.to_epsg() == 2154
    assert len(cell_squares([], [])) == 0
    tr = Transformer.from_crs(3035, 2154, always_xy=True)
    cx, cy = tr.transform(np.repeat(x, 4) + np.tile([0, 200, 200, 0], len(x)),
                          np.repeat(y, 4) + np.tile([0, 0, 200, 200], len(y)))
    xy = shapely.get_coordinates(sq.values).reshape(len(x), 5, 2)
    assert np.array_equal(xy[:, :4, 0].ravel(), cx) and np.array_equal(xy[:, :4, 1].ravel(), cy)
    assert np.array_equal(xy[:, 4], xy[:, 0])
