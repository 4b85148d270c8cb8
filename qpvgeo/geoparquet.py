"""GeoParquet in and out: the format cartiflette, DuckDB and Sedona users exchange.

:func:`read_geoparquet` reads a GeoParquet file (any version geopandas reads: 0.4 to
1.1) into a GeoDataFrame; every qpvgeo reader of vector files accepts ``.parquet`` /
``.geoparquet`` through :func:`qpvgeo.readers._common.read_vector`, which calls it.
:func:`to_geoparquet` writes a frame atomically (never a half-written file), with the
CRS declared (GeoParquet without a CRS means longitude/latitude: a Lambert-93 frame
without one would be silently misplaced, so it is refused), a ``bbox`` covering column
so that DuckDB / Sedona / GDAL can filter row groups spatially, and a ``qpvgeo`` key in
the file metadata: an existing file is only replaced when qpvgeo wrote it.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd

from qpvgeo._atomic import atomic_path
from qpvgeo.errors import DataFormatError, MissingCRSError, QpvgeoError

__all__ = ["GEOPARQUET_SUFFIXES", "read_geoparquet", "to_geoparquet"]

#: File suffixes read as (Geo)Parquet.
GEOPARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".geoparquet", ".pq")
#: Key of the Parquet file metadata that marks a file written by qpvgeo.
_MARK = b"qpvgeo"


def _require_pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a declared dependency
        raise QpvgeoError(
            "GeoParquet needs the pyarrow package: pip install pyarrow"
        ) from exc
    return pq


def _written_by_qpvgeo(path: Path) -> bool:
    pq = _require_pyarrow()
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # not a Parquet file at all
        return False
    return _MARK in meta


def read_geoparquet(
    path: str | os.PathLike, *, columns: list[str] | None = None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a GeoParquet file (or a plain Parquet table) written by any tool.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` / ``.geoparquet`` file.
    columns : list of str, optional
        Columns to read; the geometry column is always read.

    Returns
    -------
    GeoDataFrame, or DataFrame for a Parquet file without GeoParquet metadata.

    Raises
    ------
    DataFormatError
        Missing or unreadable file (the message names it).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import Point
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "pts.parquet"
    >>> g = gpd.GeoDataFrame({"code_qpv": ["QN05901M"]}, geometry=[Point(700000, 7050000)],
    ...                      crs=2154)
    >>> _ = to_geoparquet(g, f)
    >>> back = read_geoparquet(f)
    >>> back.crs.to_epsg(), back.loc[0, "code_qpv"]
    (2154, 'QN05901M')
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (GeoParquet)")
    pq = _require_pyarrow()
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:
        raise DataFormatError(f"{path}: cannot be read as Parquet: {exc}") from exc
    try:
        if b"geo" not in meta:
            return pd.read_parquet(path, columns=columns)
        if columns is not None:
            geo = json.loads(meta[b"geo"])
            primary = geo.get("primary_column", "geometry")
            columns = [*[c for c in columns if c != primary], primary]
        return gpd.read_parquet(path, columns=columns)
    except (OSError, ValueError, KeyError) as exc:
        raise DataFormatError(f"{path}: cannot be read as GeoParquet: {exc}") from exc


def to_geoparquet(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a (Geo)DataFrame as GeoParquet, atomically.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        A GeoDataFrame must have a CRS. A plain DataFrame is written as a Parquet table
        (the tables of a diagnose folder).
    path : str or path-like
        Target file (``.parquet``). Parent folders are created.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    MissingCRSError
        A GeoDataFrame without CRS.
    QpvgeoError
        ``path`` exists and was not written by qpvgeo (it is never overwritten).

    Notes
    -----
    GeoParquet 1.1 as geopandas writes it: WKB geometries, the CRS as PROJJSON, and a
    ``bbox`` covering column. The index is written only when it is not a plain
    RangeIndex. The file metadata carry ``qpvgeo``: a later call may replace a file
    qpvgeo wrote, and refuses any other file.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "qpv.parquet"
    >>> g = gpd.GeoDataFrame({"code_qpv": ["QN05901M"]},
    ...                      geometry=[box(700000, 7050000, 700500, 7050400)], crs=2154)
    >>> to_geoparquet(g, f).name
    'qpv.parquet'
    >>> to_geoparquet(g, f).name  # qpvgeo's own file: replaced
    'qpv.parquet'
    """
    target = Path(path).expanduser()
    if target.exists() and not (target.is_file() and _written_by_qpvgeo(target)):
        raise QpvgeoError(
            f"{target}: exists and was not written by qpvgeo; refusing to overwrite it"
        )
    pq = _require_pyarrow()
    import pyarrow as pa

    from qpvgeo import __version__

    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    if is_geo and frame.crs is None:
        raise MissingCRSError(
            f"{target}: the frame has no CRS; GeoParquet would declare it longitude/latitude. "
            "Set one (frame.set_crs(2154)) before writing"
        )
    index = None if isinstance(frame.index, pd.RangeIndex) else True
    if is_geo:
        # geopandas writes the GeoParquet metadata and the bbox covering; read back the
        # Arrow table from memory to add qpvgeo's mark to the file metadata.
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=index, schema_version="1.1.0",
                         write_covering_bbox=True)
        buffer.seek(0)
        table = pq.read_table(buffer)
    else:
        table = pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=index)
    meta = dict(table.schema.metadata or {})
    meta[_MARK] = json.dumps({"version": __version__}).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return target
