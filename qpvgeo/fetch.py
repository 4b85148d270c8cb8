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
on connection errors, timeouts, truncated transfers and HTTP 408/429/5xx. A file is
written to a temporary name and renamed only once complete and checked, so an error
never leaves a partial or unverified file behind.

Provenance: every file used in the session, downloaded, found in the cache or read
from a local path (:func:`record_local_file`), is recorded; see
:func:`provenance_records`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from qpvgeo._atomic import atomic_path
from qpvgeo.errors import ChecksumError, DataFormatError, FetchError, UnsafeArchiveError

if TYPE_CHECKING:
    import pandas as pd

#: Environment variable overriding the cache directory.
ENV_DATA_DIR = "QPVGEO_DATA_DIR"
#: Environment variable giving a mirror base URL (see the module docstring).
ENV_MIRROR = "QPVGEO_MIRROR"
#: Folder of a mirror holding the files that have no publisher address:
#: ``{mirror}/_by_hand/{source}/{file name}``.
BY_HAND_FOLDER = "_by_hand"
#: Name of the lock file kept at the root of every cache directory.
LOCK_NAME = "qpvgeo-lock.json"
#: Seconds without a byte from the server before a download is abandoned.
DEFAULT_TIMEOUT = 60.0
#: Extra attempts after a failed download (so 1 + DEFAULT_RETRIES in all).
DEFAULT_RETRIES = 3
#: First wait between attempts, in seconds; doubled after each failure.
DEFAULT_BACKOFF = 1.0

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = "qpvgeo (+https://github.com/qpvgeo/qpvgeo)"
_CHUNK = 1 << 16
_EXTRACT_MARKER = ".qpvgeo-extracted.json"

_LOCK_MUTEX = threading.Lock()
_RECORDS_MUTEX = threading.Lock()
_RECORDS: dict[str, dict] = {}
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


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


# -- hashes and the lock file --------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    # Hashing a 1 GB grid each time a reader opens it would be slow: reuse the hash
    # while size and modification time are unchanged.
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = _sha256(path)
    return _HASH_CACHE[key]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _read_lock(root: Path) -> dict:
    path = root / LOCK_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FetchError(
            f"{path}: the lock file is unreadable ({exc}); delete it to record the "
            "files' hashes again"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
        raise FetchError(f"{path}: not a qpvgeo lock file; delete it to start a new one")
    return data.get("files", {})


@contextlib.contextmanager
def _lock_file_mutex(root: Path):
    """Serialise read-modify-write of the lock file across threads and processes."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: threads are still serialised
        fcntl = None
    with _LOCK_MUTEX, open(root / f"{LOCK_NAME}.mutex", "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _write_lock_entry(root: Path, url: str, entry: dict) -> None:
    with _lock_file_mutex(root):
        files = _read_lock(root)
        files[url] = entry
        with atomic_path(root / LOCK_NAME) as tmp:
            tmp.write_text(
                json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True),
                encoding="utf-8",
            )


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


# -- downloading -------------------------------------------------------------------------


def _by_hand(url: str, target: Path) -> str:
    return (
        f"If this machine cannot reach it, download {url} by other means and save it "
        f"as {target}; qpvgeo will find it there. Behind a proxy, set HTTPS_PROXY / "
        f"HTTP_PROXY; with an internal mirror, use --mirror or ${ENV_MIRROR}."
    )


def _describe(exc: Exception, timeout: float) -> tuple[str, bool]:
    """One-line reason for a failed attempt, and whether another attempt may help."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        return f"HTTP {status} {exc.response.reason or ''}".strip(), status in _RETRY_STATUS
    if isinstance(exc, requests.exceptions.ProxyError):
        # A refusal (403, 407) does not change on retry; check HTTPS_PROXY and credentials.
        text = str(exc)
        found = re.search(r"Tunnel connection failed: [^'\")]*|\[Errno -?\d+\][^'\")]*", text)
        return (
            f"the proxy refused or failed the connection ({found.group(0) if found else text}; "
            "check HTTPS_PROXY / HTTP_PROXY and the proxy's credentials)",
            False,
        )
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return f"no answer within the {timeout:g} s timeout", True
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the connection closed before the end of the file ({exc})", True
    if isinstance(exc, requests.exceptions.ConnectionError):
        # urllib3 nests the useful part ("[Errno 111] Connection refused", "Failed to
        # resolve 'host'") deep inside a long repr.
        text = str(exc)
        found = re.search(r"(\[Errno -?\d+\][^'\")]*|Failed to resolve '[^']*')", text)
        return f"could not connect ({found.group(1).strip() if found else text})", True
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return f"invalid URL ({exc})", False
    return f"{type(exc).__name__}: {exc}", True


def _download(
    url: str,
    download_url: str,
    target: Path,
    *,
    expected: str | None,
    mismatch: str,
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> tuple[str, int]:
    """Download to a temporary file, check the hash, rename; return (sha256, size)."""
    import pooch
    import requests
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        # pooch tests ``if progressbar:``; a tqdm without a total yet refuses bool().
        def __bool__(self) -> bool:
            return True

    reason = ""
    for attempt in range(retries + 1):
        bar = _Bar(
            desc=target.name, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
            disable=not progress,
        )
        downloader = pooch.HTTPDownloader(
            progressbar=bar if progress else False, chunk_size=_CHUNK, timeout=timeout,
            headers={"User-Agent": _USER_AGENT},
        )
        try:
            with atomic_path(target) as tmp:
                downloader(download_url, str(tmp), None)
                sha, size = _sha256(tmp), tmp.stat().st_size
                if expected is not None and sha != expected.lower():
                    # Raised inside the block: atomic_path removes the temporary file.
                    raise ChecksumError(mismatch.format(sha=sha, size=size))
            return sha, size
        except requests.exceptions.RequestException as exc:
            reason, retry = _describe(exc, timeout)
            if not retry or attempt == retries:
                break
            time.sleep(backoff * 2**attempt)
        except OSError as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"{download_url}: could not write {target}: {exc}") from exc
        finally:
            bar.close()
    via = f" (from the mirror address {download_url})" if download_url != url else ""
    tries = f" after {attempt + 1} attempts" if attempt else ""
    raise FetchError(
        f"could not download {url}{via}{tries}: {reason}. {_by_hand(url, target)}"
    )


def _settings(
    mirror: str | None, timeout: float | None, retries: int | None, backoff: float | None
) -> tuple[str | None, float, int, float]:
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
    return (
        mirror,
        DEFAULT_TIMEOUT if timeout is None else float(timeout),
        DEFAULT_RETRIES if retries is None else int(retries),
        DEFAULT_BACKOFF if backoff is None else float(backoff),
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
    mirror, timeout, retries, backoff = _settings(mirror, timeout, retries, backoff)
    root = _root(dest)
    target = _target_path(url, root, name, filename)
    rel = target.relative_to(root).as_posix()
    entry = _read_lock(root).get(url)
    pinned = sha256.lower() if sha256 else None

    if target.exists() and not refresh:
        return _use_cached(url, target, root, rel, entry, pinned, name)

    download_url = mirror_url(url, mirror)
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
        retries=retries, backoff=backoff, progress=progress,
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
    name: str | None,
) -> Path:
    st = target.stat()
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
        _write_lock_entry(
            root, url,
            {"sha256": sha, "size": st.st_size, "retrieved": retrieved, "path": rel,
             "download_url": (entry or {}).get("download_url"), "mtime_ns": st.st_mtime_ns},
        )
    _record(
        {"source": name, "url": url,
         "download_url": (entry or {}).get("download_url"), "retrieved": retrieved,
         "size": st.st_size, "sha256": sha, "path": str(target.resolve()), "origin": origin}
    )
    return target


# -- archives ------------------------------------------------------------------------------

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
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


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
    dest, mirror, refresh, progress, timeout, retries, backoff
        As in :func:`fetch_file`.

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
    for f in src.files:
        if f.url is None:
            path = _placed_by_hand(
                src, f, root, mirror=_settings(mirror, None, None, None)[0], refresh=refresh,
                progress=progress, timeout=timeout, retries=retries, backoff=backoff,
            )
        else:
            path = fetch_file(
                f.url, sha256=f.sha256, dest=root, mirror=mirror, name=src.name,
                filename=f.filename, refresh=refresh, progress=progress, timeout=timeout,
                retries=retries, backoff=backoff,
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


def _placed_by_hand(src, f, root: Path, *, mirror: str | None, refresh: bool, **kwargs) -> Path:
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
                refresh=refresh, **kwargs,
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
    return _use_cached(key, target, root, rel, entry, f.sha256, src.name)


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
