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
#: Environment variable: seconds a whole download may take (overall deadline).
ENV_DEADLINE = "QPVGEO_DEADLINE"
#: Default overall deadline of one download attempt, in seconds.
DEFAULT_DEADLINE = 7200.0
#: Environment variable: slowest acceptable average transfer rate, bytes per second.
ENV_MIN_RATE = "QPVGEO_MIN_RATE"
#: Default minimum average rate (bytes/s), checked once ``RATE_GRACE`` seconds have passed.
DEFAULT_MIN_RATE = 1024.0
#: Seconds before the minimum rate is enforced (slow starts, TCP ramp-up).
RATE_GRACE = 30.0
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
    files = data.get("files", {})
    for url, entry in files.items():
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise FetchError(
                f"{path}: the entry for {url} has no valid sha256 (the lock file was edited or "
                "damaged); remove that entry, or delete the lock file to record the hashes again"
            )
    return files


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
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects (a redirect loop at the server or a proxy)", False
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return f"invalid URL ({exc})", False
    return f"{type(exc).__name__}: {exc}", True


class _TooSlow(Exception):
    """An attempt went past the deadline or under the minimum rate (retried)."""


def _stream(
    download_url: str, tmp: Path, *, timeout: float, deadline: float, min_rate: float,
    bar, expect,
) -> None:
    """One attempt: stream ``download_url`` into ``tmp`` under the three limits."""
    import requests
    import urllib3

    started = time.monotonic()
    with requests.get(download_url, stream=True, timeout=(timeout, timeout),
                      headers={"User-Agent": _USER_AGENT}) as response:
        response.raise_for_status()
        content_type = response.headers.get("Content-Type", "")
        if expect is not None and expect.file_kind != "html" and _html_type(content_type):
            # Known before reading the body: a portal or proxy page, not the file.
            raise DataFormatError(_web_page(download_url, f"Content-Type {content_type}"))
        total = response.headers.get("Content-Length")
        if bar is not None and total and total.isdigit():
            bar.reset(total=int(total))
        got = 0
        with open(tmp, "wb") as out:
            while True:
                try:
                    # read1 returns what one read brings: a drip of bytes still comes
                    # back here, so the deadline and the rate are checked.
                    chunk = response.raw.read1(_CHUNK, decode_content=True)
                except urllib3.exceptions.ReadTimeoutError as exc:
                    raise requests.exceptions.ConnectionError(
                        f"no data for {timeout:g} s, read timed out"
                    ) from exc
                except urllib3.exceptions.ProtocolError as exc:
                    raise requests.exceptions.ChunkedEncodingError(exc) from exc
                if not chunk:
                    break
                out.write(chunk)
                got += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                elapsed = time.monotonic() - started
                if elapsed > deadline:
                    raise _TooSlow(
                        f"not finished within the {deadline:g} s deadline ({got:,} bytes "
                        f"received; raise it with --deadline or ${ENV_DEADLINE})"
                    )
                grace = min(RATE_GRACE, deadline)
                if min_rate and elapsed > grace and got / elapsed < min_rate:
                    raise _TooSlow(
                        f"too slow: {got / elapsed:,.0f} bytes/s on average over {elapsed:.0f} s, "
                        f"below the minimum {min_rate:,.0f} bytes/s (--min-rate or "
                        f"${ENV_MIN_RATE})"
                    )


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
    deadline: float = DEFAULT_DEADLINE,
    min_rate: float = DEFAULT_MIN_RATE,
    expect=None,
) -> tuple[str, int]:
    """Download to a temporary file, validate, check the hash, rename; return (sha256, size)."""
    import requests
    from tqdm.auto import tqdm

    reason = ""
    for attempt in range(retries + 1):
        bar = tqdm(
            desc=target.name, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
            disable=not progress,
        )
        try:
            with atomic_path(target) as tmp:
                _stream(download_url, tmp, timeout=timeout, deadline=deadline,
                        min_rate=min_rate, bar=bar if progress else None, expect=expect)
                # Raised inside the block: atomic_path removes the temporary file, so
                # nothing unchecked reaches the cache or the lock file.
                if expect is not None:
                    validate_download(tmp, expect, url=download_url)
                sha, size = _sha256(tmp), tmp.stat().st_size
                if expected is not None and sha != expected.lower():
                    raise ChecksumError(mismatch.format(sha=sha, size=size))
            return sha, size
        except DataFormatError as exc:
            raise FetchError(f"{exc} Nothing was saved. {_by_hand(url, target)}") from exc
        except (requests.exceptions.RequestException, _TooSlow) as exc:
            reason, retry = (str(exc), True) if isinstance(exc, _TooSlow) else (
                _describe(exc, timeout)
            )
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


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FetchError(f"${name}={raw!r} is not a number") from None
    if not (value >= 0 and value < float("inf")):
        raise FetchError(f"${name}={raw!r} must be a finite number >= 0")
    return value


def _settings(
    mirror: str | None, timeout: float | None, retries: int | None, backoff: float | None
) -> tuple[str | None, float, int, float]:
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
    out = (
        mirror,
        DEFAULT_TIMEOUT if timeout is None else float(timeout),
        DEFAULT_RETRIES if retries is None else int(retries),
        DEFAULT_BACKOFF if backoff is None else float(backoff),
    )
    if not out[1] > 0 or out[2] < 0 or out[3] < 0:
        raise FetchError(
            f"timeout must be > 0 and retries, backoff >= 0 (got {out[1]}, {out[2]}, {out[3]})"
        )
    return out


def _limits(deadline: float | None, min_rate: float | None) -> tuple[float, float]:
    deadline = _env_float(ENV_DEADLINE, DEFAULT_DEADLINE) if deadline is None else deadline
    min_rate = _env_float(ENV_MIN_RATE, DEFAULT_MIN_RATE) if min_rate is None else min_rate
    if not deadline > 0 or not min_rate >= 0:
        raise FetchError(f"deadline must be > 0 and min_rate >= 0 (got {deadline}, {min_rate})")
    return float(deadline), float(min_rate)


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in {"http", "https"}:
        raise FetchError(
            f"{url}: unsupported address (scheme {scheme or 'missing'!r}); qpvgeo downloads "
            "http:// and https:// addresses only. Nothing was tried."
        )


# -- validation: is the file what it claims to be? ----------------------------------------

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
