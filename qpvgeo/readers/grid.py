"""Reader of INSEE's grid files ("données carroyées": Filosofi 200 m, RP 2021 1 km).

INSEE publishes the Filosofi grid as GeoPackages, shapefiles and CSV files whose column
names changed between editions (2015: ``IdINSPIRE``, ``Ind``, ``Men``…; 2017:
``Idcar_200m``, ``Ind``…; 2019 and 2021: ``idcar_200m``, ``ind``…, the 2021 CSV
``,``-separated and without ``groupe``). :func:`read_filosofi_grid`
brings them all to one frame: INSEE's variables in lower case, the identifier as
``idcar_200m``, the lower-left corner of each square in EPSG:3035 as ``x_laea`` /
``y_laea`` and the 200 m square itself, rebuilt from the identifier in EPSG:3035 and
returned in Lambert-93 (EPSG:2154).
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, DuplicateCodeError, QpvgeoWarning
from qpvgeo.readers._common import resolve_many

__all__ = ["read_filosofi_grid", "cell_squares", "parse_cell_ids"]

#: Publisher column names (lower-cased) -> canonical names.
_ALIASES: dict[str, str] = {
    "idinspire": "idcar_200m",  # Filosofi 2015
    "id_carr1km": "idcar_1km",
    "id_carr_n": "idcar_nat",
    "i_est_cr": "i_est_200",
    "id_car2010": "idcar_2010",
    "idcar200m": "idcar_200m",
    "idcar1km": "idcar_1km",
}

#: Text columns of INSEE's dictionaries (2015, 2017, 2019).
_TEXT_COLUMNS: frozenset[str] = frozenset(
    {"idcar_200m", "idcar_1km", "idcar_nat", "idcar_2010", "lcog_geo", "depcom"}
)
#: Flag / group columns of INSEE's dictionaries, integers. ``i_est_200`` / ``i_est_1km``
#: flag the imputed squares (1: fewer than 11 fiscal households, values imputed by
#: INSEE; Filosofi 2019 and 2021), ``carreau_traite_secret`` the squares of the RP 2021
#: grid whose values were altered for secrecy.
_FLAG_COLUMNS: frozenset[str] = frozenset(
    {"i_est_200", "i_est_1km", "i_pauv", "groupe", "i_est_cr", "carreau_traite_secret"}
)
#: Count and sum variables of INSEE's dictionaries (plus any ``ind_*``, ``men_*``,
#: ``log_*`` column a future edition adds); ``pop*`` and ``c21_*`` are the RP 2021
#: 1 km grid's (``pop``, ``pop0014``, ``popf``…, ``c21_act1564_cs1``…).
_VALUE_PREFIXES: tuple[str, ...] = ("ind", "men", "log", "pop", "c21")

_RP_POP = re.compile(r"pop(\d{4}|\d\dp|f|h|fr|ue|horsue|migr0|migrfr|migrhorsfr)?")

#: Square identifiers, in order of preference.
_ID_COLUMNS: tuple[str, ...] = ("idcar_200m", "idcar_1km")

_GRID_SUFFIXES = (".csv", ".gpkg", ".shp", ".geojson", ".zip", ".fgb")

_ID_PATTERN = r"^CRS(?P<epsg>\d+)RES(?P<res>\d+)mN(?P<north>\d+)E(?P<east>\d+)$"


def _is_value_column(name: str) -> bool:
    if name.startswith("pop"):
        # RP 2021 names have no underscore (pop0014, pop65p, popmigrfr…); a third party's
        # commune ``population`` (the 2019 sample) is not a grid variable
        return _RP_POP.fullmatch(name) is not None
    return name in _VALUE_PREFIXES or name.startswith(tuple(p + "_" for p in _VALUE_PREFIXES))


def _id_bytes(ids: pd.Series) -> np.ndarray | None:
    """The identifiers as an ``(n, width)`` uint8 matrix, zero-padded; None if not ASCII.

    Arrow-backed strings (pandas' default string dtype with pyarrow, a CSV read by
    pyarrow, a layer read by pyogrio) whose identifiers all have the same length (30
    characters for every square of metropolitan France) are viewed in place, with no
    Python object per identifier.
    """
    try:
        import pyarrow as pa
    except ImportError:
        pa = None
    arrow_backed = (getattr(ids.dtype, "storage", None) == "pyarrow"
                    or isinstance(ids.dtype, pd.ArrowDtype))
    if pa is not None and len(ids) and arrow_backed:
        try:
            arr = pa.array(ids.array)  # zero-copy for arrow-backed arrays
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            arr = None
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if arr is not None and pa.types.is_large_string(arr.type):
            arr = arr.cast(pa.string())
        if arr is not None and pa.types.is_string(arr.type) and arr.null_count == 0:
            n = len(arr)
            offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + n + 1]
            lengths = np.diff(offsets)
            w = int(lengths[0])
            if w > 0 and (lengths == w).all():
                data = np.frombuffer(arr.buffers()[2], np.uint8)
                return data[offsets[0]:offsets[0] + n * w].reshape(n, w)
    values = ids.to_numpy(dtype=object, na_value="")
    if len(values):
        # Python strings of one width (all of metropolitan France's): joined once with a
        # separator and viewed as rows. Exact: the n - 1 separators land in the last
        # column only if every identifier has the width of the first, and a row is then
        # one identifier (the format checks reject a separator anywhere else).
        try:
            joined = "\n".join(values).encode("ascii")
        except (TypeError, UnicodeEncodeError):
            return None
        w = len(values[0]) + 1
        if len(joined) + 1 == w * len(values):
            mat = np.frombuffer(joined + b"\n", np.uint8).reshape(len(values), w)
            if (mat[:, -1] == 10).all() and not (mat[:, :-1] == 10).any():
                return mat[:, :-1]
    try:
        raw = np.asarray(values, dtype="S")
    except (UnicodeEncodeError, ValueError):
        return None
    n, w = len(raw), raw.dtype.itemsize
    return raw.view(np.uint8).reshape(n, w)


def _digits(mat: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    """The integer written in columns ``lo:hi`` of every row; None if not all digits."""
    n, k = len(mat), hi - lo
    block = mat[:, lo:hi] - np.uint8(48)
    if k == 0 or k > 15 or (block > 9).any():  # wrapped below '0' or above '9'
        return None
    if k <= 8:
        # eight digits at once in a uint64 (SWAR): pairs, then quadruples, then octets;
        # the first digit (most significant) sits in the lowest byte (little-endian)
        buf = np.zeros((n, 8), np.uint8)
        buf[:, 8 - k:] = block
        v = buf.view("<u8").ravel()
        v = (v * np.uint64(2561)) >> np.uint64(8)  # 2561 = 10 * 2**8 + 1
        v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
        v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
        return v.astype(np.int64)
    # up to 15 digits: a float64 product is exact (integers below 2**53)
    return (block.astype(np.float64) @ (10.0 ** np.arange(k - 1, -1, -1))).astype(np.int64)


def _parse_fixed(ids: pd.Series) -> pd.DataFrame | None:
    """Fast path for well-formed ``CRS3035RES…mN…E…`` identifiers; None if any is not."""
    parsed = _parse_fixed_arrays(ids)
    if parsed is None:
        return None
    res, east, north = parsed
    return pd.DataFrame({"res": res, "x_laea": east, "y_laea": north}, index=ids.index)


_ZEROS = np.uint64(0x3030303030303030)  # eight ASCII '0'
_HIGH = np.uint64(0xF0F0F0F0F0F0F0F0)


def _words(mat: np.ndarray, end: int) -> np.ndarray | None:
    """Bytes ``end - 8 : end`` of every row as one little-endian uint64, in place."""
    buf, start = mat, 0
    if not mat.flags.c_contiguous:  # rows cut from a wider matrix (Python strings joined)
        buf = mat.base
        if not isinstance(buf, np.ndarray) or not buf.flags.c_contiguous:
            return None
        start = mat.__array_interface__["data"][0] - buf.__array_interface__["data"][0]
    return np.ndarray((len(mat),), "<u8", buffer=buf, offset=start + end - 8,
                      strides=(mat.strides[0],))


def _swar_digits(d: np.ndarray) -> np.ndarray:
    """Eight digit values per uint64 (most significant in the lowest byte) to integers."""
    d *= np.uint64(2561)  # 2561 = 10 * 2**8 + 1: pairs of digits (in place: no new pages)
    d >>= np.uint64(8)
    d &= np.uint64(0x00FF00FF00FF00FF)
    d *= np.uint64(6553601)  # quadruples
    d >>= np.uint64(16)
    d &= np.uint64(0x0000FFFF0000FFFF)
    d *= np.uint64(42949672960001)  # octets
    d >>= np.uint64(32)
    return d.view(np.int64)


def _parse_one_layout(mat: np.ndarray, m0: int, e0: int) -> tuple[np.ndarray, ...] | None:
    """Identifiers that all have the layout of the first row, read 8 bytes at a time.

    Each number (resolution, northing, easting: at most 7 digits each, as in every INSEE
    square) is read with the letter before or after it as one uint64 straight from the
    identifiers' bytes; the bytes that are not digits must equal the first row's
    (``CRS3035RES``, ``m``, ``N``, ``E``) and the digits be digits, both checked with
    byte-parallel bit masks, then the digits become a number with three multiplications
    (SWAR). None when the layout does not allow it (the caller falls back to slices).
    """
    n, w = mat.shape
    fields = ((10, m0), (m0 + 2, e0), (e0 + 1, w))  # res, north, east
    if mat.strides[1] != 1 or any(not 1 <= hi - lo <= 7 or hi < 8 for lo, hi in fields):
        return None
    is_digit = np.zeros(w, bool)
    covered = np.zeros(w, bool)
    checks = []
    for k, (lo, hi) in enumerate(fields):
        # one word per number, ending at its last digit; the resolution's also holds
        # the 'm' after it, so that with the prefix's first word four words cover the
        # 30 bytes of a 200 m identifier
        end = hi + 1 if k == 0 else hi
        checks.append((end, lo, hi))
        covered[end - 8:end] = True
        is_digit[lo:hi] = True
    while not covered.all():  # letters no number's word holds: one more word
        end = min(int(np.flatnonzero(~covered)[0]) + 8, w)
        checks.append((end, None, None))
        covered[end - 8:end] = True
    row0 = mat[0].tobytes()
    plan = []
    for end, lo, hi in checks:
        digit = is_digit[end - 8:end]
        dmask = int.from_bytes(np.where(digit, 0xFF, 0).astype(np.uint8).tobytes(), "little")
        # letters equal the first row's, digits' high nibble is 3 ...
        expect = int.from_bytes(row0[end - 8:end], "little") & ~dmask | 0x3030303030303030 & dmask
        care = ~dmask & 0xFFFFFFFFFFFFFFFF | 0xF0F0F0F0F0F0F0F0 & dmask
        # the number's own digits (another number's may share the word: checked in its own)
        own = np.zeros(8, bool)
        if lo is not None:
            own[lo - (end - 8):hi - (end - 8)] = True
        fmask = int.from_bytes(np.where(own, 0xFF, 0).astype(np.uint8).tobytes(), "little")
        v = _words(mat, end)
        if v is None:
            return None
        plan.append((v, lo, np.uint64(expect), np.uint64(care),
                     np.uint64(0x0F0F0F0F0F0F0F0F & fmask), np.uint64(0x0606060606060606 & fmask),
                     np.uint64(8 * (end - hi)) if lo is not None else None))
    out = {lo: np.empty(n, np.int64) for _, lo, *_ in plan if lo is not None}
    step = 1 << 15  # rows per block: the temporaries stay in the CPU cache
    for a in range(0, n, step):
        b = min(a + step, n)
        for v, lo, expect, care, low_mask, six, shift in plan:
            bad = np.bitwise_xor(v[a:b], expect)
            bad &= care
            if lo is not None:
                d = np.bitwise_and(v[a:b], low_mask)  # the digits' values
                # ... and their low nibble at most 9 (adding 6 carries into the high one)
                over = d + six
                over &= _HIGH
                bad |= over
                if shift:  # the letter after the number: shifted out, a leading 0 in
                    d <<= shift
                out[lo][a:b] = _swar_digits(d)  # the other bytes are leading zeros
            if np.count_nonzero(bad):
                return None
    return out[10], out[e0 + 1], out[m0 + 2]


def _parse_fixed_arrays(ids: pd.Series) -> tuple[np.ndarray, ...] | None:
    mat = _id_bytes(ids)
    if mat is None:
        return None
    n, w = mat.shape
    if n == 0 or w < 17:
        return None
    if not (mat[0, :10] == np.frombuffer(b"CRS3035RES", np.uint8)).all():
        return None
    first = mat[0].tobytes().rstrip(b"\0")
    m0, e0 = first.find(b"m"), first.rfind(b"E")
    if (len(first) == w and m0 > 10 and e0 > m0 + 2
            and first[m0 + 1:m0 + 2] == b"N" and first[m0 + 2:e0].isdigit()
            and first[10:m0].isdigit() and first[e0 + 1:].isdigit()):
        # one width, one layout (every square of a national file): each number read in
        # place 8 bytes at a time, else with fixed slices (the digit checks reject any
        # other letter in them)
        fast = _parse_one_layout(mat, m0, e0)
        if fast is not None:
            return fast
        if ((mat[:, :10] == np.frombuffer(b"CRS3035RES", np.uint8)).all()
                and (mat[:, [m0, m0 + 1, e0]] == np.frombuffer(b"mNE", np.uint8)).all()):
            out = [_digits(mat, 10, m0), _digits(mat, m0 + 2, e0), _digits(mat, e0 + 1, w)]
            if any(v is None for v in out):
                return None
            res, north, east = out
            return res, east, north
    if not (mat[:, :10] == np.frombuffer(b"CRS3035RES", np.uint8)).all():
        return None
    zero = mat == 0
    length = np.where(zero.any(axis=1), zero.argmax(axis=1), w)
    pos_m = (mat == ord("m")).argmax(axis=1)
    pos_n = (mat == ord("N")).argmax(axis=1)
    pos_e = (w - 1) - (mat[:, ::-1] == ord("E")).argmax(axis=1)
    if not ((pos_m > 10) & (pos_n == pos_m + 1) & (pos_e > pos_n + 1)
            & (length > pos_e + 1)).all():
        return None
    res = np.empty(n, np.int64)
    north = np.empty(n, np.int64)
    east = np.empty(n, np.int64)
    # identifiers share a few layouts (digit counts): parse each layout's rows with
    # fixed slices
    layout = (pos_m * (w + 1) + pos_e) * (w + 1) + length  # one integer per layout
    kinds, which = np.unique(layout, return_inverse=True)
    for k, code in enumerate(kinds):
        m, e, ln = code // (w + 1) ** 2, code // (w + 1) % (w + 1), code % (w + 1)
        rows = np.flatnonzero(which == k)
        sub = mat[rows]
        for out, lo, hi in ((res, 10, m), (north, m + 2, e), (east, e + 1, ln)):
            value = _digits(sub, lo, hi)
            if value is None:
                return None
            out[rows] = value
    return res, east, north


def _off_lattice(res: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squares whose corner is not a multiple of their size (one size: a scalar modulo)."""
    r = res[0] if len(res) and (res == res[0]).all() else res
    with np.errstate(divide="ignore", invalid="ignore"):  # a size of 0 is off too
        off = x % r != 0
        off |= y % r != 0
    off |= res <= 0
    return off


def _check_lattice(corners: pd.DataFrame, ids: pd.Series, *, what: str, files=None) -> None:
    """A square whose corner is not a multiple of its size is not one of INSEE's."""
    _raise_off_lattice(_off_lattice(corners["res"].to_numpy(), corners["x_laea"].to_numpy(),
                                    corners["y_laea"].to_numpy()), ids, what=what, files=files)


def _raise_off_lattice(bad: np.ndarray, ids: pd.Series, *, what: str, files=None) -> None:
    if bad.any():
        where = ""
        if files is not None:
            names = pd.Series(files).iloc[np.flatnonzero(bad)].astype(str).unique()
            where = f" (in {sorted(names)})"
        raise DataFormatError(
            f"{what}: {int(bad.sum())} identifier(s) off INSEE's lattice (the corner must be a "
            f"multiple of the square's size){where}, e.g. "
            f"{ids.iloc[np.flatnonzero(bad)[:3]].astype(str).tolist()}"
        )


def _cell_corners(ids: pd.Series, *, what: str = "idcar_200m") -> tuple[np.ndarray, ...]:
    """``(res, x_laea, y_laea)`` int64 arrays of checked identifiers, with no frame.

    What :func:`parse_cell_ids` returns, for callers that only need the numbers (a grid
    read with geopandas, whose corners ``grid_population`` takes from the identifiers).
    """
    fast = _parse_fixed_arrays(ids)
    if fast is None:
        c = parse_cell_ids(ids, what=what)
        return c["res"].to_numpy(), c["x_laea"].to_numpy(), c["y_laea"].to_numpy()
    res, east, north = fast
    _raise_off_lattice(_off_lattice(res, east, north), ids, what=what)
    return res, east, north


def parse_cell_ids(ids: pd.Series, *, what: str = "idcar_200m", files=None) -> pd.DataFrame:
    """Split INSEE grid identifiers into resolution and lower-left corner (EPSG:3035).

    ``CRS3035RES200mN2890400E3767200`` is the 200 m square whose lower-left corner is
    at northing 2,890,400 m and easting 3,767,200 m in ETRS89-LAEA (EPSG:3035).

    Parameters
    ----------
    ids : Series of str
        Identifiers such as ``idcar_200m`` (2017, 2019) or ``IdINSPIRE`` (2015).
    what : str
        Name used in error messages (file or column).
    files : Series, optional
        The file each identifier comes from, named in error messages.

    Returns
    -------
    DataFrame
        ``res`` (metres), ``x_laea`` (easting), ``y_laea`` (northing), int64, indexed
        like ``ids``.

    Raises
    ------
    DataFormatError
        When an identifier does not follow INSEE's pattern, is not in EPSG:3035, or is
        off INSEE's lattice (a corner that is not a multiple of the square's size); the
        message names ``what`` and the first bad identifiers.

    Examples
    --------
    >>> parse_cell_ids(pd.Series(["CRS3035RES200mN2890400E3767200"])).iloc[0].tolist()
    [200, 3767200, 2890400]
    """
    fast = _parse_fixed(ids)
    if fast is not None:
        _check_lattice(fast, ids, what=what, files=files)
        return fast
    # slow path: stray spaces, other CRS, malformed identifiers (named in the error)
    parts = ids.astype("string").str.strip().str.extract(_ID_PATTERN)
    bad = parts["east"].isna()
    if bad.any():
        examples = ids[bad].astype(str).head(3).tolist()
        raise DataFormatError(
            f"{what}: {int(bad.sum())} identifier(s) do not follow INSEE's "
            f"'CRS3035RES200mN<north>E<east>' pattern, e.g. {examples}"
        )
    epsg = parts["epsg"].unique()
    if list(epsg) != ["3035"]:
        raise DataFormatError(f"{what}: grid identifiers in CRS {list(epsg)}, expected 3035 only")
    out = pd.DataFrame(
        {
            "res": parts["res"].astype(np.int64),
            "x_laea": parts["east"].astype(np.int64),
            "y_laea": parts["north"].astype(np.int64),
        },
        index=ids.index,
    )
    _check_lattice(out, ids, what=what, files=files)
    return out


def cell_squares(x_laea, y_laea, res: float = 200.0, *, crs: str | None = schema.CRS):
    """Build the grid squares from their lower-left corners in EPSG:3035.

    Parameters
    ----------
    x_laea, y_laea : array-like
        Lower-left corner of each square in EPSG:3035 (metres).
    res : float
        Side of the squares in metres.
    crs : str or None
        CRS of the returned squares; ``None`` keeps them in EPSG:3035.

    Returns
    -------
    GeoSeries
        One square per corner; in EPSG:2154 they are INSEE's squares reprojected (slightly
        rotated quadrilaterals, as in INSEE's own Lambert-93 shapefiles).

    Examples
    --------
    >>> sq = cell_squares([3767200], [2890400], crs=None)
    >>> sq.iloc[0].bounds, round(sq.area.iloc[0])
    ((3767200.0, 2890400.0, 3767400.0, 2890600.0), 40000)
    """
    x = np.asarray(x_laea, dtype="float64")
    y = np.asarray(y_laea, dtype="float64")
    n = len(x)
    # by blocks of squares: the corners of a national grid (2.3 million squares) would
    # take 330 MB of temporary arrays at once; two threads when there are two CPUs
    # (pyproj releases the GIL while it transforms one block, GEOS builds another)
    step = _SQUARES_BLOCK
    starts = range(0, n, step)
    if n > step and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(2) as pool:
            parts = list(pool.map(lambda a: _squares(x[a:a + step], y[a:a + step], res, crs),
                                  starts))
    else:
        parts = [_squares(x[a:a + step], y[a:a + step], res, crs) for a in starts]
    squares = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    return gpd.GeoSeries(squares, crs=schema.GRID_CRS if crs is None else crs)


#: Squares built per block by :func:`cell_squares` (20 MB of corner coordinates).
_SQUARES_BLOCK = 1 << 18


def _squares(x: np.ndarray, y: np.ndarray, res: float, crs) -> np.ndarray:
    """The squares of lower-left corners ``x``, ``y`` (EPSG:3035), in ``crs``.

    The 4 corners counter-clockwise from the lower-left one go in two contiguous
    ``(n, 4)`` arrays that pyproj transforms in place (one transformer per call: pyproj
    transformers are not shared between threads); each corner is transformed by the
    same PROJ pipeline whatever the block, so the result is bit-identical.
    """
    n = len(x)
    xs = np.empty((n, 4))
    ys = np.empty((n, 4))
    xs[:, 0] = xs[:, 3] = x
    xs[:, 1] = xs[:, 2] = x + res
    ys[:, 0] = ys[:, 1] = y
    ys[:, 2] = ys[:, 3] = y + res
    if crs is not None:
        from pyproj import Transformer

        tr = Transformer.from_crs(schema.GRID_CRS, crs, always_xy=True)
        tr.transform(xs.reshape(-1), ys.reshape(-1), inplace=True)  # views: in place
    coords = np.empty((n, 5, 2))
    coords[:, :4, 0] = xs
    coords[:, :4, 1] = ys
    # the ring closed on its first corner (bit-identical, not transformed twice)
    coords[:, 4] = coords[:, 0]
    return shapely.from_ragged_array(
        shapely.GeometryType.POLYGON,
        coords.reshape(5 * n, 2),
        (np.arange(0, 5 * n + 1, 5), np.arange(n + 1)),
    )


def _canonical_name(name: object) -> str:
    low = str(name).strip().lower()
    return _ALIASES.get(low, low)


def _csv_dialect(path: Path) -> tuple[str, str, list[str]]:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    # INSEE and R's write.csv2 write ';' with decimal commas; write.csv and INSEE's
    # 2017 and 2021 CSV use ',' with decimal points.
    sep = ";" if header.count(";") >= header.count(",") else ","
    decimal = "," if sep == ";" else "."
    names = next(csv.reader([header.strip("\r\n")], delimiter=sep))
    return sep, decimal, names


def _na_markers() -> list[str]:
    return ["", *sorted(m for m in schema.SECRECY_MARKERS if m),
            *sorted(m.upper() for m in schema.SECRECY_MARKERS if m)]


def _kept(name: str) -> bool:
    return name in _TEXT_COLUMNS or name in _FLAG_COLUMNS or _is_value_column(name)


def _read_csv_arrow(path: Path, sep: str, decimal: str, names: list[str]) -> pd.DataFrame | None:
    """pyarrow's multithreaded CSV reader, reading only the grid's columns.

    The national file (2.3 million rows, 352 MB) is read in about a second instead of
    15 s with pandas' C parser. Returns None when pyarrow is missing or the file is not
    plain (thousands separators, stray text in a number column, odd encoding…): the
    pandas reader then reads it and names what is wrong.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    canonical = [_canonical_name(n) for n in names]
    if len(set(canonical)) != len(canonical):
        return None  # the pandas path raises the "appear twice" error
    include = [n for n, c in zip(names, canonical, strict=True) if _kept(c)]
    # large_string: the type of pandas' arrow-backed strings (no cast, no copy)
    types = {n: pa.large_string() if _canonical_name(n) in _TEXT_COLUMNS else pa.float64()
             for n in include}
    try:
        # in a list that _arrow_to_frame empties: no reference left here to the table
        tables = [pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=include, null_values=_na_markers(),
                strings_can_be_null=True, decimal_point=decimal, quoted_strings_can_be_null=True,
            ),
        )]
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    frame = _arrow_to_frame(tables)
    frame.attrs["dropped_names"] = [n for n in names if n not in include]
    return frame


def _arrow_to_frame(tables: list) -> pd.DataFrame:
    """The table as a frame, one column at a time, each arrow column freed once converted.

    The national table is ~490 MB (numbers as float64, identifiers as text): converting
    it whole, then consolidating the float columns into one block, held two copies at
    once. Here each number column becomes one float64 array (NaN where the CSV had a
    null) and each text column one contiguous arrow string array (pandas' string
    dtype, no Python object), and the frame is built without consolidation, so the
    peak is the table plus one column. The chunks were allocated by the reader's
    threads: pyarrow's allocator (mimalloc) reuses their memory for the next column
    only once asked to collect it (``release_unused``), else the peak is ~300 MB
    higher (measured: 910 MB instead of 1,190-1,380 MB for the national file).
    """
    import pyarrow as pa

    table = tables.pop()
    pool = pa.default_memory_pool()
    string_dtype = pd.StringDtype()
    columns: dict[str, object] = {}
    n = table.num_rows
    while table.num_columns:
        name, col = table.column_names[0], table.column(0)
        table = table.remove_column(0)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            # one chunk, copied out of the reader's blocks (which can then all be freed:
            # kept in place, they pin ~300 MB of the table); pandas' string dtype
            columns[name] = string_dtype.__from_arrow__(pa.chunked_array([col.combine_chunks()]))
        else:
            columns[name] = col.to_numpy()  # float64, NaN for nulls
        del col
        pool.release_unused()
    # copy=False: no consolidation of the float columns into one block (a 220 MB copy)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


def _read_csv(path: Path, *, engine: str = "auto") -> pd.DataFrame:
    sep, decimal, names = _csv_dialect(path)
    if engine == "auto":
        frame = _read_csv_arrow(path, sep, decimal, names)
        if frame is not None:
            frame.attrs["decimal"] = decimal
            return frame
    # Text columns stay text; the C parser reads the numbers; a column it cannot read as
    # numbers goes through _to_number, which names the bad values.
    dtype = {n: "string" for n in names if _canonical_name(n) in _TEXT_COLUMNS}
    frame = pd.read_csv(
        path, sep=sep, decimal=decimal, dtype=dtype, keep_default_na=False,
        na_values=_na_markers(), encoding="utf-8-sig", low_memory=False,
    )
    frame.attrs["decimal"] = decimal
    return frame


#: First or last bytes that may be (part of) whitespace for ``str.strip``: ASCII
#: whitespace, the ASCII separators 28-31 (Python's ``isspace``), any non-ASCII byte.
_MAY_STRIP = np.zeros(256, bool)
_MAY_STRIP[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_MAY_STRIP[128:] = True


def _stripped(values: pd.Series) -> pd.Series:
    """``values.astype("string").str.strip()``, without the copy when nothing is to strip.

    A text column read by pyarrow is arrow (large) string data: the first and last byte
    of every value are looked at in place (2.3 M identifiers: a few milliseconds instead
    of a 70-80 MB copy per column); anything that may be whitespace, non-ASCII included,
    takes the full ``str.strip``.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        import pyarrow as pa

        arr = pa.array(values.array)  # zero-copy: the arrow data behind the column
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        if all(not _may_strip(a) for a in chunks):
            return values
    return values.astype("string").str.strip()


def _may_strip(a) -> bool:
    """Whether a value of the arrow (large) string array ``a`` may start or end with a space."""
    import pyarrow as pa

    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        return True
    if len(a) == 0:
        return False
    width = np.int64 if pa.types.is_large_string(a.type) else np.int32
    off = np.frombuffer(a.buffers()[1], width)[a.offset:a.offset + len(a) + 1]
    data = a.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    start, stop = off[:-1], off[1:]
    full = stop > start  # nulls and empty strings have no byte
    if not full.all():
        start, stop = start[full], stop[full]
    return bool(_MAY_STRIP[data[start]].any() or _MAY_STRIP[data[stop - 1]].any())


def _to_number(values: pd.Series, *, decimal: str, what: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")  # no copy when already float64 (copy-on-write)
    s = values.astype("string").str.strip()
    s = s.str.replace("\u202f", "", regex=False).str.replace("\u00a0", "", regex=False)
    if decimal == ",":
        s = s.str.replace(",", ".", regex=False)
    s = s.mask(s.str.lower().isin(schema.SECRECY_MARKERS))
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna()
    if bad.any():
        raise DataFormatError(
            f"{what}: {int(bad.sum())} value(s) are not numbers, e.g. {s[bad].head(3).tolist()}"
        )
    return out.astype("float64")


def _read_one(
    path: Path, *, crs, dropped_log: dict[str, list[str]], engine: str = "auto"
) -> tuple[pd.DataFrame, gpd.GeoSeries | None]:
    already_dropped: list[str] = []
    if path.suffix.lower() == ".csv":
        frame = _read_csv(path, engine=engine)
        decimal = frame.attrs["decimal"]
        already_dropped = [_canonical_name(n) for n in frame.attrs.get("dropped_names", [])]
        geometry = None
    else:
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises its own errors; name the file
            raise DataFormatError(f"{path}: cannot read the grid file ({exc})") from exc
        decimal = "."
        if frame.crs is None:
            if crs is None:
                from qpvgeo.errors import MissingCRSError

                raise MissingCRSError(f"{path}: the grid layer has no CRS; pass crs=")
            frame = frame.set_crs(crs)
        geometry = frame.geometry
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    frame = frame.rename(columns=_canonical_name)
    # R's write.csv2 adds the row names as a first column with an empty header.
    frame = frame.drop(columns=[c for c in frame.columns if c == "" or c.startswith("unnamed")])
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise DataFormatError(f"{path}: columns {dup} appear twice once lower-cased")
    keep, dropped = [], []
    for col in frame.columns:
        (keep if _kept(col) else dropped).append(col)
    dropped += [c for c in already_dropped if c != "" and not c.startswith("unnamed")]
    if dropped:
        dropped_log[path.name] = dropped
    frame = frame[keep]  # a new frame (copy-on-write): the columns below replace its own
    for col in keep:
        if col in _TEXT_COLUMNS:
            frame[col] = _stripped(frame[col])
        else:
            frame[col] = _to_number(frame[col], decimal=decimal, what=f"{path.name}, column {col}")
    for col in _FLAG_COLUMNS & set(keep):
        if frame[col].notna().all() and (frame[col] % 1 == 0).all():
            frame[col] = frame[col].astype("Int64")
    frame.attrs = {}
    return frame, geometry


def _all_distinct(corners: pd.DataFrame, res: float) -> bool:
    """True when no two rows hold the same square; False when some may (then hashed).

    A national file lists its squares in identifier order (northing, then easting: both
    have seven digits in metropolitan France), so strictly increasing keys prove it in
    one pass; otherwise a byte per square of the grid's extent (national 200 m grid:
    ~35 M squares, 35 MB) counts the distinct ones. Hashing 2.3 M keys costs 0.3-0.5 s.
    """
    x, y = corners["x_laea"].to_numpy(), corners["y_laea"].to_numpy()
    n = len(x)
    if n < 2:
        return True
    for key in (y * (1 << 32) + x, x * (1 << 32) + y):
        if (key[1:] > key[:-1]).all():
            return True
    step = int(res)
    x0, y0 = int(x.min()), int(y.min())
    nx, ny = (int(x.max()) - x0) // step + 1, (int(y.max()) - y0) // step + 1
    if nx * ny > 1 << 26:
        return False  # a sparse extent (several regions far apart): hashed instead
    # the corners are on the lattice (checked by parse_cell_ids): exact cell numbers
    seen = np.zeros(nx * ny, bool)
    seen[(y - y0) // step * nx + (x - x0) // step] = True
    return int(np.count_nonzero(seen)) == n


def read_filosofi_grid(
    path, *, crs=None, geometry: bool = True, engine: str = "auto"
) -> gpd.GeoDataFrame:
    """Read INSEE grid files (Filosofi 2015, 2017, 2019, 2021; RP 2021 1 km) into one frame.

    Accepts a GeoPackage / shapefile, a CSV (``;`` with decimal commas, as INSEE and
    R's ``write.csv2`` write them, or ``,`` with decimal points, as in INSEE's 2017 and
    2021 CSV), a folder of such files (e.g. one CSV per département) or a list of files.
    The 1 km grids (Filosofi 1 km, the census RP 2021 grid: ``pop``, ``pop0014``…,
    ``carreau_traite_secret``) are identified by ``idcar_1km`` and give 1 km squares.

    The squares are always rebuilt from the identifiers (lower-left corner in
    EPSG:3035, INSEE's convention, checked against INSEE's own geometry in the tests):
    extracts are often cut at a commune or métropole boundary while their values stay
    those of the whole square, so the whole square is the right support for areal
    weighting. A file without identifiers but with geometry gets them from the
    geometry (corner of the 200 m cell holding each polygon's representative point).

    Parameters
    ----------
    path : str, Path, or list of them
        File(s) or folder.
    crs : optional
        CRS of a geometry layer that has none (ignored for CSV files).
    geometry : bool
        Build the squares (default). ``False`` returns a plain DataFrame with the
        corners ``x_laea`` / ``y_laea`` only: all :func:`qpvgeo.interpolate.grid_population`
        needs, and much lighter for a national file (2.3 million squares).
    engine : {"auto", "pandas"}
        CSV parser: ``"auto"`` uses pyarrow's multithreaded reader when pyarrow is
        installed (the national file in about 2 s instead of 15 s) and pandas' otherwise
        or for a file pyarrow cannot read as plain numbers (thousands separators…);
        ``"pandas"`` forces pandas'. Both give the same frame.

    Returns
    -------
    GeoDataFrame
        ``idcar_200m``, INSEE's variables in lower case (``ind``, ``men``,
        ``men_pauv``, ``ind_snv``…, ``i_est_200`` / ``i_est_1km`` flags), ``x_laea``,
        ``y_laea`` (lower-left corner in EPSG:3035, int64), geometry: the square in
        EPSG:2154. 2015 names are mapped (``IdINSPIRE`` -> ``idcar_200m``,
        ``I_est_cr`` -> ``i_est_200``, ``Id_carr1km`` -> ``idcar_1km``). The imputed-square
        flags (``i_est_200``, ``i_est_1km``: 1 where INSEE imputed the values of a square
        of fewer than 11 households) and ``carreau_traite_secret`` are kept as ``Int64``
        columns. ``attrs["cell_size"]`` holds the side in metres. Columns that
        are not Filosofi variables are dropped with a :class:`QpvgeoWarning`. A square
        present in several files is kept once (with a warning) when its values agree.

    Raises
    ------
    DataFormatError
        Unreadable file, no identifier and no geometry, malformed or off-lattice
        identifiers (the message names the file and the first bad ones), bad values.
    DuplicateCodeError
        The same square with different values in two files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "car.csv"
    >>> row = '"1";"CRS3035RES200mN2890400E3767200";12,5;5'
    >>> _ = f.write_text('"";"idcar_200m";"ind";"men"\\n' + row + '\\n')
    >>> g = read_filosofi_grid(f)
    >>> g.loc[0, "idcar_200m"], float(g.loc[0, "ind"]), int(g.loc[0, "x_laea"])
    ('CRS3035RES200mN2890400E3767200', 12.5, 3767200)
    >>> g.crs.to_epsg(), round(g.to_crs(3035).area.iloc[0])
    (2154, 40000)
    """
    # one entry point for every reader's paths (folders, globs, lists; fetch names later)
    files = resolve_many(path, suffixes=_GRID_SUFFIXES)
    frames = []
    dropped: dict[str, list[str]] = {}
    idcol = None
    for f in files:
        frame, file_geometry = _read_one(f, crs=crs, dropped_log=dropped, engine=engine)
        # the square's identifier: idcar_200m (Filosofi 200 m), idcar_1km (the 1 km grids:
        # Filosofi 1 km, RP 2021), whichever a file has; one kind for all the files
        own = next((c for c in _ID_COLUMNS if c in frame.columns), None)
        if own is None:
            if file_geometry is None:
                raise DataFormatError(
                    f"{f}: no square identifier (idcar_200m / Idcar_200m / IdINSPIRE / "
                    f"idcar_1km) and no geometry; columns present: {list(frame.columns)}"
                )
            own = idcol or "idcar_200m"
            res = 1000 if own == "idcar_1km" else 200
            pts = shapely.point_on_surface(file_geometry.to_crs(schema.GRID_CRS).values)
            x = np.floor(shapely.get_x(pts) / res).astype(np.int64) * res
            y = np.floor(shapely.get_y(pts) / res).astype(np.int64) * res
            frame.insert(
                0, own,
                pd.array([f"CRS3035RES{res}mN{b}E{a}" for a, b in zip(x, y, strict=True)],
                         dtype="string"),
            )
        if idcol is not None and own != idcol:
            raise DataFormatError(
                f"{f}: squares identified by {own}, the other files by {idcol}: one grid "
                "at a time (200 m or 1 km)"
            )
        idcol = own
        frame["_file"] = pd.Categorical.from_codes(np.zeros(len(frame), np.int8), [f.name])
        frames.append(frame)
    grid = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if dropped:
        # Extracts made by third parties carry columns that are not INSEE's (the 2019
        # sample adds the course's commune `population`): dropped, so that nobody
        # mistakes them for grid variables.
        names = sorted({c for cols in dropped.values() for c in cols})
        warnings.warn(
            f"dropped column(s) that are not Filosofi grid variables: {names} "
            f"(in {len(dropped)} of {len(files)} file(s), e.g. {next(iter(dropped))})",
            QpvgeoWarning,
            stacklevel=2,
        )

    corners = parse_cell_ids(grid[idcol], what=f"{files[0] if len(files) == 1 else path}: "
                             f"{idcol}", files=grid["_file"] if len(files) > 1 else None)
    res = corners["res"].unique()
    if len(res) != 1:
        raise DataFormatError(f"{files[0]}: squares of several sizes {sorted(res)} in one grid")
    # duplicates found on the integer corners (hashing 2.3 M strings costs more)
    key = pd.Series(corners["x_laea"].to_numpy() * (1 << 32) + corners["y_laea"].to_numpy())
    dup = None if _all_distinct(corners, float(res[0])) else key.duplicated(keep=False).to_numpy()
    if dup is not None and dup.any():
        common = [c for c in grid.columns if _is_value_column(c)]
        first = grid[dup].groupby(idcol)[common].nunique(dropna=True)
        conflicting = first.index[(first > 1).any(axis=1)]
        if len(conflicting):
            raise DuplicateCodeError(
                f"{len(conflicting)} square(s) appear with different values in "
                f"{sorted(grid.loc[grid[idcol].isin(conflicting), '_file'].unique())}, "
                f"e.g. {list(conflicting[:3])}"
            )
        once = ~key.duplicated(keep="first").to_numpy()
        warnings.warn(
            f"{int((~once).sum())} square(s) appear in more than one file with the same "
            "values: kept once",
            QpvgeoWarning,
            stacklevel=2,
        )
        grid, corners = grid[once], corners[once]
    grid = grid.drop(columns="_file").reset_index(drop=True)
    grid["x_laea"] = corners["x_laea"].to_numpy()
    grid["y_laea"] = corners["y_laea"].to_numpy()
    if not geometry:
        grid.attrs["cell_size"] = float(res[0])
        return grid
    squares = cell_squares(grid["x_laea"], grid["y_laea"], float(res[0]))
    # copy=False: the frame's blocks as they are (geopandas would otherwise consolidate
    # the float columns into a new 220-450 MB block)
    out = gpd.GeoDataFrame(grid, geometry=squares.values, crs=schema.CRS, copy=False)
    out.attrs["cell_size"] = float(res[0])
    return out
