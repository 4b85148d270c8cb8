"""Tables of points (addresses, establishments, dwellings) from the publishers' layouts.

Every input row and column is kept as it is (CSV cells stay text, so that codes keep
their leading zeros); the reader only adds a point geometry and a status saying why a
row has none. Coordinate columns are recognised in these layouts (names matched
case-insensitively, the first pair present wins):

======================================  ===========================================  =========
layout                                  columns                                      CRS
======================================  ===========================================  =========
ADEME DPE ``dpe03existant``             ``coordonnee_cartographique_x_ban`` / ``_y_ban``  EPSG:2154
INSEE SIRENE géolocalisé                ``x_longitude`` / ``y_latitude``             EPSG:4326
  (``GeolocalisationEtablissement_…``)  else ``x`` / ``y`` with the per-row ``epsg``  per row
BAN géocodage CSV (adresse.data.gouv)   ``longitude`` / ``latitude``                 EPSG:4326
BAN ``adresses-*.csv``                  ``lon`` / ``lat``                            EPSG:4326
Éducation nationale (annuaire,          ``longitude`` / ``latitude``, else           EPSG:4326
  adresse et géolocalisation)           ``coordonnee_x`` / ``coordonnee_y`` + ``epsg``  per row
geo-sirene (Etalab)                     ``longitude`` / ``latitude``                 EPSG:4326
======================================  ===========================================  =========

A row with no coordinate, an unreadable one or a point outside France (metropolitan
France, the overseas départements and collectivités holding QPV) is kept with an empty
geometry and its reason in ``statut_coordonnees``; it is never dropped.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from qpvgeo.errors import DataFormatError, MissingCRSError, SchemaError
from qpvgeo.readers._common import PathLike, clean_name, find_column, resolve_input

#: Status column added by the point readers: why a row has (or has no) point.
STATUT_COORDONNEES = "statut_coordonnees"
#: Values of ``statut_coordonnees``.
STATUT_OK = "ok"
STATUT_ABSENTES = "absentes"  # one coordinate or both empty, or the 0/0 placeholder
STATUT_ILLISIBLES = "illisibles"  # not a number, or an unknown EPSG code
STATUT_HORS_FRANCE = "hors_france"  # a valid point outside every French zone below

#: Coordinate column pairs (x, y, CRS) in the order they are looked for. ``None`` as
#: CRS means "from the per-row EPSG column" (SIRENE, Éducation nationale), or the
#: ``crs=`` argument when there is no such column.
COORDINATE_LAYOUTS: tuple[tuple[str, str, str | None], ...] = (
    ("coordonnee_cartographique_x_ban", "coordonnee_cartographique_y_ban", "EPSG:2154"),
    ("x_longitude", "y_latitude", "EPSG:4326"),
    ("longitude", "latitude", "EPSG:4326"),
    ("lon", "lat", "EPSG:4326"),
    ("lng", "lat", "EPSG:4326"),
    ("coordonnee_x", "coordonnee_y", None),
    ("x", "y", None),
)
#: Columns holding a per-row EPSG code (``2154``, ``"EPSG:2154"``, ``2154.0``).
EPSG_COLUMNS: tuple[str, ...] = ("epsg", "epsg_origine", "code_epsg")

#: Longitude/latitude boxes of the French territories that hold QPV, with the metric
#: CRS used there for distances (Lambert-93 only in metropolitan France: its scale error
#: grows far from the mainland). Boxes are generous by a few kilometres of sea.
ZONES: dict[str, tuple[tuple[float, float, float, float], str]] = {
    "metropole": ((-5.8, 41.2, 10.0, 51.3), "EPSG:2154"),
    "antilles": ((-63.3, 14.3, -60.7, 18.2), "EPSG:5490"),  # 971, 972, 977, 978
    "guyane": ((-54.7, 2.0, -51.4, 6.0), "EPSG:2972"),
    "reunion": ((55.1, -21.5, 55.95, -20.8), "EPSG:2975"),
    "mayotte": ((44.9, -13.1, 45.35, -12.55), "EPSG:4471"),
    "polynesie": ((-155.0, -28.5, -134.0, -7.0), "EPSG:3297"),
}

_VECTOR_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".parquet"})
_EPSG_TEXT = re.compile(r"^\s*(?:epsg\s*:?\s*)?(\d{4,5})(?:\.0+)?\s*$", re.IGNORECASE)


def _read_csv_text(path: Path) -> tuple[pd.DataFrame, str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # old Windows exports
    head = "\n".join(text.splitlines()[:50])
    sep = _sniff(head)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot read as a {sep!r}-separated table: {exc}") from exc
    # The BOM of a UTF-8 file opened as text by a quoting writer ('"\ufeff""numero_dpe"""').
    frame.columns = [_unbom(c) for c in frame.columns]
    return frame, sep


def _unbom(name: object) -> str:
    """``'\\ufeff"numero_dpe"'`` (a BOM caught inside the first quoted header) -> ``numero_dpe``."""
    text = str(name)
    if text.startswith("\ufeff"):
        text = text[1:]
        if len(text) > 1 and text[0] == text[-1] == '"':
            text = text[1:-1]
    return text


def _sniff(head: str) -> str:
    best, best_score = ",", -1
    lines = [ln for ln in head.splitlines() if ln.strip()]
    for sep in (";", ",", "\t", "|"):
        counts = [len(row) - 1 for row in csv.reader(lines, delimiter=sep)]
        score = int(np.median(counts)) if counts else -1
        if score > best_score:
            best, best_score = sep, score
    return best


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float values, empty mask, unreadable mask) of a text or numeric column."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        empty = np.isnan(num)
        return num, empty, np.zeros(len(num), dtype=bool)
    text = values.astype("string").str.strip()
    for space in ("\u202f", "\u00a0", " "):
        text = text.str.replace(space, "", regex=False)
    empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
    # A decimal comma (French exports): "3,0612" -> "3.0612".
    num = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    num = num.to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(num) & ~empty
    return num, empty, bad


def _epsg_codes(values: pd.Series) -> np.ndarray:
    """Per-row EPSG codes as integers (0 where empty or unreadable)."""
    text = values.astype("string").str.strip()
    found = text.str.extract(_EPSG_TEXT)[0]
    return pd.to_numeric(found, errors="coerce").fillna(0).astype(int).to_numpy()


@functools.lru_cache(maxsize=32)
def _lonlat_transformer(crs: object) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    tr = _lonlat_transformer(crs if isinstance(crs, str | int) else pyproj.CRS(crs).to_wkt())
    lon, lat = tr.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def zone_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Name of the French zone (:data:`ZONES`) of each lon/lat, ``""`` outside all.

    Examples
    --------
    >>> zone_of(np.array([3.06, 55.45, -30.0]), np.array([50.63, -20.9, 40.0])).tolist()
    ['metropole', 'reunion', '']
    """
    return np.array(["", *ZONES], dtype=object)[_zone_codes(lon, lat)]


def _zone_codes(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """1 + the position in :data:`ZONES` of each lon/lat's zone (the first that holds
    it), 0 outside all: small integers, no million-string comparisons."""
    lon, lat = np.asarray(lon), np.asarray(lat)
    code = np.zeros(len(lon), dtype=np.int8)
    for k, ((x0, y0, x1, y1), _) in enumerate(ZONES.values(), start=1):
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1) & (code == 0)
        code[inside] = k
    return code


def _table_positions(
    frame: pd.DataFrame, *, x: str | None, y: str | None, crs: object | None, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(lon, lat, status, info) of the rows of a table with coordinate columns."""
    columns = list(frame.columns)
    if x is not None or y is not None:
        if x is None or y is None:
            raise SchemaError(f"{what}: give both x= and y= (got x={x!r}, y={y!r})")
        missing = [c for c in (x, y) if c not in columns]
        if missing:
            raise SchemaError(f"{what}: no column {missing}; columns present: {columns}")
        xcol, ycol, layout_crs = x, y, None
    else:
        found = _layout(columns)
        if found is None:
            wanted = [f"{cx}/{cy}" for cx, cy, _ in COORDINATE_LAYOUTS]
            raise SchemaError(
                f"{what}: no coordinate columns (looked for {wanted}); pass x=, y= and crs=; "
                f"columns present: {[c for c in columns if c != 'geometry'][:40]}"
            )
        xcol, ycol, layout_crs = found
    xs, x_empty, x_bad = _numbers(frame[xcol])
    ys, y_empty, y_bad = _numbers(frame[ycol])
    # ADEME writes 0/0 for a DPE the BAN could not place: a placeholder, not a position.
    empty = x_empty | y_empty | ((xs == 0) & (ys == 0))
    bad = (x_bad | y_bad) & ~empty

    n = len(frame)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    usable = ~empty & ~bad
    epsg_col = find_column(columns, EPSG_COLUMNS) if layout_crs is None else None
    if layout_crs is not None:
        used_crs: object = layout_crs
    elif crs is not None:
        used_crs = crs
    elif epsg_col is not None:
        used_crs = f"per row ({epsg_col})"
    else:
        raise MissingCRSError(
            f"{what}: columns {xcol!r}/{ycol!r} have no known CRS; pass crs= "
            "(e.g. crs='EPSG:2154' for Lambert-93, crs='EPSG:4326' for longitude/latitude)"
        )
    if epsg_col is not None and used_crs == f"per row ({epsg_col})":
        codes = _epsg_codes(frame[epsg_col])
        for code in np.unique(codes[usable]):  # a handful of CRS, not one per row
            rows = usable & (codes == code)
            try:
                lon[rows], lat[rows] = _to_lonlat(xs[rows], ys[rows], f"EPSG:{code}")
            except pyproj.exceptions.CRSError:
                bad |= rows
    elif usable.any():
        try:
            lon[usable], lat[usable] = _to_lonlat(xs[usable], ys[usable], used_crs)
        except pyproj.exceptions.CRSError as exc:
            raise DataFormatError(f"{what}: unknown CRS {used_crs!r}: {exc}") from exc
    status = _status(lon, lat, empty=empty, bad=bad)
    # The source coordinates, for a caller that can use them without a round trip.
    source = (xs, ys, used_crs) if epsg_col is None else None
    return lon, lat, status, {"x": xcol, "y": ycol, "crs": str(used_crs), "_source": source}


def _geometry_positions(
    points: gpd.GeoDataFrame, *, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(lon, lat, status, info) of the point geometries of a GeoDataFrame."""
    if points.crs is None:
        raise MissingCRSError(f"{what}: the points have no CRS; set one (points.set_crs(...))")
    geoms = np.asarray(points.geometry.array, dtype=object)
    n = len(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    # A polygon has no single position: the caller gives its representative point.
    not_point = ~empty & (shapely.get_type_id(geoms) != 0)
    use = ~empty & ~not_point
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if use.any():
        c = shapely.get_coordinates(geoms[use])
        lon[use], lat[use] = _to_lonlat(c[:, 0], c[:, 1], points.crs)
    status = _status(lon, lat, empty=empty, bad=not_point)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    if use.any():
        xs[use], ys[use] = c[:, 0], c[:, 1]
    return lon, lat, status, {"x": "geometry", "y": "geometry", "crs": points.crs.to_string(),
                              "_source": (xs, ys, points.crs)}


#: The statuses, in the order of the codes :func:`_status` gives.
_STATUSES = (STATUT_OK, STATUT_HORS_FRANCE, STATUT_ILLISIBLES, STATUT_ABSENTES)


def _status(lon: np.ndarray, lat: np.ndarray, *, empty: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Each row's status as its position in :data:`_STATUSES` (int8; 0 is ``ok``)."""
    finite = np.isfinite(lon) & np.isfinite(lat)
    bad = (bad | ~finite) & ~empty
    zone = _zone_codes(np.where(finite, lon, 0.0), np.where(finite, lat, 0.0))
    status = np.zeros(len(lon), dtype=np.int8)
    status[finite & (zone == 0)] = 1
    status[bad] = 2
    status[empty] = 3
    return status


def _layout(columns: Sequence[object]) -> tuple[str, str, str | None] | None:
    cols = [c for c in columns if clean_name(c) != "geometry"]
    for cx, cy, ccrs in COORDINATE_LAYOUTS:
        fx, fy = find_column(cols, [cx]), find_column(cols, [cy])
        if fx is not None and fy is not None:
            return fx, fy, ccrs
    return None


def point_positions(
    points: pd.DataFrame,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: object | None = None,
    what: str = "points",
) -> pd.DataFrame:
    """Longitude, latitude and status of every row of a table or GeoDataFrame of points.

    Parameters
    ----------
    points : pandas.DataFrame or geopandas.GeoDataFrame
        A GeoDataFrame of points (its geometry is used unless ``x``/``y`` are given or
        every geometry is missing), or a table with coordinate columns: a BAN-geocoded
        CSV, SIRENE géolocalisé, ADEME DPE or an Éducation nationale export (layouts:
        module docstring).
    x, y : str, optional
        Coordinate columns, when the layout is not one of :data:`COORDINATE_LAYOUTS`.
    crs : object, optional
        CRS of ``x``/``y`` (``"EPSG:2154"``, ``4326``…). Needed with ``x``/``y`` unless
        the table has a per-row ``epsg`` column; ignored for layouts whose CRS is known.
    what : str
        Name of the input in messages (the file).

    Returns
    -------
    pandas.DataFrame
        Same index as ``points``: ``longitude``, ``latitude`` (EPSG:4326, NaN where the
        status is not ``ok``), ``statut_coordonnees`` (``ok``, ``absentes`` — empty or
        the 0/0 placeholder —, ``illisibles``, ``hors_france``) and ``zone`` (key of
        :data:`ZONES`, ``""`` when not ``ok``). ``attrs["coordonnees"]`` names the
        columns and the CRS used.

    Raises
    ------
    SchemaError
        No coordinate columns found (the message lists the columns present), or ``x``
        / ``y`` not in the table.
    MissingCRSError
        Coordinates whose CRS is unknown (no ``crs=``, no EPSG column, no CRS).

    Examples
    --------
    >>> t = pd.DataFrame({"siret": ["1", "2", "3"], "x_longitude": ["3.06", "", "-40"],
    ...                   "y_latitude": ["50.63", "", "10"]})
    >>> point_positions(t)["statut_coordonnees"].tolist()
    ['ok', 'absentes', 'hors_france']
    """
    return _positions(points, x=x, y=y, crs=crs, what=what)[0]


def _positions(points, *, x, y, crs, what) -> tuple[pd.DataFrame, tuple | None]:
    """:func:`point_positions`, plus (x, y, CRS) of the source when it has one CRS."""
    geo = isinstance(points, gpd.GeoDataFrame) and points._geometry_column_name in points
    use_geometry = False
    if geo and x is None:
        geoms = np.asarray(points.geometry.array, dtype=object)
        use_geometry = not (len(geoms) and shapely.is_missing(geoms).all()
                            and _layout(points.columns) is not None)
    if use_geometry:
        lon, lat, status, info = _geometry_positions(points, what=what)
    else:
        table = pd.DataFrame(points.drop(columns=points.geometry.name)) if geo else points
        lon, lat, status, info = _table_positions(table, x=x, y=y, crs=crs, what=what)
    ok = status == 0  # STATUT_OK
    lon = np.where(ok, lon, np.nan)
    lat = np.where(ok, lat, np.nan)
    zone = np.where(ok, _zone_codes(np.nan_to_num(lon), np.nan_to_num(lat)), 0)
    out = pd.DataFrame(
        {"longitude": lon, "latitude": lat,
         STATUT_COORDONNEES: pd.array(list(_STATUSES), dtype="string").take(status),
         # one `take` from the zone names (arrow), not a million Python strings
         "zone": pd.array(["", *ZONES], dtype="string").take(zone)},
        index=points.index,
    )
    source = info.pop("_source")
    out.attrs["coordonnees"] = info
    return out, source


def points_from_table(
    frame: pd.DataFrame,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: object | None = None,
    what: str = "points",
) -> gpd.GeoDataFrame:
    """Turn a table with coordinate columns into points, keeping every row and column.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (layouts: module docstring).
    x, y, crs, what
        As in :func:`point_positions`.

    Returns
    -------
    geopandas.GeoDataFrame
        The input columns (unchanged, same index) + ``statut_coordonnees`` +
        ``geometry`` (EPSG:4326 points, empty where the status is not ``ok``).

    Examples
    --------
    >>> t = pd.DataFrame({"uai": ["0590002G"], "latitude": ["50,3314"], "longitude": ["3,2463"]})
    >>> p = points_from_table(t)
    >>> p.geometry.iloc[0].x, p.crs.to_epsg()
    (3.2463, 4326)
    """
    pos = point_positions(frame, x=x, y=y, crs=crs, what=what)
    ok = (pos[STATUT_COORDONNEES] == STATUT_OK).to_numpy()
    geoms = np.full(len(frame), shapely.Point(), dtype=object)
    geoms[ok] = shapely.points(pos["longitude"].to_numpy()[ok], pos["latitude"].to_numpy()[ok])
    base = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    out = gpd.GeoDataFrame(
        base.assign(**{STATUT_COORDONNEES: pos[STATUT_COORDONNEES]}),
        geometry=gpd.GeoSeries(geoms, index=frame.index, crs="EPSG:4326"),
    )
    out.attrs["coordonnees"] = pos.attrs["coordonnees"]
    return out


def read_points(path: PathLike, *, layer: str | int | None = None) -> pd.DataFrame:
    """Read a table of points (CSV or vector file), keeping every row, column and value.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (``;``, ``,``, tab or ``|``; UTF-8 with or without BOM, or cp1252) in one
        of the layouts of the module docstring, or a vector file of points (GeoJSON,
        GeoPackage, shapefile, GeoParquet…).
    layer : str or int, optional
        Layer of a multi-layer GeoPackage.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        A CSV gives a DataFrame whose cells are all text, as written (codes keep their
        leading zeros); a vector file gives its GeoDataFrame, geometry and CRS as
        stored. ``attrs["format"]`` (``"csv"`` or ``"vector"``), ``attrs["separator"]``
        and ``attrs["source"]`` let a writer give the result back in the same format.
        Positions are read by :func:`point_positions`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "dpe.csv"
    >>> head = "numero_dpe;coordonnee_cartographique_x_ban;coordonnee_cartographique_y_ban"
    >>> rows = "\\n2159E0001;704500,5;7059500,2\\n2159E0002;0;0\\n"
    >>> _ = f.write_text(head + rows, encoding="utf-8-sig")
    >>> t = read_points(f)
    >>> t.attrs["separator"], point_positions(t)["statut_coordonnees"].tolist()
    (';', ['ok', 'absentes'])
    """
    src = resolve_input(path)
    if src.suffix.lower() in _VECTOR_SUFFIXES:
        try:
            if src.suffix.lower() == ".parquet":
                out = gpd.read_parquet(src)
            else:
                out = gpd.read_file(src, engine="pyogrio", layer=layer)
        except Exception as exc:  # pyogrio / pyarrow raise their own error families
            raise DataFormatError(f"{src}: cannot read as a vector layer: {exc}") from exc
        out.attrs.update(format="vector", separator=None)
    else:
        out, sep = _read_csv_text(src)
        out.attrs.update(format="csv", separator=sep)
    out.attrs["source"] = str(src)
    return out


__all__ = [
    "COORDINATE_LAYOUTS",
    "STATUT_COORDONNEES",
    "ZONES",
    "point_positions",
    "points_from_table",
    "read_points",
    "zone_of",
]
