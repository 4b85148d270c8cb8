"""The lock file (sha256 seen at the first download of every URL) and file hashes."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qpvgeo._atomic import atomic_path, file_sha256
from qpvgeo.errors import FetchError

if TYPE_CHECKING:
    pass

#: Name of the lock file kept at the root of every cache directory.
LOCK_NAME = "qpvgeo-lock.json"

_LOCK_MUTEX = threading.Lock()
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


_sha256 = file_sha256


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


