"""Helpers shared by the readers: input resolution, tables, numbers, geometries.

Everything here knows about *file formats* (separators, encodings, header rows,
secrecy markers, invalid rings); the publisher-specific column names live in the
reader modules (:mod:`qpvgeo.readers.qpv`, :mod:`~qpvgeo.readers.insee`,
:mod:`~qpvgeo.readers.territories`).
"""

from __future__ import annotations

import csv
import glob
import io
import os
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, MissingCRSError, SchemaError
from qpvgeo.errors import QpvgeoWarning as QpvgeoWarning

PathLike = str | os.PathLike

#: File suffixes read as tables (everything else goes through pyogrio).
TABLE_SUFFIXES = frozenset({".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"})
#: Suffixes of vector files picked up when a directory is given.
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")

_SPACES = ("\u202f", "\u00a0", "\u2009", " ")
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def warn(message: str) -> None:
    """Issue a :class:`~qpvgeo.errors.QpvgeoWarning` attributed to the caller of qpvgeo.

    The warning points at the first frame outside the package (the analyst's line),
    however deep in the readers it was raised.
    """
    depth, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, depth = frame.f_back, depth + 1
    warnings.warn(message, QpvgeoWarning, stacklevel=depth + 1)


def resolve_input(path_or_name: PathLike) -> Path:
    """Return the local file behind ``path_or_name``; the one entry point of every reader.

    Today it accepts a path (``str`` or :class:`os.PathLike`; ``~`` is expanded) and
    checks that it exists. It is deliberately the single place where readers turn their
    argument into a file, so that the fetch layer can later teach it catalogue source
    names (``"qpv2024"``) without touching any reader.

    Parameters
    ----------
    path_or_name
        Path to a file or a directory.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataFormatError
        When nothing exists at that path (the message names it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "qpv.csv"
    >>> _ = f.write_text("code_qp\\n")
    >>> resolve_input(str(f)) == f
    True
    """
    if isinstance(path_or_name, str | os.PathLike):
        path = Path(path_or_name).expanduser()
    else:
        raise DataFormatError(
            f"expected a file path, got {type(path_or_name).__name__}: {path_or_name!r}"
        )
    # Lazy imports: readers must not pay for the fetch layer (requests, pooch) at import.
    from qpvgeo.fetch import fetch, record_local_file
    from qpvgeo.sources import CATALOGUE

    if not path.exists():
        # A catalogue source name ("qpv2024") is fetched, or found in the cache.
        if isinstance(path_or_name, str) and path_or_name in CATALOGUE:
            return fetch(path_or_name)
        raise DataFormatError(f"{path}: no such file or directory")
    if path.is_file():
        record_local_file(path)  # provenance of the files read this session
    return path


def resolve_many(
    path: PathLike | Sequence[PathLike], *, suffixes: Iterable[str] = VECTOR_SUFFIXES
) -> list[Path]:
    """Expand a path, a directory, a glob pattern or a list of them to files.

    A directory stands for the files in it with one of ``suffixes`` (sorted); a string
    with ``*``/``?``/``[`` is a glob. Each file goes through :func:`resolve_input`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("b.geojson", "a.geojson", "notes.md"):
    ...     _ = (d / n).write_text("{}")
    >>> [p.name for p in resolve_many(d)]
    ['a.geojson', 'b.geojson']
    """
    items = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not items:
        raise DataFormatError("no input file given (empty list)")
    suffixes = tuple(suffixes)
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if isinstance(text, str) and any(ch in text for ch in "*?[") and not Path(text).exists():
            matches = sorted(glob.glob(os.path.expanduser(text)))
            if not matches:
                raise DataFormatError(f"{text}: the pattern matches no file")
            out.extend(resolve_input(m) for m in matches)
            continue
        p = resolve_input(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes)
            if not found:
                raise DataFormatError(f"{p}: the folder holds no file ending in {list(suffixes)}")
            out.extend(found)
        else:
            out.append(p)
    return out


# -- column names -------------------------------------------------------------------


def clean_name(name: object) -> str:
    """Lower-case, stripped column name (INSEE headers carry stray spaces and BOMs)."""
    return str(name).replace("\ufeff", "").strip().lower()


def find_column(columns: Iterable[object], candidates: Iterable[str]) -> str | None:
    """First column of ``columns`` whose cleaned name is in ``candidates`` (in their order).

    Examples
    --------
    >>> find_column(["CODE_QP", "NOM_QP"], ["code_qpv", "code_qp"])
    'CODE_QP'
    """
    by_clean: dict[str, str] = {}
    for c in columns:
        by_clean.setdefault(clean_name(c), c)
    for cand in candidates:
        if cand in by_clean:
            return by_clean[cand]
    return None


# -- tables ---------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    # INSEE ships UTF-8 (with or without BOM); older exports are Windows-1252.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def sniff_separator(text: str) -> str:
    """Guess the field separator from the first lines (``;``, ``,``, tab or ``|``).

    Examples
    --------
    >>> sniff_separator('"CODGEO";"POP_MUN"\\n"QP001001";6490\\n')
    ';'
    """
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    best, best_score = ",", -1
    for sep in (";", ",", "\t", "|"):
        # Count outside quotes so that "Lille, Loos" in a ;-file does not vote for ",".
        counts = [len(row) - 1 for row in csv.reader(lines, delimiter=sep)]
        if not counts:
            continue
        score = int(np.median(counts))
        if score > best_score:
            best, best_score = sep, score
    return best


_SPREADSHEETS = frozenset({".xlsx", ".xlsm", ".xls"})


def _excel_rows(path: Path, *, sheet: str | int, nrows: int | None = None) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # pandas deprecates the xlrd engine; it is still the only reader of BIFF8 .xls.
            warnings.simplefilter("ignore")
            frame = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, nrows=nrows)
    except (ValueError, KeyError) as exc:
        raise DataFormatError(f"{path}: cannot read sheet {sheet!r}: {exc}") from exc
    except ImportError as exc:
        raise DataFormatError(f"{path}: reading this spreadsheet needs {exc.name}") from exc
    return frame.fillna("").astype(str)


def _sheet_names(path: Path) -> list[str | int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pd.ExcelFile(path) as book:
                return list(book.sheet_names)
    except ImportError as exc:
        raise DataFormatError(f"{path}: reading this spreadsheet needs {exc.name}") from exc
    except Exception as exc:  # openpyxl / xlrd raise their own error types
        raise DataFormatError(f"{path}: cannot open as a spreadsheet: {exc}") from exc


def _raw_rows(path: Path, *, sheet: str | int | None) -> pd.DataFrame:
    """Every cell of a CSV or spreadsheet as a string ("" when empty), no header."""
    if path.suffix.lower() in _SPREADSHEETS:
        return _excel_rows(path, sheet=0 if sheet is None else sheet)
    text = _decode(path.read_bytes())
    sep = sniff_separator(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)


def _header_row(raw: pd.DataFrame, wanted: set[str], max_header_row: int) -> int | None:
    for i in range(min(max_header_row, len(raw))):
        if any(clean_name(v) in wanted for v in raw.iloc[i].tolist()):
            return i
    return None


def read_table(
    path: PathLike,
    *,
    header_candidates: Iterable[str],
    sheet: str | int | None = None,
    max_header_row: int = 40,
) -> pd.DataFrame:
    """Read a CSV / xlsx / xls table whose header row holds one of ``header_candidates``.

    INSEE spreadsheets put titles, sources and field notes above the table; the header
    is the first row (among the first ``max_header_row``) with a cell equal to one of
    ``header_candidates`` (case- and space-insensitive). Without ``sheet``, the first
    sheet holding such a header is read (``ensemble.xlsx`` opens on its regions).
    Cells stay strings (``""`` when empty); unnamed all-empty columns (trailing
    ``;;;``) and all-empty rows are dropped.
    The separator (``;``, ``,``, tab) is sniffed and a UTF-8 BOM is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_text("Titre\\n\\nCODGEO;POP_MUN;;\\nQP059001;1 234;;\\n", encoding="utf-8-sig")
    >>> read_table(f, header_candidates=["codgeo"]).to_dict("list")
    {'CODGEO': ['QP059001'], 'POP_MUN': ['1 234']}
    """
    path = resolve_input(path)
    wanted = {clean_name(c) for c in header_candidates}
    if sheet is None and path.suffix.lower() in _SPREADSHEETS:
        # INSEE workbooks open on a documentation or region sheet: take the first sheet
        # whose top rows hold the header (only those rows are read while searching).
        names = _sheet_names(path)
        for name in names if len(names) > 1 else []:
            top = _excel_rows(path, sheet=name, nrows=max_header_row)
            if _header_row(top, wanted, max_header_row) is not None:
                sheet = name
                break
    raw = _raw_rows(path, sheet=sheet)
    header_row = _header_row(raw, wanted, max_header_row)
    if header_row is None:
        first = [v for v in raw.iloc[0].tolist() if v] if len(raw) else []
        raise SchemaError(
            f"{path}: no header row with a column among {sorted(wanted)} in the first "
            f"{max_header_row} rows; first row: {first}"
        )
    header = [str(v).replace("\ufeff", "").strip() for v in raw.iloc[header_row].tolist()]
    body = raw.iloc[header_row + 1 :].reset_index(drop=True)
    body.columns = range(body.shape[1])
    keep = [j for j, h in enumerate(header) if h or (body[j].str.strip() != "").any()]
    names = [header[j] or f"unnamed_{j}" for j in keep]
    frame = body[keep].copy()
    frame.columns = names
    frame = frame.loc[:, ~pd.Index(names).duplicated()]
    nonempty = (frame.apply(lambda s: s.str.strip()) != "").any(axis=1)
    return frame[nonempty].reset_index(drop=True)


# -- numbers ------------------------------------------------------------------------


def _normalise_number_text(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    for sp in _SPACES:
        s = s.str.replace(sp, "", regex=False)
    secret = s.isna() | s.str.lower().isin(schema.SECRECY_MARKERS)
    s = s.mask(secret)
    # Decimal comma (INSEE): "55,3" -> "55.3". A value never mixes both marks here.
    return s.str.replace(",", ".", regex=False)


def to_number(values: pd.Series) -> pd.Series:
    """Parse INSEE numbers: decimal commas, thousands spaces, secrecy markers -> NA.

    U+202F, U+00A0 and plain spaces are thousands separators; ``s``, ``nd``, ``ns``,
    ``c`` … (:data:`qpvgeo.schema.SECRECY_MARKERS`) and empty cells become NA, never 0.
    Anything else that does not parse is NA too (use :func:`is_numeric_text` first
    to decide whether a column is numeric at all).

    Examples
    --------
    >>> to_number(pd.Series(["6\\u202f490", "55,3", "s", "", "nd", "0"])).tolist()
    [6490.0, 55.3, nan, nan, nan, 0.0]
    """
    s = _normalise_number_text(values)
    return pd.to_numeric(s, errors="coerce").astype("float64")


def is_numeric_text(values: pd.Series) -> bool:
    """True when every non-secret value of ``values`` parses as a number.

    Examples
    --------
    >>> is_numeric_text(pd.Series(["1,5", "s", "2 000"])), is_numeric_text(pd.Series(["Lille"]))
    (True, False)
    """
    s = _normalise_number_text(values).dropna()
    if s.empty:
        return True
    return bool(pd.to_numeric(s, errors="coerce").notna().all())


def as_int64(values: pd.Series) -> pd.Series:
    """Numbers to nullable Int64 (NA kept); non-integers are an error, not truncated."""
    num = to_number(values)
    frac = num.dropna() % 1
    if (frac != 0).any():
        bad = num[frac.index[frac != 0]].head(3).tolist()
        raise DataFormatError(f"column {values.name!r}: non-integer values {bad}")
    return num.round().astype("Int64")


# -- names ------------------------------------------------------------------------------


def normalise_name(values: pd.Series) -> pd.Series:
    """Key for matching place names: no accents, case, hyphens, apostrophes, leading article.

    ``St``/``Ste`` count as ``Saint``/``Sainte``; a leading ``Le``/``La``/``Les``/``L'``
    is dropped (some COG derivatives store it apart).

    Examples
    --------
    >>> normalise_name(pd.Series(["Saint-Pol-sur-Mer", "ST POL SUR MER", "Le Barœul"])).tolist()
    ['saint pol sur mer', 'saint pol sur mer', 'baroeul']
    """

    def key(text: object) -> object:
        if not isinstance(text, str):
            return pd.NA
        t = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
        t = unicodedata.normalize("NFKD", t)
        t = "".join(ch for ch in t if not unicodedata.combining(ch)).lower()
        for ch in "-'’`_.,/()":
            t = t.replace(ch, " ")
        words = t.split()
        words = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
        # COG 2018 derivatives drop the article ("Portel" for "Le Portel"): ignore it.
        if len(words) > 1 and words[0] in {"le", "la", "les", "l"}:
            words = words[1:]
        return " ".join(words) if words else pd.NA

    return values.map(key).astype("string")


def split_list(values: pd.Series, *, sep: str = ",") -> pd.Series:
    """Split "a, b,  c," cells into lists of stripped, non-empty items (NA -> [])."""

    def split(v: object) -> list[str]:
        if not isinstance(v, str):
            return []
        return [x.strip() for x in v.split(sep) if x.strip()]

    # dtype=object: pandas 3 would store the lists as a pyarrow list column, whose items
    # come back as numpy arrays (whose truth value raises).
    return pd.Series([split(v) for v in values], index=values.index, dtype=object)


# -- geometries ---------------------------------------------------------------------------


def read_vector(
    path: Path, *, columns: Sequence[str] | None = None, layer=None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read a GeoJSON / GeoPackage / (zipped) shapefile with pyogrio; errors name the file."""
    try:
        return gpd.read_file(path, engine="pyogrio", layer=layer, columns=columns,
                             encoding=encoding)
    except Exception as exc:  # pyogrio raises its own DataSourceError / DataLayerError family
        raise DataFormatError(f"{path}: cannot read as a vector layer: {exc}") from exc


#: Columns of a CSV export that carry geometries (opendatasoft ``Geo Shape``, WKT).
GEOMETRY_TEXT_COLUMNS: tuple[str, ...] = ("geo_shape", "geo shape", "geometry", "geom", "wkt")


def read_geo_table(path: Path, *, header_candidates: Iterable[str]) -> gpd.GeoDataFrame:
    """Read a CSV export whose geometries are GeoJSON (opendatasoft) or WKT text.

    GeoJSON text is longitude/latitude by definition (EPSG:4326); WKT has no CRS, so
    the caller's ``crs=`` applies.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ods.csv"
    >>> shape = '"{""type"": ""Point"", ""coordinates"": [3.06, 50.63]}"'
    >>> _ = f.write_text("code_quartier;Geo Shape\\nQP059001;" + shape + "\\n")
    >>> read_geo_table(f, header_candidates=["code_quartier"]).crs.to_epsg()
    4326
    """
    table = read_table(path, header_candidates=header_candidates)
    gcol = find_column(table.columns, GEOMETRY_TEXT_COLUMNS)
    if gcol is None:
        raise SchemaError(
            f"{path}: a table of QPV contours needs a geometry column "
            f"({list(GEOMETRY_TEXT_COLUMNS)}); columns present: {list(table.columns)}"
        )
    text = table[gcol].astype("string").str.strip().replace("", pd.NA)
    present = text.notna().to_numpy()
    is_json = text.str.startswith("{").fillna(False).to_numpy()
    geoms = np.full(len(text), None, dtype=object)
    values = text.to_numpy(dtype=object)
    try:
        if is_json[present].all():
            geoms[present], crs = shapely.from_geojson(values[present]), "EPSG:4326"
        elif not is_json.any():
            geoms[present], crs = shapely.from_wkt(values[present]), None
        else:
            raise DataFormatError(f"{path}: column {gcol!r} mixes GeoJSON and WKT geometries")
    except shapely.errors.GEOSException as exc:
        raise DataFormatError(
            f"{path}: column {gcol!r} holds an unreadable geometry: {exc}"
        ) from exc
    drop = [c for c in table.columns if clean_name(c) in {*GEOMETRY_TEXT_COLUMNS, "geo point"}]
    rest = table.drop(columns=drop)
    return gpd.GeoDataFrame(rest, geometry=geoms, crs=crs)


def require_crs(
    frame: gpd.GeoDataFrame, *, crs: object | None, path: Path | str
) -> gpd.GeoDataFrame:
    """Apply ``crs`` when the file declares none; no CRS and no ``crs=`` is an error.

    The file's own CRS wins over ``crs=`` (which only fills a gap).
    """
    if frame.crs is None:
        if crs is None:
            raise MissingCRSError(
                f"{path}: the layer declares no CRS; pass crs= (e.g. crs='EPSG:2154' for "
                "Lambert-93 coordinates, crs='EPSG:4326' for longitude/latitude)"
            )
        frame = frame.set_crs(crs)
    elif crs is not None and not frame.crs.equals(pyproj.CRS.from_user_input(crs)):
        warn(f"{path}: the file declares {frame.crs.to_string()}; crs={crs!r} ignored")
    return frame


def canonical_polygons(
    frame: gpd.GeoDataFrame, *, crs: object | None, path: Path | str, id_column: str | None
) -> gpd.GeoDataFrame:
    """CRS check, repair in the file's own CRS, then EPSG:2154 (and repair what that broke)."""
    frame = require_crs(frame, crs=crs, path=path)
    frame = repair_polygons(frame, what=str(path), id_column=id_column)
    frame = schema.to_canonical_crs(frame, what=str(path))
    # Empty geometries were reported by the first pass.
    return repair_polygons(frame, what=f"{path} (after reprojection)", id_column=id_column,
                           report_empty=False)


def repair_polygons(
    frame: gpd.GeoDataFrame, *, what: str, id_column: str | None = None, report_empty: bool = True
) -> gpd.GeoDataFrame:
    """Make invalid geometries valid, keeping only their polygonal parts, and warn with the count.

    ``shapely.make_valid`` may return collections mixing polygons with the lines or
    points left by a self-intersection; the lower-dimensional leftovers carry no area
    and are dropped. A feature with no area at all once repaired (a ring collapsed to
    3 points by a simplification) is kept with an *empty* polygon, so that its code is
    not lost, and is named in the warning (``id_column`` gives the names).

    Examples
    --------
    >>> import warnings, geopandas as gpd
    >>> from shapely.geometry import Polygon
    >>> bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    >>> g = gpd.GeoDataFrame(geometry=[bowtie], crs=2154)
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     fixed = repair_polygons(g, what="demo")
    >>> bool(fixed.is_valid.all()), float(fixed.area.iloc[0])
    (True, 2.0)
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms)
    if missing.any():
        ids = (frame.loc[missing, id_column].tolist()[:10] if id_column
               else np.flatnonzero(missing)[:10].tolist())
        raise DataFormatError(f"{what}: {int(missing.sum())} feature(s) have no geometry: {ids}")
    empty = shapely.is_empty(geoms)
    if empty.any() and report_empty:
        ids = (frame.loc[empty, id_column].tolist()[:10] if id_column
               else np.flatnonzero(empty)[:10].tolist())
        warn(f"{what}: {int(empty.sum())} feature(s) have an empty geometry: {ids}")
    invalid = ~shapely.is_valid(geoms) & ~empty
    n_invalid = int(invalid.sum())
    if not n_invalid:
        return frame
    fixed = shapely.make_valid(geoms[invalid])
    parts, owner = shapely.get_parts(fixed, return_index=True)
    # make_valid may nest a MultiPolygon in a collection: explode that level too.
    nested = np.isin(shapely.get_type_id(parts), [6, 7])
    if nested.any():
        sub, sub_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][sub_owner]])
        order = np.argsort(owner, kind="stable")  # multipolygons() wants sorted indices
        parts, owner = parts[order], owner[order]
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    parts, owner = parts[keep], owner[keep]
    rebuilt = np.full(len(fixed), shapely.Polygon(), dtype=object)
    if len(parts):
        uniq, dense = np.unique(owner, return_inverse=True)
        rebuilt[uniq] = shapely.multipolygons(parts, indices=dense)
    lost = np.setdiff1d(np.arange(len(fixed)), owner)
    out = frame.copy()
    geoms = geoms.copy()
    geoms[invalid] = rebuilt
    out[out.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs=out.crs)
    message = (
        f"{what}: repaired {n_invalid} invalid geometry(ies) with make_valid "
        "(polygonal parts kept)"
    )
    if lost.size:
        ids = (frame[id_column].to_numpy()[np.flatnonzero(invalid)[lost]].tolist()
               if id_column else np.flatnonzero(invalid)[lost].tolist())
        message += (
            f"; {lost.size} of them have no area at all (degenerate rings) and are kept "
            f"with an empty geometry: {ids}"
        )
    warn(message)
    return out


# -- QPV codes ------------------------------------------------------------------------------


def qpv_millesime(codes: pd.Series, *, what: str) -> int:
    """The one QPV geography (2015 or 2024) of ``codes``; mixing both is an error.

    Raises :class:`~qpvgeo.errors.MixedMillesimeError` with examples of each kind, and
    :class:`~qpvgeo.errors.DataFormatError` naming codes that are neither.

    Examples
    --------
    >>> qpv_millesime(pd.Series(["QP059001", "QP062003"]), what="demo")
    2015
    """
    from qpvgeo.errors import MixedMillesimeError

    mill = codes.map(schema.millesime_of_code)
    bad = codes[mill.isna()]
    if len(bad):
        raise DataFormatError(
            f"{what}: {len(bad)} value(s) are not QPV codes (QPdddnnn or QNdddnnX): "
            f"{bad.astype(str).head(5).tolist()}"
        )
    kinds = sorted(set(mill.astype(int)))
    if len(kinds) > 1:
        ex15 = codes[mill == 2015].head(3).tolist()
        ex24 = codes[mill == 2024].head(3).tolist()
        raise MixedMillesimeError(
            f"{what}: the file mixes 2015 codes (e.g. {ex15}) and 2024 codes (e.g. {ex24}); "
            "read each geography from its own file"
        )
    if not kinds:
        raise DataFormatError(f"{what}: no QPV code found")
    return int(kinds[0])


def check_unique(codes: pd.Series, *, what: str, column: str) -> None:
    """Raise :class:`~qpvgeo.errors.DuplicateCodeError` naming repeated codes."""
    from qpvgeo.errors import DuplicateCodeError

    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        names = sorted(dup.astype(str).unique())
        raise DuplicateCodeError(
            f"{what}: {len(names)} {column} value(s) appear more than once: {names[:10]}"
            + (" …" if len(names) > 10 else "")
        )
