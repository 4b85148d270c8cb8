"""Environmental layers, from the publishers' layouts to canonical frames (EPSG:2154).

Layouts read (column names matched case-insensitively):

* industrial sites: Géorisques ICPE extracts (``code_aiot``, ``nom``, ``seveso`` /
  ``lib_seveso``, ``x``/``y`` + ``code_epsg`` or ``lon``/``lat``), Géorisques/IREP
  establishment tables (``identifiant``, ``nom_etablissement``, ``latitude``,
  ``longitude``), as CSV or GeoPackage;
* flood extents: COVADIS "TRI surfaces inondables" layers ``n_tri_<tri>_inondable_s_<dep>``
  (``scenario`` ``01For`` / ``02Moy`` / ``03Mcc`` / ``04Fai``), as vector files or the
  opendatasoft CSV export (``;``, geometry as GeoJSON text in ``geo_shape``);
* heat sensitivity: IRIS layers with ``code_iris`` and a score (``heat_score``
  High/Medium/Low of the Cerema-LCZ-derived layers), optionally joined to a score CSV
  and to an IRIS population CSV (``IRIS``, ``total_population``);
* air quality: Atmo annual station means in long format (``code_station``, ``nom_poll``,
  ``valeur``, ``date_debut``, ``statut_valid``, ``x_l93``/``y_l93``), wide station tables,
  and LCSQA station lists (``code``, ``name``, ``lon``, ``lat``, ``pollutants``);
* green spaces: Toulouse (``intitule``, ``categorie``) and Montpellier (``LIBEL``,
  ``CLASS``) open-data polygons;
* noise: CNIG strategic noise maps ``N_BRUIT_ZBRD_INFRA_<R|F>_<A|C>_<LD|LN>_S_<dep>``
  (Latin-1 DBF, ``TYPESOURCE``, ``INDICETYPE``, ``LEGENDE``), END agglomeration contours
  ``NoiseContours_<source>InAgglomeration_<Lden|Lnight>`` (``category`` ``Lden5559``…)
  and Bordeaux Métropole's ``<route|fer>_depassement_de_seuil_<Lden|Lnight>``
  (``category`` ``[62,66]``, ``>=72``…, EPSG:3945).

Every reader returns the canonical columns of :mod:`qpvgeo.schema` in EPSG:2154.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, QpvgeoWarning, SchemaError
from qpvgeo.readers._common import (
    PathLike,
    find_column,
    read_table,
    read_vector,
    repair_polygons,
    require_crs,
    resolve_input,
    to_number,
)

__all__ = [
    "read_air_stations",
    "read_flood_extents",
    "read_green_spaces",
    "read_heat_iris",
    "read_industrial_sites",
    "read_noise_map",
]

_TABLES = frozenset({".csv", ".txt", ".tsv"})

# Column names of the hackathon ICPE extracts, IREP etablissements.csv and the
# Géorisques ICPE API (camelCase, compared in lower case).
SITE_CODE_COLUMNS = (
    "code_site",
    "code_aiot",
    "codeaiot",
    "identifiant",
    "code_s3ic",
    "code_icpe",
    "id_aiot",
)
SITE_NAME_COLUMNS = (
    "nom_site",
    "nom",
    "nom_etablissement",
    "raison_sociale",
    "raisonsociale",
    "nom_ets",
)
SEVESO_COLUMNS = ("lib_seveso", "statut_seveso", "statutseveso", "seveso", "regime_seveso")
COMMUNE_COLUMNS = ("code_commune", "code_insee", "insee_com", "codeinsee")


# -- shared --------------------------------------------------------------------------------


def _warn(message: str) -> None:
    warnings.warn(message, QpvgeoWarning, stacklevel=3)


def set_canonical_crs(frame: gpd.GeoDataFrame, *, crs: object | None, path: Path):
    """Apply ``crs`` when the file declares none, then reproject to EPSG:2154."""
    return schema.to_canonical_crs(require_crs(frame, crs=crs, path=path), what=str(path))


def _clean_geometries(frame: gpd.GeoDataFrame, *, what: str, polygons: bool) -> gpd.GeoDataFrame:
    """Drop features without geometry and repair invalid polygons, warning with counts.

    Unlike QPV, whose codes must survive, a layer's feature without geometry carries
    nothing to measure: it is dropped (and counted).
    """
    geoms = frame.geometry.array
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        _warn(f"{what}: dropped {int(missing.sum())} feature(s) without geometry")
        frame = frame[~missing]
    if polygons and len(frame):
        frame = repair_polygons(frame, what=what, report_empty=False)
        frame = frame[~shapely.is_empty(frame.geometry.array)]
    return frame


def _points_from_table(table: pd.DataFrame, *, path: Path, crs: object | None) -> gpd.GeoDataFrame:
    """Points from coordinate columns: x/y (+ code_epsg), x_l93/y_l93, or lon/lat."""
    cols = table.columns
    x, y = find_column(cols, ["x_l93", "x_lambert93"]), find_column(cols, ["y_l93", "y_lambert93"])
    src_crs: object = "EPSG:2154"
    if x is None or y is None:
        x, y = (
            find_column(cols, ["x", "coordonnees_x", "coordonnee_x", "coord_x"]),
            find_column(cols, ["y", "coordonnees_y", "coordonnee_y", "coord_y"]),
        )
        epsg_col = find_column(cols, ["code_epsg", "epsg"])
        src_crs = crs
        if epsg_col is not None:
            codes = to_number(table[epsg_col]).dropna().unique()
            if len(codes) > 1:
                raise DataFormatError(
                    f"{path}: column {epsg_col!r} mixes CRS {sorted(codes.tolist())}; "
                    "split the file by CRS"
                )
            if len(codes):
                src_crs = f"EPSG:{int(codes[0])}"
    if x is None or y is None or src_crs is None:
        x, y = (
            find_column(cols, ["lon", "longitude", "x_wgs84"]),
            find_column(cols, ["lat", "latitude", "y_wgs84"]),
        )
        src_crs = "EPSG:4326"
    if x is None or y is None:
        raise SchemaError(
            f"{path}: no coordinate columns (x_l93/y_l93, x/y with code_epsg, lon/lat or "
            f"longitude/latitude); columns present: {list(cols)}"
        )
    xs, ys = to_number(table[x]), to_number(table[y])
    missing = xs.isna() | ys.isna()
    if missing.any():
        _warn(f"{path}: dropped {int(missing.sum())} row(s) without coordinates ({x}, {y})")
    table = table[~missing.to_numpy()]
    geoms = shapely.points(xs[~missing].to_numpy(), ys[~missing].to_numpy())
    frame = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=geoms, crs=src_crs)
    return schema.to_canonical_crs(frame, what=str(path))


def _read_any(path: Path, *, header_candidates: Sequence[str], crs: object | None, layer=None):
    """(frame, is_table): tables keep string cells, vectors come back in EPSG:2154."""
    if path.suffix.lower() in _TABLES:
        return read_table(path, header_candidates=header_candidates), True
    frame = read_vector(path, layer=layer)
    return set_canonical_crs(frame, crs=crs, path=path), False


# -- industrial sites -----------------------------------------------------------------------


def _seveso_level(values: pd.Series, *, path: Path, column: str) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    out = out.mask(text.str.contains("haut", na=False) | text.isin(["sh", "ah"]), "haut")
    out = out.mask(text.str.contains("bas", na=False) | text.isin(["sb"]), "bas")
    out = out.mask(text.str.contains("non", na=False) | text.isin(["ns", "0"]), "non")
    unknown = text.notna() & (text != "") & out.isna()
    if unknown.any():
        raise DataFormatError(
            f"{path}: column {column!r} holds Seveso values {sorted(text[unknown].unique())[:10]} "
            "that are not 'seuil haut', 'seuil bas' or 'non Seveso'"
        )
    return out


def read_industrial_sites(
    path: PathLike, *, layer: str | None = None, crs: object | None = None
) -> gpd.GeoDataFrame:
    """Read a Géorisques ICPE / Seveso or IREP establishment table (CSV or GeoPackage).

    Parameters
    ----------
    path
        CSV with coordinates (``x``/``y`` + ``code_epsg``, ``x_l93``/``y_l93``, or
        ``lon``/``lat`` / ``longitude``/``latitude``) or a vector file (GeoPackage…).
    layer
        Layer of a multi-layer file.
    crs
        CRS of ``x``/``y`` when the table has no ``code_epsg`` column, or of a vector file
        declaring none.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_site`` (Géorisques AIOT ids zero-padded to 10 characters: IREP tables
        strip the leading zeros, ``7000955`` -> ``0007000955``), ``nom_site``,
        ``seveso`` (``haut`` / ``bas`` / ``non``; NA when the source has no Seveso field,
        as IREP), ``code_commune`` (when given), point geometry in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "sites.csv"
    >>> _ = f.write_text("code_aiot,nom,lib_seveso,x,y,code_epsg\\n"
    ...                  "0003800615,INDACHLOR,Seveso seuil haut,646395.24,7100902.73,2154\\n")
    >>> read_industrial_sites(f)[["code_site", "seveso"]].values.tolist()
    [['0003800615', 'haut']]
    """
    path = resolve_input(path)
    frame, is_table = _read_any(path, header_candidates=SITE_CODE_COLUMNS, crs=crs, layer=layer)
    if is_table:
        frame = _points_from_table(frame, path=path, crs=crs)
    cols = frame.columns
    code = find_column(cols, SITE_CODE_COLUMNS)
    name = find_column(cols, SITE_NAME_COLUMNS)
    if code is None and name is None:
        raise SchemaError(
            f"{path}: no site code ({list(SITE_CODE_COLUMNS)}) or name column "
            f"({list(SITE_NAME_COLUMNS)}); columns present: {list(cols)}"
        )
    out = pd.DataFrame(index=frame.index)
    if code is not None:
        codes = frame[code].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
        digits = codes.str.fullmatch(r"\d{1,10}").fillna(False)
        out[schema.CODE_SITE] = codes.mask(digits, codes.str.zfill(10))
    else:
        out[schema.CODE_SITE] = pd.Series(pd.NA, index=frame.index, dtype="string")
    out[schema.NOM_SITE] = (
        frame[name].astype("string").str.strip() if name else pd.Series(pd.NA, dtype="string")
    )
    # The label ("Seveso seuil haut") is unambiguous; the bare code column is not.
    sev = find_column(cols, SEVESO_COLUMNS)
    if sev is not None:
        out[schema.SEVESO] = _seveso_level(frame[sev], path=path, column=sev)
    else:
        out[schema.SEVESO] = pd.Series(pd.NA, index=frame.index, dtype="string")
    com = find_column(cols, COMMUNE_COLUMNS)
    if com is not None:
        out[schema.CODE_COMMUNE] = schema.normalise_commune_code(frame[com])
    result = gpd.GeoDataFrame(out, geometry=frame.geometry.array, crs=schema.CRS)
    return _clean_geometries(result, what=str(path), polygons=False)


# -- flood ------------------------------------------------------------------------------------

_SCENARIOS = {
    "01for": "frequent",
    "for": "frequent",
    "fort": "frequent",
    "forte": "frequent",
    "frequent": "frequent",
    "haute": "frequent",
    "02moy": "moyen",
    "moy": "moyen",
    "moyen": "moyen",
    "moyenne": "moyen",
    "03mcc": "moyen_cc",
    "mcc": "moyen_cc",
    "04fai": "extreme",
    "fai": "extreme",
    "faible": "extreme",
    "extreme": "extreme",
    "rare": "extreme",
}
_SCENARIO_IN_NAME = re.compile(r"(01for|02moy|03mcc|04fai)", re.IGNORECASE)


def _scenario(values: pd.Series, *, path: Path) -> pd.Series:
    key = values.astype("string").str.strip().str.lower().str.replace("é", "e")
    out = key.map(lambda v: _SCENARIOS.get(v, pd.NA) if isinstance(v, str) else pd.NA)
    bad = sorted(set(key[out.isna() & key.notna()].unique()))
    if bad:
        raise DataFormatError(
            f"{path}: unknown flood scenarios {bad}; expected the COVADIS codes 01For, 02Moy, "
            "03Mcc, 04Fai (or frequent / moyen / extreme)"
        )
    return out.astype("string")


def read_flood_extents(
    path: PathLike, *, scenario: str | None = None, layer: str | None = None
) -> gpd.GeoDataFrame:
    """Read TRI flood extents (Directive Inondation, COVADIS ``n_tri_*_inondable_s_*``).

    Scenario codes become ``frequent`` (``01For``, high probability, ~10-year),
    ``moyen`` (``02Moy``, ~100-year), ``moyen_cc`` (``03Mcc``, medium with climate change)
    and ``extreme`` (``04Fai``, low probability, ~1000-year). Without a ``scenario``
    column the code is taken from the file name (``…_01for_…``) or from ``scenario=``.
    Features with an empty geometry are dropped (with a warning); invalid polygons are
    repaired.

    Parameters
    ----------
    path
        GeoJSON / GeoPackage / shapefile, or the opendatasoft CSV export (``;``,
        ``geo_shape`` GeoJSON text, EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        ``scenario``, ``id_tri`` (when given), polygons in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "n_tri_lill_inondable_s_059.csv"
    >>> ring = "[[3.1, 50.6], [3.2, 50.6], [3.2, 50.7], [3.1, 50.6]]"
    >>> shape = '"{""type"": ""Polygon"", ""coordinates"": [' + ring + ']}"'
    >>> _ = f.write_text("geo_shape;scenario;id_tri\\n" + shape + ";02Moy;FRA_TRI_LILL\\n")
    >>> read_flood_extents(f)["scenario"].tolist()
    ['moyen']
    """
    path = resolve_input(path)
    if path.suffix.lower() in _TABLES:
        # opendatasoft: ";"-separated, geometry as GeoJSON text full of commas, so the
        # separator comes from the header line, not from sniffing the body.
        with open(path, encoding="utf-8-sig") as fh:
            header = fh.readline()
        sep = ";" if ";" in header else ("\t" if "\t" in header else ",")
        table = pd.read_csv(path, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        if find_column(table.columns, ["geo_shape", "geometry", "wkt"]) is None:
            raise SchemaError(
                f"{path}: no geometry column (geo_shape, geometry, wkt); columns: "
                f"{list(table.columns)}"
            )
        gcol = find_column(table.columns, ["geo_shape", "geometry", "wkt"])
        text = table[gcol].astype("string").str.strip()
        empty = text.isna() | (text == "")
        geoms = np.full(len(table), None, dtype=object)
        if gcol.lower() == "wkt" or not text[~empty].str.startswith("{").all():
            geoms[~empty.to_numpy()] = shapely.from_wkt(text[~empty].to_numpy(dtype=object))
        else:
            geoms[~empty.to_numpy()] = shapely.from_geojson(text[~empty].to_numpy(dtype=object))
        frame = gpd.GeoDataFrame(table, geometry=geoms, crs="EPSG:4326")
        frame = schema.to_canonical_crs(frame, what=str(path))
    else:
        frame = set_canonical_crs(read_vector(path, layer=layer), crs=None, path=path)
    scol = find_column(frame.columns, ["scenario", "typ_scenario", "scenario_inond"])
    if scol is not None:
        scen = _scenario(frame[scol], path=path)
    else:
        named = scenario or (m.group(1) if (m := _SCENARIO_IN_NAME.search(path.name)) else None)
        if named is None:
            raise SchemaError(
                f"{path}: no 'scenario' column and no scenario code (01For, 02Moy, 03Mcc, "
                "04Fai) in the file name; pass scenario="
            )
        scen = _scenario(pd.Series([named] * len(frame), index=frame.index), path=path)
    out = pd.DataFrame({schema.SCENARIO: scen.to_numpy()}, index=frame.index)
    tri = find_column(frame.columns, ["id_tri", "code_tri"])
    if tri is not None:
        out["id_tri"] = frame[tri].astype("string").to_numpy()
    result = gpd.GeoDataFrame(out, geometry=frame.geometry.array, crs=schema.CRS)
    return _clean_geometries(result, what=str(path), polygons=True)


# -- heat ---------------------------------------------------------------------------------------

_HEAT = {
    "high": "forte",
    "élevée": "forte",
    "elevee": "forte",
    "forte": "forte",
    "fort": "forte",
    "medium": "moyenne",
    "moyenne": "moyenne",
    "moyen": "moyenne",
    "low": "faible",
    "faible": "faible",
}
HEAT_SCORE_COLUMNS = ("score_chaleur", "heat_score", "classe_chaleur", "score", "vulnerabilite")


def _iris_codes(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return s.str.zfill(9)


def read_heat_iris(
    path: PathLike,
    *,
    scores: PathLike | None = None,
    population: PathLike | None = None,
) -> gpd.GeoDataFrame:
    """Read an IRIS heat-sensitivity layer (Cerema-LCZ-derived score per IRIS).

    Parameters
    ----------
    path
        IRIS polygons with ``code_iris`` (GeoJSON…); the score column may be in the file
        (``heat_score``, ``score_chaleur``…) or in ``scores``.
    scores
        CSV ``code_iris`` + score, joined on ``code_iris`` (it replaces a score in the file).
    population
        CSV of IRIS population (``IRIS`` or ``code_iris``, ``total_population`` or
        ``population``): adds a ``population`` column, so that the layer itself can serve
        as ``population=`` of the exposure indicators.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_iris``, ``nom_iris`` (when given), ``score_chaleur`` (``faible`` /
        ``moyenne`` / ``forte`` for High/Medium/Low classes, numbers kept as numbers),
        ``population`` (with ``population=``), polygons in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> iris = gpd.GeoDataFrame({"code_iris": ["593500101"], "heat_score": ["High"]},
    ...                         geometry=[box(3.0, 50.6, 3.1, 50.7)], crs=4326)
    >>> iris.to_file(d / "iris.geojson")
    >>> read_heat_iris(d / "iris.geojson")["score_chaleur"].tolist()
    ['forte']
    """
    path = resolve_input(path)
    frame = set_canonical_crs(read_vector(path), crs=None, path=path)
    code = find_column(frame.columns, ["code_iris", "iris", "codeiris", "dcomiris"])
    if code is None:
        raise SchemaError(f"{path}: no IRIS code column; columns present: {list(frame.columns)}")
    codes = _iris_codes(frame[code])
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise DataFormatError(f"{path}: duplicated IRIS codes {dup[:10]}")
    out = pd.DataFrame({"code_iris": codes.to_numpy()}, index=frame.index)
    name = find_column(frame.columns, ["nom_iris", "libiris", "lib_iris"])
    if name is not None:
        out["nom_iris"] = frame[name].astype("string").to_numpy()
    score_src, score_col, score_path = frame, find_column(frame.columns, HEAT_SCORE_COLUMNS), path
    if scores is not None:
        score_path = resolve_input(scores)
        table = read_table(score_path, header_candidates=["code_iris", "iris"])
        key = find_column(table.columns, ["code_iris", "iris"])
        score_col = find_column(table.columns, HEAT_SCORE_COLUMNS)
        if score_col is None:
            raise SchemaError(
                f"{score_path}: no score column among {list(HEAT_SCORE_COLUMNS)}; "
                f"columns present: {list(table.columns)}"
            )
        table = table.assign(_k=_iris_codes(table[key])).drop_duplicates("_k").set_index("_k")
        unmatched = sorted(set(out["code_iris"]) - set(table.index))
        if unmatched:
            _warn(f"{score_path}: no score for {len(unmatched)} IRIS, e.g. {unmatched[:5]}")
        score_src = table.reindex(out["code_iris"].to_numpy())
        score_src.index = out.index
    if score_col is None:
        raise SchemaError(
            f"{path}: no heat score column among {list(HEAT_SCORE_COLUMNS)}; pass scores="
        )
    raw = score_src[score_col]
    numeric = to_number(raw.astype("string"))
    if raw.notna().any() and numeric[raw.notna()].notna().all():
        out[schema.SCORE_CHALEUR] = numeric.to_numpy()
    else:
        text = raw.astype("string").str.strip().str.lower()
        mapped = text.map(lambda v: _HEAT.get(v, pd.NA) if isinstance(v, str) else pd.NA)
        bad = sorted(set(text[mapped.isna() & text.notna()].unique()))
        if bad:
            raise DataFormatError(
                f"{score_path}: column {score_col!r} holds unknown heat classes {bad[:10]} "
                "(expected High/Medium/Low or faible/moyenne/forte)"
            )
        out[schema.SCORE_CHALEUR] = mapped.astype("string").to_numpy()
    if population is not None:
        pop_path = resolve_input(population)
        table = read_table(pop_path, header_candidates=["iris", "code_iris"])
        key = find_column(table.columns, ["iris", "code_iris"])
        pcol = find_column(table.columns, ["total_population", "population", "p_pop", "pop"])
        if pcol is None:
            raise SchemaError(f"{pop_path}: no population column; columns: {list(table.columns)}")
        pop = pd.Series(to_number(table[pcol]).to_numpy(), index=_iris_codes(table[key]).to_numpy())
        pop = pop[~pop.index.duplicated()]
        out[schema.POPULATION] = pop.reindex(out["code_iris"].to_numpy()).to_numpy()
        if np.isnan(out[schema.POPULATION].to_numpy(dtype=float)).any():
            _warn(f"{pop_path}: no population for {int(out[schema.POPULATION].isna().sum())} IRIS")
    result = gpd.GeoDataFrame(out, geometry=frame.geometry.array, crs=schema.CRS)
    return _clean_geometries(result, what=str(path), polygons=True)


# -- air quality ------------------------------------------------------------------------------

_POLLUTANT_NAMES = {
    "no2": "no2",
    "dioxyde d'azote": "no2",
    "8": "no2",
    "pm10": "pm10",
    "5": "pm10",
    "pm2.5": "pm25",
    "pm2,5": "pm25",
    "pm25": "pm25",
    "pm2_5": "pm25",
    "pm2-5": "pm25",
    "6001": "pm25",
}


def read_air_stations(
    path: PathLike,
    *,
    year: int | None = None,
    pollutants: Sequence[str] = schema.POLLUTANTS,
    crs: object | None = None,
) -> gpd.GeoDataFrame:
    """Read air-quality stations, with their annual mean concentrations when the file has them.

    - **Long** tables (Atmo open data, one row per station x pollutant x year:
      ``code_station``, ``nom_poll`` or ``id_poll_ue``, ``valeur``, ``date_debut``,
      ``statut_valid``): rows flagged not valid are dropped, the ``year`` is kept
      (default: the latest year with a valid value), and the table is pivoted to one row
      per station.
    - **Wide** tables: one row per station with ``no2``, ``pm10``, ``pm2.5``… columns.
    - **Station lists** (LCSQA: ``code``, ``name``, ``lon``, ``lat``, ``pollutants``):
      locations only, concentrations NA; the measured pollutants stay in ``polluants``.

    Parameters
    ----------
    path
        CSV (or ``.txt`` / ``.tsv``) with coordinates (``x_l93``/``y_l93``, ``x``/``y`` +
        ``code_epsg``, or ``lon``/``lat`` / ``longitude``/``latitude``), or a vector file
        (GeoJSON, GeoPackage…).
    year
        Year of the annual means kept from a long table (default: the latest year with a
        valid value); a year without any valid value raises
        :class:`~qpvgeo.errors.DataFormatError`. Ignored for wide tables and lists.
    pollutants
        Canonical pollutants kept, among ``no2``, ``pm10``, ``pm25`` (default all three);
        each gives one column.
    crs
        CRS of ``x``/``y`` when the table has no ``code_epsg`` column, or of a vector file
        declaring none (``x_l93``/``y_l93`` are Lambert-93, ``lon``/``lat`` WGS84).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_station``, ``nom_station``, ``no2``, ``pm10``, ``pm25`` (annual means in
        µg/m³, NA where the station does not measure it), ``code_commune`` (when given,
        zero-padded: Atmo Occitanie stores ``9261`` for ``09261``), points in EPSG:2154;
        ``attrs["annee"]`` is the year kept for long tables.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "atmo.csv"
    >>> _ = f.write_text(
    ...     "code_station,nom_station,nom_poll,valeur,date_debut,statut_valid,x_l93,y_l93\\n"
    ...     "FR50004,Jacquier,NO2,14.5,2022/01/01 00:00:00+00,t,572184,6276463\\n"
    ...     "FR50004,Jacquier,NO2,13.9,2023/01/01 00:00:00+00,t,572184,6276463\\n")
    >>> read_air_stations(f)[["code_station", "no2"]].values.tolist()
    [['FR50004', 13.9]]
    """
    path = resolve_input(path)
    if path.suffix.lower() in _TABLES:
        table = read_table(path, header_candidates=["code_station", "code", "station"])
        frame = _points_from_table(table, path=path, crs=crs)
    else:
        frame = set_canonical_crs(read_vector(path), crs=crs, path=path)
    cols = frame.columns
    code = find_column(cols, ["code_station", "code", "station_code", "code_site"])
    name = find_column(cols, ["nom_station", "name", "nom", "station"])
    if code is None:
        raise SchemaError(f"{path}: no station code column; columns present: {list(cols)}")
    codes = frame[code].astype("string").str.strip()
    poll = find_column(cols, ["nom_poll", "polluant", "id_poll_ue"])
    value = find_column(cols, ["valeur", "value", "concentration"])
    wanted = list(pollutants)
    attrs: dict[str, object] = {}
    if poll is not None and value is not None:
        long = pd.DataFrame(
            {
                "code": codes.to_numpy(),
                "poll": frame[poll]
                .astype("string")
                .str.strip()
                .str.lower()
                .map(lambda v: _POLLUTANT_NAMES.get(v, pd.NA) if isinstance(v, str) else pd.NA)
                .to_numpy(),
                "value": to_number(frame[value].astype("string")).to_numpy(),
            }
        )
        valid_col = find_column(cols, ["statut_valid", "valid", "validite"])
        ok = long["value"].notna()
        if valid_col is not None:
            flag = frame[valid_col].astype("string").str.strip().str.lower()
            ok &= flag.isin(["t", "true", "1", "v", "valide", "oui"]).to_numpy()
        date_col = find_column(cols, ["date_debut", "annee", "year", "date"])
        if date_col is None:
            raise SchemaError(f"{path}: long table without a year column (date_debut, annee)")
        long["year"] = pd.to_numeric(
            frame[date_col].astype("string").str.extract(r"(\d{4})")[0], errors="coerce"
        ).to_numpy()
        long = long[ok.to_numpy() & long["poll"].isin(wanted).to_numpy()]
        if long.empty:
            raise DataFormatError(f"{path}: no valid annual mean for {wanted}")
        chosen = int(long["year"].max()) if year is None else int(year)
        if chosen not in set(long["year"].dropna().astype(int)):
            raise DataFormatError(
                f"{path}: no valid value for year {chosen}; years present: "
                f"{sorted(long['year'].dropna().astype(int).unique().tolist())}"
            )
        long = long[long["year"] == chosen]
        dup = long[long.duplicated(["code", "poll"], keep=False)]
        if not dup.empty:
            raise DataFormatError(
                f"{path}: several valid {chosen} values for station x pollutant "
                f"{sorted(set(zip(dup['code'], dup['poll'], strict=True)))[:5]}"
            )
        wide = long.pivot(index="code", columns="poll", values="value")
        first = ~codes.duplicated()
        base = frame[first.to_numpy()].assign(_code=codes[first].to_numpy()).set_index("_code")
        base = base.loc[base.index.isin(wide.index)]
        attrs["annee"] = chosen
        values = wide.reindex(base.index)
    else:
        base = frame.assign(_code=codes.to_numpy())
        dup = base["_code"][base["_code"].duplicated()].unique().tolist()
        if dup:
            raise DataFormatError(f"{path}: duplicated station codes {dup[:10]}")
        base = base.set_index("_code")
        values = pd.DataFrame(index=base.index)
        for c in base.columns:
            canon = _POLLUTANT_NAMES.get(str(c).strip().lower())
            if (
                canon in wanted
                and canon not in values.columns
                and str(c).strip().lower() not in {"5", "8", "6001"}
            ):
                values[canon] = to_number(base[c].astype("string")).to_numpy()
    out = pd.DataFrame({schema.CODE_STATION: base.index.astype("string")})
    out[schema.NOM_STATION] = (
        base[name].astype("string").to_numpy() if name else pd.Series(pd.NA, dtype="string")
    )
    for p in wanted:
        out[p] = values[p].to_numpy(dtype=float) if p in values.columns else np.nan
    listed = find_column(base.columns, ["pollutants", "polluants"])
    if listed is not None:
        out["polluants"] = base[listed].astype("string").to_numpy()
    com = find_column(base.columns, ["insee_com", "code_commune", "code_insee"])
    if com is not None:
        out[schema.CODE_COMMUNE] = schema.normalise_commune_code(base[com]).to_numpy()
    result = gpd.GeoDataFrame(out, geometry=base.geometry.array, crs=schema.CRS)
    result = _clean_geometries(result, what=str(path), polygons=False)
    result.attrs.update(attrs)
    if len(result) and not result[[p for p in wanted if p in result.columns]].notna().any().any():
        # A station list (LCSQA locations) is not an exposure layer: say so at read time;
        # air_exposure refuses it with the missing columns named.
        _warn(
            f"{path}: no annual mean for {wanted} — station locations only; "
            "exposure needs concentrations (Atmo annual means)"
        )
    return result


# -- green spaces -------------------------------------------------------------------------------


def read_green_spaces(path: PathLike, *, crs: object | None = None) -> gpd.GeoDataFrame:
    """Read a municipal green-space layer (Toulouse, Montpellier open data).

    Features without geometry are dropped and invalid polygons repaired (with warnings).

    Parameters
    ----------
    path
        Vector file (GeoJSON, GeoPackage, shapefile…) of green-space polygons.
    crs
        CRS of a file that declares none (e.g. ``"EPSG:4326"``); without it such a file
        raises :class:`~qpvgeo.errors.MissingCRSError`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``nom`` (``intitule``, ``LIBEL``…; NA when unnamed), ``categorie`` (``categorie``
        / ``CLASS`` when given), polygons in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ev = gpd.GeoDataFrame({"intitule": ["JARDIN DES PLANTES"]},
    ...                       geometry=[box(1.45, 43.59, 1.46, 43.6)], crs=4326)
    >>> ev.to_file(d / "ev.geojson")
    >>> read_green_spaces(d / "ev.geojson")["nom"].tolist()
    ['JARDIN DES PLANTES']
    """
    path = resolve_input(path)
    frame = set_canonical_crs(read_vector(path), crs=crs, path=path)
    name = find_column(frame.columns, ["nom", "intitule", "libel", "libelle", "name", "nom_site"])
    cat = find_column(frame.columns, ["categorie", "class", "type", "typologie"])
    out = pd.DataFrame(index=frame.index)
    out[schema.NOM_ESPACE_VERT] = (
        frame[name].astype("string").str.strip().to_numpy()
        if name
        else pd.array([pd.NA] * len(frame), dtype="string")
    )
    if cat is not None:
        out["categorie"] = frame[cat].astype("string").to_numpy()
    result = gpd.GeoDataFrame(out, geometry=frame.geometry.array, crs=schema.CRS)
    return _clean_geometries(result, what=str(path), polygons=True)


# -- noise ----------------------------------------------------------------------------------------

_NOISE_SOURCE = {
    "r": "route",
    "route": "route",
    "roads": "route",
    "road": "route",
    "f": "fer",
    "fer": "fer",
    "railways": "fer",
    "rail": "fer",
    "a": "aerien",
    "aerien": "aerien",
    "airports": "aerien",
    "air": "aerien",
    "i": "industrie",
    "industrie": "industrie",
    "industry": "industrie",
}
_NOISE_INDICATOR = {"ld": "lden", "lden": "lden", "ln": "ln", "lnight": "ln", "lnght": "ln"}
_CNIG_NAME = re.compile(r"N_BRUIT_ZB\w*?_([RFAI])_([AC])_(LD|LN)_S", re.IGNORECASE)
_END_NAME = re.compile(r"NoiseContours_([a-z]+?)(?:InAgglomeration)?_(Lden|Lnight)", re.IGNORECASE)
_DEPASSEMENT_NAME = re.compile(r"(route|fer|industrie)_depassement_de_seuil_(Lden|Lnight)", re.I)
_NOISE_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb")


def _noise_files(path: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [path] if isinstance(path, str | Path) or hasattr(path, "__fspath__") else list(path)
    files: list[Path] = []
    for item in items:
        p = resolve_input(item)
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.suffix.lower() in _NOISE_SUFFIXES
                and (
                    _CNIG_NAME.search(f.name)
                    or _END_NAME.search(f.name)
                    or _DEPASSEMENT_NAME.search(f.name)
                )
            )
            if not found:
                raise DataFormatError(f"{p}: no strategic noise-map layer in this folder")
            files.extend(found)
        else:
            files.append(p)
    return files


def _bounds_from_text(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Noise bounds: ``68`` -> (68, NA); ``[62,66]`` -> (62, 67); ``>=72`` -> (72, NA);
    ``Lden5559`` -> (55, 60); ``55-60`` -> (55, 60)."""
    t = text.astype("string").str.strip()
    lo = np.full(len(t), np.nan)
    hi = np.full(len(t), np.nan)
    for i, v in enumerate(t.tolist()):
        if not isinstance(v, str) or not v:
            continue
        compact = re.fullmatch(r"L(?:den|night|n)(\d{2})(\d{2})", v, re.IGNORECASE)
        if compact:
            lo[i], hi[i] = float(compact.group(1)), float(compact.group(2)) + 1
            continue
        nums = [float(n) for n in re.findall(r"\d+(?:[.,]\d+)?", v.replace(",", " , "))]
        if not nums:
            continue
        lo[i] = nums[0]
        if len(nums) > 1 and not re.search(r">|greater|sup", v, re.IGNORECASE):
            # Closed integer classes "[62,66]" cover up to 67 dB(A) exclusive.
            hi[i] = nums[1] + 1 if v.lstrip().startswith("[") else nums[1]
    return lo, hi


def _read_noise_file(path: Path, *, repair: bool) -> gpd.GeoDataFrame:
    encoding = None
    if path.suffix.lower() == ".shp" and not path.with_suffix(".cpg").exists():
        # CNIG géostandard DBFs are Latin-1; without a .cpg GDAL would guess.
        encoding = "ISO-8859-1"
    frame = set_canonical_crs(read_vector(path, encoding=encoding), crs=None, path=path)
    cols = frame.columns
    n = len(frame)
    cnig = _CNIG_NAME.search(path.name)
    end = _END_NAME.search(path.name)
    dep = _DEPASSEMENT_NAME.search(path.name)
    tsrc = find_column(cols, ["typesource"])
    tind = find_column(cols, ["indicetype"])
    legend = find_column(cols, ["legende"])
    category = find_column(cols, ["category", "categorie", "classe"])
    if tsrc is not None or cnig:
        src = (
            frame[tsrc].astype("string").str.strip().str.lower()
            if tsrc
            else pd.Series([cnig.group(1).lower()] * n, dtype="string")
        )
        ind = (
            frame[tind].astype("string").str.strip().str.lower()
            if tind
            else pd.Series([cnig.group(3).lower()] * n, dtype="string")
        )
        ctype_col = find_column(cols, ["cbstype"])
        ctype = (
            frame[ctype_col].astype("string").str.upper()
            if ctype_col
            else pd.Series([(cnig.group(2) if cnig else "C").upper()] * n, dtype="string")
        )
        if legend is None:
            raise SchemaError(f"{path}: CNIG noise layer without a LEGENDE column")
        lo, hi = _bounds_from_text(frame[legend])
    elif end or dep:
        m = end or dep
        src = pd.Series([m.group(1).lower().replace("inagglomeration", "")] * n, dtype="string")
        if end and find_column(cols, ["source"]):
            src = (
                frame[find_column(cols, ["source"])]
                .astype("string")
                .str.replace("InAgglomeration", "", regex=False)
                .str.lower()
            )
        ind = pd.Series([m.group(2).lower()] * n, dtype="string")
        ctype = pd.Series(["A" if end else "C"] * n, dtype="string")
        if category is None:
            raise SchemaError(f"{path}: noise contours without a 'category' column")
        lo, hi = _bounds_from_text(frame[category])
    else:
        need = [schema.SOURCE_BRUIT, schema.INDICATEUR_BRUIT]
        schema.require_columns(frame, need, what=str(path))
        src, ind = frame[schema.SOURCE_BRUIT].astype("string"), frame[schema.INDICATEUR_BRUIT]
        lo = (
            to_number(frame[schema.LDEN_MIN].astype("string")).to_numpy()
            if schema.LDEN_MIN in cols
            else np.full(n, np.nan)
        )
        hi = (
            to_number(frame[schema.LDEN_MAX].astype("string")).to_numpy()
            if schema.LDEN_MAX in cols
            else np.full(n, np.nan)
        )
        ctype = pd.Series([pd.NA] * n, dtype="string")
    source = src.str.lower().map(
        lambda v: _NOISE_SOURCE.get(v, pd.NA) if isinstance(v, str) else pd.NA
    )
    indicator = (
        ind.astype("string")
        .str.lower()
        .map(lambda v: _NOISE_INDICATOR.get(v, pd.NA) if isinstance(v, str) else pd.NA)
    )
    for label, raw, mapped in (("source", src, source), ("indicator", ind, indicator)):
        bad = sorted(set(raw[mapped.isna() & raw.notna()].astype(str).unique()))
        if bad:
            raise DataFormatError(f"{path}: unknown noise {label} values {bad[:10]}")
    if np.isnan(lo).all():
        _warn(f"{path}: no noise level could be read (LEGENDE / category); lden_min is NA")
    out = pd.DataFrame(
        {
            schema.SOURCE_BRUIT: source.astype("string").to_numpy(),
            schema.INDICATEUR_BRUIT: indicator.astype("string").to_numpy(),
            schema.LDEN_MIN: lo,
            schema.LDEN_MAX: hi,
            "type_carte": ctype.to_numpy(),
            "fichier": path.name,
        },
        index=frame.index,
    )
    result = gpd.GeoDataFrame(out, geometry=frame.geometry.array, crs=schema.CRS)
    return _clean_geometries(result, what=str(path), polygons=repair)


def read_noise_map(path: PathLike | Sequence[PathLike], *, repair: bool = True) -> gpd.GeoDataFrame:
    """Read strategic noise maps (CBS) into one canonical layer.

    Accepts a file, a list of files or a folder (every noise layer in it): CNIG
    ``N_BRUIT_ZBRD_INFRA_<R|F>_<A|C>_<LD|LN>_S_<dep>`` layers (source from ``TYPESOURCE``,
    indicator from ``INDICETYPE``, level from ``LEGENDE``, the file name as fallback;
    Latin-1 DBF read through its ``.cpg``), END ``NoiseContours_*`` type A bands and
    Bordeaux Métropole's ``*_depassement_de_seuil_*`` type C classes, in any CRS
    (Bordeaux Métropole publishes EPSG:3945). Overlapping zones are kept as published:
    :func:`qpvgeo.exposure.noise_exposure` dissolves them.

    The State's type C layers hold many self-intersecting zones (Gironde road Lden: 138 of
    609); they are repaired with ``make_valid`` (polygonal parts kept), which takes
    seconds per layer. ``repair=False`` leaves them as published: the exposure functions
    repair only the features near the zones they measure.

    Parameters
    ----------
    path
        A noise layer (shapefile, GeoPackage, GeoJSON, FlatGeobuf), a list of them, or a
        folder: every file in it whose name matches a CNIG, END or Bordeaux Métropole
        noise layer is read (none raises :class:`~qpvgeo.errors.DataFormatError`).
    repair : bool, default True
        Repair invalid polygons with ``make_valid`` (with a warning); ``False`` keeps them
        as published, for the exposure functions to repair near the zones.

    Returns
    -------
    geopandas.GeoDataFrame
        ``source`` (``route``, ``fer``, ``aerien``, ``industrie``), ``indicateur``
        (``lden``, ``ln``), ``lden_min`` / ``lden_max`` (lower / upper bound of the zone in
        dB(A) for the indicator, upper NA when open; for type C the limit value exceeded),
        ``type_carte`` (``A`` bands, ``C`` exceedance), ``fichier``, polygons in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> f = d / "N_BRUIT_ZBRD_INFRA_R_C_LD_S_033.shp"
    >>> attrs = {"TYPESOURCE": ["R"], "INDICETYPE": ["LD"], "CBSTYPE": ["C"], "LEGENDE": ["68"]}
    >>> layer = gpd.GeoDataFrame(attrs, geometry=[box(0, 0, 10, 10)], crs=2154)
    >>> layer.to_file(f, encoding="ISO-8859-1")
    >>> read_noise_map(f)[["source", "indicateur", "lden_min"]].values.tolist()
    [['route', 'lden', 68.0]]
    """
    frames = [_read_noise_file(f, repair=repair) for f in _noise_files(path)]
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=schema.CRS)
