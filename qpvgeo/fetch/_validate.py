"""Is a downloaded file what its catalogue entry says? (web pages, archives, CSV, sizes)"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from qpvgeo.errors import DataFormatError

if TYPE_CHECKING:
    pass


_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<title|<meta|<script)",
                         re.IGNORECASE)


def _html_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in {"text/html", "application/xhtml+xml"}


def _web_page(url: str, why: str) -> str:
    return (
        f"{url}: this looks like a web page (proxy or captive portal?), not the expected "
        f"data file ({why})."
    )


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf")
    return bool(_HTML_START.match(text)) or b"<html" in text[:1024].lower()


def validate_download(path: str | os.PathLike, expect, *, url: str | None = None) -> None:
    """Check that ``path`` is the kind of file ``expect`` (a ``SourceFile``) describes.

    Raises :class:`DataFormatError` naming ``url`` (or the path) when the file is a web
    page, is smaller than ``expect.min_size``, differs from a pinned ``size``, is not a
    readable archive / CSV / GeoJSON / GeoPackage / workbook of the expected kind, lacks
    an expected archive member or CSV column.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from qpvgeo.sources import SourceFile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("<!DOCTYPE html><html><body>Portail Wi-Fi</body></html>")
    >>> validate_download(p, SourceFile("x.csv", None), url="http://example.org/x.csv")
    Traceback (most recent call last):
    ...
    qpvgeo.errors.DataFormatError: http://example.org/x.csv: this looks like a web page ...
    """
    path = Path(path)
    where = url or str(path)
    kind = expect.file_kind
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    if kind != "html" and _looks_like_html(head):
        raise DataFormatError(_web_page(where, "its content starts like HTML"))
    if expect.size is not None and size != expect.size:
        raise DataFormatError(
            f"{where}: {size:,} bytes, the catalogue pins {expect.size:,} bytes for "
            f"{expect.filename}."
        )
    if size < max(expect.min_size, 1):
        raise DataFormatError(
            f"{where}: only {size:,} bytes, expected at least {max(expect.min_size, 1):,} "
            "(an empty or cut answer)."
        )
    if kind in {"zip", "xlsx"}:
        if not zipfile.is_zipfile(path):
            raise DataFormatError(
                f"{where}: not a zip {'workbook' if kind == 'xlsx' else 'archive'} "
                f"(truncated, or another file) for {expect.filename}."
            )
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if size <= 300 * 2**20:  # CRC of every member: catches a damaged archive
                    bad = zf.testzip()
                    if bad is not None:
                        raise DataFormatError(f"{where}: member {bad} is damaged (CRC error).")
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataFormatError(f"{where}: unreadable zip ({exc}).") from exc
        if kind == "xlsx" and "xl/workbook.xml" not in names:
            raise DataFormatError(
                f"{where}: a zip, but not an Excel workbook (no xl/workbook.xml)."
            )
        _check_members(where, names, expect.members)
    elif kind == "7z":
        if not head.startswith(b"7z\xbc\xaf\x27\x1c"):
            raise DataFormatError(f"{where}: not a 7z archive (truncated, or another file).")
    elif kind == "xls":
        if not head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            raise DataFormatError(f"{where}: not an Excel 97-2003 workbook.")
    elif kind == "csv":
        _check_csv(where, head, expect.header)
    elif kind in {"geojson", "gpkg", "shp"}:
        if kind == "gpkg" and not head.startswith(b"SQLite format 3\x00"):
            raise DataFormatError(f"{where}: not a GeoPackage (SQLite) file.")
        if kind == "geojson" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            raise DataFormatError(f"{where}: not a GeoJSON document (does not start with '{{').")
        if kind == "shp" and not head.startswith(b"\x00\x00\x27\x0a"):
            raise DataFormatError(f"{where}: not a shapefile (.shp).")
        if kind != "shp":
            try:
                import pyogrio

                pyogrio.read_info(path)
            except ImportError:
                pass
            except Exception as exc:  # pyogrio raises its own DataSourceError family
                raise DataFormatError(f"{where}: not a readable {kind} file ({exc}).") from exc


def _check_members(where: str, names: list[str], patterns: Iterable[str]) -> None:
    import fnmatch

    bases = [PurePosixPath(n).name for n in names]
    missing = [p for p in patterns
               if not any(fnmatch.fnmatch(b, p) or fnmatch.fnmatch(n, p)
                          for b, n in zip(bases, names, strict=True))]
    if missing:
        shown = ", ".join(sorted(names)[:8]) + (" …" if len(names) > 8 else "")
        raise DataFormatError(
            f"{where}: the archive lacks {', '.join(missing)} (members: {shown or 'none'}); "
            "the publisher may have changed its layout."
        )


def _check_csv(where: str, head: bytes, header: Iterable[str]) -> None:
    if b"\x00" in head:
        raise DataFormatError(f"{where}: binary content where a CSV text file is expected.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:  # a multi-byte character cut by the 4 kB window
                text = head[: exc.start].decode(encoding)
                break
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise DataFormatError(f"{where}: not a text file.")
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise DataFormatError(f"{where}: no CSV header line (the file starts with a blank line).")
    columns = {c.strip().strip('"').upper() for c in re.split(r"[;,\t|]", first)}
    missing = [h for h in header if h.upper() not in columns]
    if missing:
        raise DataFormatError(
            f"{where}: the CSV header lacks column(s) {', '.join(missing)} "
            f"(header: {first[:120]!r})."
        )


