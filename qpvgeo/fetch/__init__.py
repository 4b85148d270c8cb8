"""Downloads of the publishers' files: cache, checksums, lock file, mirrors, retries, provenance.

Every file qpvgeo downloads goes through :func:`fetch_file`; catalogue sources
(:mod:`qpvgeo.sources`) go through :func:`fetch`, which also extracts archives safely.

Cache layout (``root`` is :func:`cache_dir` or the ``dest`` argument)::

    root/qpvgeo-lock.json            sha256 seen at the first download of every URL
    root/<source>/<file>             files of a catalogue source (or fetch_file(name=...))
    root/<source>/<archive stem>/    an extracted archive
    root/urls/<host>/<path>          any other URL (fetch_file without name)

Mirror layout: a mirror base URL replaces the publisher's scheme and host, keeping the
host as the first path segment, so one mirror can hold every publisher without clashes::

    https://www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv
    -> {mirror}/www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv

Files that have no address at their publisher (see :mod:`qpvgeo.sources`) are looked
for on the mirror at ``{mirror}/_by_hand/{source}/{file name}``.

Networks: requests (through pooch's downloader) honours ``HTTPS_PROXY``, ``HTTP_PROXY``
and ``NO_PROXY``; every download has a timeout and is retried with exponential backoff
on connection errors, timeouts, truncated transfers and HTTP 408/429/5xx (never on an
unusable address, a redirect loop or a file that is not what it claims to be). Three
limits apply to each attempt: ``timeout`` (seconds without any data), an overall
``deadline`` and a minimum average rate ``min_rate`` (after :data:`RATE_GRACE` seconds),
so a server that drips one byte a second is given up on.

Validation: every download is checked by :func:`validate_download` against what its
catalogue entry says a good file is (:class:`qpvgeo.sources.SourceFile`: kind, archive
members, CSV header, size, sha256) **before** it is moved into the cache and before its
hash goes into the lock file. A web page where data is expected (a proxy or captive
portal answering ``200 text/html``) is an error naming the URL. A file is written to a
temporary name and renamed only once complete and checked, so an error never leaves a
partial or unverified file behind.

A read-only cache (a shared folder) that already holds valid files works for reading:
the lock file is then left as it is.

Provenance: every file used in the session, downloaded, found in the cache or read
from a local path (:func:`record_local_file`), is recorded; see
:func:`provenance_records`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from qpvgeo.errors import ChecksumError, DataFormatError, FetchError

if TYPE_CHECKING:
    import pandas as pd

from qpvgeo.fetch._archive import (  # noqa: F401 (re-exported)
    _EXTRACT_MARKER,
    _archive_kind,
    _members,
    _unsafe_member,
    extract_archive,
)
from qpvgeo.fetch._http import (  # noqa: F401 (re-exported)
    DEFAULT_BACKOFF,
    DEFAULT_DEADLINE,
    DEFAULT_MIN_RATE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_DEADLINE,
    ENV_MIN_RATE,
    ENV_MIRROR,
    RATE_GRACE,
    _by_hand,
    _check_scheme,
    _describe,
    _download,
    _limits,
    _settings,
)
from qpvgeo.fetch._lock import (  # noqa: F401 (re-exported)
    _HASH_CACHE,
    LOCK_NAME,
    _file_sha256,
    _now,
    _read_lock,
    _sha256,
    _write_lock_entry,
)
from qpvgeo.fetch._validate import _looks_like_html, _web_page, validate_download

__all__ = [
    "BY_HAND_FOLDER", "DEFAULT_BACKOFF", "DEFAULT_DEADLINE", "DEFAULT_MIN_RATE",
    "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "ENV_DATA_DIR", "ENV_DEADLINE", "ENV_MIN_RATE",
    "ENV_MIRROR", "LOCK_NAME", "RATE_GRACE", "cache_dir", "clear_provenance",
    "extract_archive", "fetch", "fetch_file", "fetch_many", "lock_entries", "mirror_url",
    "provenance_records", "provenance_table", "record_local_file", "validate_download",
]

#: Environment variable overriding the cache directory.
ENV_DATA_DIR = "QPVGEO_DATA_DIR"
#: Folder of a mirror holding the files that have no publisher address:
#: ``{mirror}/_by_hand/{source}/{file name}``.
BY_HAND_FOLDER = "_by_hand"
_RECORDS_MUTEX = threading.Lock()
_RECORDS: dict[str, dict] = {}


# -- where files go ----------------------------------------------------------------------


def cache_dir() -> Path:
    """Return the root of qpvgeo's download cache.

    ``$QPVGEO_DATA_DIR`` when set, else the platform's user cache directory
    (``~/.cache/qpvgeo`` on Linux). The directory is not created here.

    Examples
    --------
    >>> import os
    >>> os.environ["QPVGEO_DATA_DIR"] = "/tmp/qpvgeo-example-cache"
    >>> str(cache_dir())
    '/tmp/qpvgeo-example-cache'
    >>> del os.environ["QPVGEO_DATA_DIR"]
    """
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("qpvgeo", appauthor=False))


def mirror_url(url: str, mirror: str | None) -> str:
    """Return the address of ``url`` on ``mirror`` (``{mirror}/{host}/{path}?{query}``).

    ``mirror=None`` or ``""`` returns ``url`` unchanged.

    Examples
    --------
    >>> mirror_url("https://www.insee.fr/fr/a/b.csv?x=1", "http://miroir.local/data/")
    'http://miroir.local/data/www.insee.fr/fr/a/b.csv?x=1'
    >>> mirror_url("https://www.insee.fr/b.csv", None)
    'https://www.insee.fr/b.csv'
    """
    if not mirror:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    out = f"{mirror.rstrip('/')}/{host}{parts.path or '/'}"
    return f"{out}?{parts.query}" if parts.query else out


def _root(dest: str | os.PathLike | None) -> Path:
    return Path(dest).expanduser() if dest is not None else cache_dir()


def _check_name(part: str, what: str, url: str) -> str:
    if not part or part in {".", ".."} or "/" in part or "\\" in part or "\x00" in part:
        raise FetchError(f"{url}: unusable {what} {part!r} for a file in the cache")
    return part


def _target_path(
    url: str, root: Path, name: str | None, filename: str | None
) -> Path:
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if filename is None:
        filename = segments[-1] if segments else "index"
        if parts.query:
            # Distinct queries on one path must not share a cache file.
            digest = hashlib.sha256(parts.query.encode()).hexdigest()[:10]
            stem, dot, suffix = filename.rpartition(".")
            filename = f"{stem}-{digest}.{suffix}" if dot else f"{filename}-{digest}"
    _check_name(filename, "file name", url)
    if name is not None:
        return root / _check_name(name, "source name", url) / filename
    host = _check_name(parts.netloc.rsplit("@", 1)[-1].replace(":", "_"), "host", url)
    folders = [_check_name(s, "path segment", url) for s in segments[:-1]]
    return root.joinpath("urls", host, *folders, filename)




def lock_entries(*, dest: str | os.PathLike | None = None) -> dict[str, dict]:
    """Return the lock file's entries (URL -> sha256, size, retrieval date, path).

    Examples
    --------
    >>> import tempfile
    >>> lock_entries(dest=tempfile.mkdtemp())
    {}
    """
    return _read_lock(_root(dest))


# -- provenance --------------------------------------------------------------------------


def _record(record: dict) -> dict:
    with _RECORDS_MUTEX:
        _RECORDS.pop(record["path"], None)
        _RECORDS[record["path"]] = record
    return dict(record)


def provenance_records() -> list[dict]:
    """Return one record per file used in this session, oldest first.

    Each record holds ``source`` (catalogue name or None), ``url`` (the publisher's
    address, or None for a local file), ``download_url`` (the address actually used,
    e.g. on a mirror), ``retrieved`` (ISO date of the download, or of the file's last
    modification for local files), ``size`` (bytes), ``sha256``, ``path`` and
    ``origin`` (``"download"``, ``"cache"``, ``"manual"`` for a file placed in the
    cache by hand, ``"local"``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> clear_provenance()
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = f.write_text("x\\n")
    >>> _ = record_local_file(f, source="demo")
    >>> [(r["source"], r["size"], r["origin"]) for r in provenance_records()]
    [('demo', 2, 'local')]
    """
    with _RECORDS_MUTEX:
        return [dict(r) for r in _RECORDS.values()]


def provenance_table() -> pd.DataFrame:
    """Return :func:`provenance_records` as a table (one row per file, fixed columns).

    Examples
    --------
    >>> clear_provenance()
    >>> list(provenance_table().columns)[:4]
    ['source', 'url', 'download_url', 'retrieved']
    """
    import pandas as pd

    columns = ["source", "url", "download_url", "retrieved", "size", "sha256", "path", "origin"]
    return pd.DataFrame(provenance_records(), columns=columns)


def clear_provenance() -> None:
    """Forget the provenance records of this session (e.g. between two analyses).

    Examples
    --------
    >>> clear_provenance()
    >>> provenance_records()
    []
    """
    with _RECORDS_MUTEX:
        _RECORDS.clear()


def record_local_file(
    path: str | os.PathLike, *, source: str | None = None, url: str | None = None
) -> dict:
    """Record a file read from a local path in the session's provenance; return the record.

    A directory (e.g. a File Geodatabase) is recorded with its total size and a sha256
    computed over its files' names and hashes. A file already recorded by a download
    keeps its download record.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "qpv.csv"
    >>> _ = f.write_text("code_qp\\n")
    >>> record_local_file(f)["sha256"][:12]
    '207b161012e3'
    """
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise DataFormatError(f"{p}: no such file or directory")
    key = str(p)
    with _RECORDS_MUTEX:
        known = _RECORDS.get(key)
    if known is not None and known["origin"] != "local":
        return dict(known)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        h = hashlib.sha256()
        for f in files:
            h.update(f"{f.relative_to(p).as_posix()}\0{_file_sha256(f)}\n".encode())
        sha, size = h.hexdigest(), sum(f.stat().st_size for f in files)
    else:
        sha, size = _file_sha256(p), p.stat().st_size
    mtime = _dt.datetime.fromtimestamp(p.stat().st_mtime, _dt.UTC).replace(microsecond=0)
    return _record(
        {"source": source, "url": url, "download_url": None, "retrieved": mtime.isoformat(),
         "size": size, "sha256": sha, "path": key, "origin": "local"}
    )



def fetch_file(
    url: str,
    *,
    sha256: str | None = None,
    dest: str | os.PathLike | None = None,
    mirror: str | None = None,
    name: str | None = None,
    filename: str | None = None,
    refresh: bool = False,
    progress: bool = True,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    deadline: float | None = None,
    min_rate: float | None = None,
    expect=None,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    A file already in the cache is returned without any request, after checking its
    sha256 against ``sha256`` (when pinned) or against the hash recorded in the lock
    file at its first download. A new download is written to a temporary file,
    checked, then renamed; on any error nothing is left in the cache.

    Parameters
    ----------
    url
        The publisher's address; the lock file and provenance records use it.
    sha256
        Expected hash (hex). Without it, the hash seen at the first download is
        recorded in ``qpvgeo-lock.json`` and every later download must match it.
    dest
        Cache root; default :func:`cache_dir`.
    mirror
        Mirror base URL (see the module docstring); default ``$QPVGEO_MIRROR``;
        ``""`` forces the publisher's own host.
    name
        Catalogue source name: the file goes to ``dest/name/`` and the provenance
        record carries it. Without it, the file goes to ``dest/urls/<host>/<path>``.
    filename
        File name in the cache; default the last segment of the URL's path.
    refresh
        Download again even if cached, and accept a file that changed on the server
        (the lock file is updated; a pinned ``sha256`` is still enforced).
    progress
        Show a tqdm progress bar (on stderr).
    timeout, retries, backoff
        Seconds without data before giving up; extra attempts; first wait between
        attempts in seconds (doubled each time). Defaults: module constants.
    deadline, min_rate
        Seconds a whole attempt may take, and the slowest acceptable average rate in
        bytes per second (after :data:`RATE_GRACE` s; 0 disables). Defaults:
        ``$QPVGEO_DEADLINE`` / ``$QPVGEO_MIN_RATE``, else :data:`DEFAULT_DEADLINE` /
        :data:`DEFAULT_MIN_RATE`.
    expect : qpvgeo.sources.SourceFile, optional
        What a good file looks like (see :func:`validate_download`); default, a
        ``SourceFile`` of the cache file name (its suffix gives the kind). A download
        that fails the check is not saved.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FetchError
        The download failed (the message names the URL and where to put the file by
        hand); ``ChecksumError`` when the file does not have the expected hash.

    Examples
    --------
    >>> import tempfile
    >>> fetch_file("http://127.0.0.1:9/none.csv", dest=tempfile.mkdtemp(),
    ...            retries=0, progress=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qpvgeo.errors.FetchError: could not download http://127.0.0.1:9/none.csv: ...
    """
    from qpvgeo.sources import SourceFile

    mirror, timeout, retries, backoff = _settings(mirror, timeout, retries, backoff)
    deadline, min_rate = _limits(deadline, min_rate)
    _check_scheme(url)
    root = _root(dest)
    target = _target_path(url, root, name, filename)
    if expect is None:
        expect = SourceFile(target.name, url, sha256=sha256)
    rel = target.relative_to(root).as_posix()
    entry = _read_lock(root).get(url)
    pinned = sha256.lower() if sha256 else None

    if target.exists() and not refresh:
        return _use_cached(url, target, root, rel, entry, pinned, name, expect=expect)

    download_url = mirror_url(url, mirror)
    _check_scheme(download_url)
    if pinned:
        expected = pinned
        mismatch = (
            f"{download_url} does not have the expected content: sha256 {{sha}} "
            f"({{size}} bytes), expected {pinned}"
            + (f" (pinned in the catalogue for '{name}')" if name else "")
            + ". Nothing was saved. The publisher may have replaced the file, or the "
            "download was altered on the way."
        )
    elif entry is not None and not refresh:
        expected = entry["sha256"]
        again = f"qpvgeo fetch {name} --refresh" if name else "fetch_file(..., refresh=True)"
        mismatch = (
            f"{url} has changed since it was first downloaded on {entry.get('retrieved')}: "
            f"sha256 {{sha}} ({{size}} bytes) now, {expected} ({entry.get('size')} bytes) "
            f"recorded in {root / LOCK_NAME}. Nothing was saved. If the publisher released "
            f"a new version on purpose, accept it with `{again}`."
        )
    else:
        expected, mismatch = None, ""
    sha, size = _download(
        url, download_url, target, expected=expected, mismatch=mismatch, timeout=timeout,
        retries=retries, backoff=backoff, progress=progress, deadline=deadline,
        min_rate=min_rate, expect=expect,
    )
    retrieved = _now()
    st = target.stat()
    _write_lock_entry(
        root, url,
        {"sha256": sha, "size": size, "retrieved": retrieved, "path": rel,
         "download_url": download_url, "mtime_ns": st.st_mtime_ns},
    )
    _HASH_CACHE[(str(target.resolve()), st.st_size, st.st_mtime_ns)] = sha
    _record(
        {"source": name, "url": url, "download_url": download_url, "retrieved": retrieved,
         "size": size, "sha256": sha, "path": str(target.resolve()), "origin": "download"}
    )
    return target


def _use_cached(
    url: str, target: Path, root: Path, rel: str, entry: dict | None, pinned: str | None,
    name: str | None, *, expect=None,
) -> Path:
    st = target.stat()
    if expect is not None:
        again = f"qpvgeo fetch {name} --refresh" if name else "fetch_file(..., refresh=True)"
        try:
            if entry is None:
                # Placed by hand, or cached by an older qpvgeo: check it fully once.
                validate_download(target, expect, url=str(target))
            else:
                with open(target, "rb") as f:
                    if expect.file_kind != "html" and _looks_like_html(f.read(4096)):
                        raise DataFormatError(_web_page(str(target), "cached copy of " + url))
        except DataFormatError as exc:
            raise FetchError(
                f"{exc} The file in the cache is not the data of {url}; delete it, or "
                f"download it again with `{again}`."
            ) from exc
    if entry is not None and entry.get("size") == st.st_size and (
        entry.get("mtime_ns") == st.st_mtime_ns
    ):
        sha = entry["sha256"]
    else:
        sha = _file_sha256(target)
    expected = pinned or (entry["sha256"] if entry is not None else None)
    if expected is not None and sha != expected:
        why = "pinned in the catalogue" if pinned else f"recorded in {root / LOCK_NAME}"
        again = f"qpvgeo fetch {name} --refresh" if name else "fetch_file(..., refresh=True)"
        raise ChecksumError(
            f"{target}: the cached copy of {url} has sha256 {sha}, expected {expected} "
            f"({why}). The file was modified or damaged after it was saved; download it "
            f"again with `{again}`."
        )
    if entry is None:
        origin, retrieved = "manual", _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC)
        retrieved = retrieved.replace(microsecond=0).isoformat()
    else:
        origin, retrieved = "cache", entry.get("retrieved")
    if entry is None or entry.get("mtime_ns") != st.st_mtime_ns or entry.get("path") != rel:
        # A read-only shared cache is usable for reading: the lock file stays as it is.
        with contextlib.suppress(PermissionError, OSError):
            _write_lock_entry(
                root, url,
                {"sha256": sha, "size": st.st_size, "retrieved": retrieved, "path": rel,
                 "download_url": (entry or {}).get("download_url"),
                 "mtime_ns": st.st_mtime_ns},
            )
    _record(
        {"source": name, "url": url,
         "download_url": (entry or {}).get("download_url"), "retrieved": retrieved,
         "size": st.st_size, "sha256": sha, "path": str(target.resolve()), "origin": origin}
    )
    return target



# -- catalogue sources -----------------------------------------------------------------------


def fetch(
    name: str,
    *,
    dest: str | os.PathLike | None = None,
    mirror: str | None = None,
    refresh: bool = False,
    progress: bool = True,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    deadline: float | None = None,
    min_rate: float | None = None,
) -> Path:
    """Bring catalogue source ``name`` into the cache and return the file its loader reads.

    Each file of the source is downloaded with :func:`fetch_file` (cache, checksum,
    lock file, mirror, retries, provenance) into ``dest/name/``; archives are
    extracted with :func:`extract_archive`. For a source whose publisher gives no
    stable download address, the file must be placed by hand where the error message
    says; it is then checked and recorded like a download.

    Parameters
    ----------
    name
        Short name from :mod:`qpvgeo.sources` (``qpvgeo sources`` lists them).
    dest, mirror, refresh, progress, timeout, retries, backoff, deadline, min_rate
        As in :func:`fetch_file`. Each file is checked against its catalogue entry
        (:func:`validate_download`) before it enters the cache.

    Returns
    -------
    pathlib.Path
        The source's main file (e.g. the shapefile inside the extracted archive).

    Examples
    --------
    >>> fetch("no-such-source")
    Traceback (most recent call last):
    ...
    qpvgeo.errors.QpvgeoError: unknown source 'no-such-source'; ...
    """
    from qpvgeo.sources import get_source

    src = get_source(name)
    root = _root(dest)
    folder = root / src.name
    paths: list[Path] = []
    limits = {"timeout": timeout, "retries": retries, "backoff": backoff,
              "deadline": deadline, "min_rate": min_rate}
    for f in src.files:
        expect = _expectation(src, f)
        if f.url is None:
            path = _placed_by_hand(
                src, f, root, mirror=_settings(mirror, None, None, None)[0], refresh=refresh,
                progress=progress, expect=expect, **limits,
            )
        else:
            path = fetch_file(
                f.url, sha256=f.sha256, dest=root, mirror=mirror, name=src.name,
                filename=f.filename, refresh=refresh, progress=progress, expect=expect,
                **limits,
            )
        if f.extract:
            path = extract_archive(path, nested=src.nested_archives)
        paths.append(path)
    if not src.main:
        return paths[0]
    found = sorted(folder.glob(src.main))
    if len(found) != 1:
        listing = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                         if p.is_file() and p.name != _EXTRACT_MARKER)
        raise DataFormatError(
            f"source '{src.name}': expected one file matching {src.main!r} in {folder}, "
            f"found {len(found)}; the publisher may have changed the archive's layout. "
            f"Files present: {', '.join(listing[:12])}{' …' if len(listing) > 12 else ''}"
        )
    return found[0]


def _expectation(src, f):
    """The file check of ``f``: its own, plus the source's main file as archive member."""
    import dataclasses

    if f.extract and not f.members and src.main and not src.nested_archives and (
        len(src.files) == 1
    ):
        return dataclasses.replace(f, members=(PurePosixPath(src.main).name,))
    return f


def _placed_by_hand(src, f, root: Path, *, mirror: str | None, refresh: bool, expect=None,
                    **kwargs) -> Path:
    target = root / src.name / f.filename
    key = f"{src.page}#{f.filename}"
    where = (
        f"source '{src.name}' ({src.title}) has no stable download address at its "
        f"publisher: download {f.filename!r} from {src.page} and save it as {target}; "
        "qpvgeo will find it there."
    )
    if mirror and (refresh or not target.exists()):
        # An internal mirror can hold these files too, at {mirror}/_by_hand/{source}/{file}.
        try:
            return fetch_file(
                f"{mirror.rstrip('/')}/{BY_HAND_FOLDER}/{src.name}/{f.filename}",
                sha256=f.sha256, dest=root, mirror="", name=src.name, filename=f.filename,
                refresh=refresh, expect=expect, **kwargs,
            )
        except ChecksumError:
            raise
        except FetchError as exc:
            if not target.exists():
                raise FetchError(f"{where} (It is not on the mirror either: {exc})") from exc
    if not target.exists():
        raise FetchError(where)
    entry = _read_lock(root).get(key)
    rel = target.relative_to(root).as_posix()
    return _use_cached(key, target, root, rel, entry, f.sha256, src.name, expect=expect)


def fetch_many(
    names: Iterable[str], **kwargs
) -> dict[str, Path]:
    """Fetch several catalogue sources; return ``{name: path}`` (keywords as :func:`fetch`).

    Examples
    --------
    >>> fetch_many([])
    {}
    """
    return {n: fetch(n, **kwargs) for n in names}
