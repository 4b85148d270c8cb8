"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or an error half-way never leaves a truncated output, and an existing file is
only replaced once the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so that drivers choosing a format from
    the extension (pyogrio, matplotlib) still work. On error it is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a;b\\n")
    >>> target.read_text()
    'a;b\\n'
    >>> oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_UMASK)
    True
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # Some writers (GeoPackage) refuse to write over an existing empty file.
    tmp.unlink()
    try:
        yield tmp
        if tmp.is_file():
            # mkstemp makes 0600 files; give the result the permissions a plain open()
            # would have (a report in a shared folder must stay readable by colleagues).
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in 1 MiB blocks (downloads, caches and manifests share it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = f.write_bytes(b"qpv")
    >>> file_sha256(f)[:12]
    'aada65b36276'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
