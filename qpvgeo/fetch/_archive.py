"""Safe extraction of zip and 7z archives (no member outside the folder, no links)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from qpvgeo.errors import DataFormatError, FetchError, UnsafeArchiveError

if TYPE_CHECKING:
    pass

from qpvgeo.fetch._lock import _file_sha256

_EXTRACT_MARKER = ".qpvgeo-extracted.json"

_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_member(name: str) -> bool:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        return True
    return any(part == ".." for part in PurePosixPath(norm).parts)


def _archive_kind(path: Path) -> str:
    if zipfile.is_zipfile(path):
        return "zip"
    with open(path, "rb") as f:
        if f.read(6) == b"7z\xbc\xaf\x27\x1c":
            return "7z"
    raise DataFormatError(f"{path}: not a zip or 7z archive")


def _members(path: Path, kind: str) -> tuple[list[str], int]:
    """Member names and total uncompressed size; refuses links and unsafe names."""
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            links = [i.filename for i in infos if (i.external_attr >> 16) & 0o170000 == 0o120000]
            names, total = [i.filename for i in infos], sum(i.file_size for i in infos)
    else:
        py7zr = _import_py7zr(path)
        with py7zr.SevenZipFile(path) as zf:
            infos = zf.list()
            links = [i.filename for i in infos if getattr(i, "is_symlink", False)]
            names = [i.filename for i in infos]
            total = sum(i.uncompressed or 0 for i in infos)
    bad = [n for n in names if _unsafe_member(n)]
    if bad or links:
        raise UnsafeArchiveError(
            f"{path}: refused to extract the archive, whose members would be written outside "
            f"the extraction folder or are links: {', '.join(sorted(bad + links)[:5])}"
            f"{' …' if len(bad) + len(links) > 5 else ''}. Nothing was extracted."
        )
    return names, total


def _import_py7zr(path: Path):
    try:
        import py7zr
    except ImportError as exc:
        raise FetchError(
            f"{path} is a 7z archive and the optional package py7zr is not installed: "
            f"`pip install py7zr`, or extract it by hand with 7-Zip into "
            f"{path.parent / path.stem}"
        ) from exc
    return py7zr


def extract_archive(
    archive: str | os.PathLike, dest_dir: str | os.PathLike | None = None, *,
    nested: bool = False,
) -> Path:
    """Extract a zip (or 7z, with py7zr) archive safely; return the extraction folder.

    Every member name is checked before anything is written: an absolute path, a
    drive letter, a ``..`` component or a symbolic link makes the whole archive
    refused (:class:`UnsafeArchiveError`). Members are extracted into a temporary
    folder that is renamed once complete. The archive's sha256 is stored in the folder,
    so an unchanged archive is not extracted twice.

    Parameters
    ----------
    archive
        The archive file.
    dest_dir
        Extraction folder; default the archive's path without its suffix.
    nested
        Also extract the archives found inside (INSEE ships 7z files inside zips),
        each into a folder named after it.

    Examples
    --------
    >>> import pathlib, tempfile, zipfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with zipfile.ZipFile(d / "a.zip", "w") as zf:
    ...     zf.writestr("dir/x.csv", "x\\n")
    >>> sorted(p.name for p in extract_archive(d / "a.zip").rglob("*.csv"))
    ['x.csv']
    """
    archive = Path(archive)
    dest = Path(dest_dir) if dest_dir is not None else archive.with_suffix("")
    kind = _archive_kind(archive)
    sha = _file_sha256(archive)
    marker = dest / _EXTRACT_MARKER
    if marker.is_file():
        with contextlib.suppress(OSError, ValueError):
            if json.loads(marker.read_text(encoding="utf-8")).get("sha256") == sha:
                return dest
    names, total = _members(archive, kind)
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if total > free:
        raise FetchError(
            f"{archive}: extracting needs {total:,} bytes, only {free:,} free in {dest.parent}"
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with _import_py7zr(archive).SevenZipFile(archive) as zf:
                zf.extractall(tmp)
        root = tmp.resolve()
        outside = [p for p in tmp.rglob("*") if not p.resolve().is_relative_to(root)]
        if outside:  # defence in depth: the names were checked above
            raise UnsafeArchiveError(f"{archive}: members escaped the extraction folder")
        if nested:
            for inner in sorted(p for p in tmp.rglob("*") if p.suffix.lower() in {".zip", ".7z"}):
                extract_archive(inner, inner.with_suffix(""), nested=True)
        (tmp / _EXTRACT_MARKER).write_text(
            json.dumps({"archive": archive.name, "sha256": sha, "members": len(names)}),
            encoding="utf-8",
        )
        if dest.exists():
            if not marker.is_file():
                # Not an extraction of qpvgeo's (no marker): never delete it.
                raise FetchError(
                    f"{dest} exists and was not extracted by qpvgeo (no {_EXTRACT_MARKER}); "
                    f"nothing was changed. Move it away to let qpvgeo extract {archive.name}."
                )
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


