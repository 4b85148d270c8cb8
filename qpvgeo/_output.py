"""Output folders that qpvgeo manages: never delete or overwrite what qpvgeo did not write.

A report folder (``qpvgeo diagnose --out DIR``) carries a manifest, ``.qpvgeo-manifest.json``,
listing the files qpvgeo wrote there with their size and sha256. A rebuild

- is refused, with a clear error and **before any computation**, when ``DIR`` is a file,
  a non-empty folder without a manifest (a project, a data folder, someone's documents),
  equals or contains a protected folder (the data folder, the current project root, the
  home folder), or cannot be written;
- builds the new files in a temporary folder beside ``DIR`` (``.DIR.qpvgeo-tmp-<pid>``),
  then moves them in one by one, replacing only files listed in the old manifest and
  still as qpvgeo wrote them; any other file (the analyst's notes) is kept;
- removes the files of the old manifest that the new report no longer has;
- removes its temporary folder on any exit: success, error, ``KeyboardInterrupt``,
  ``SIGTERM`` or ``SIGHUP``. A run killed with ``SIGKILL`` cannot clean up; its
  temporary folder, which carries a marker naming the process, is removed by the next
  run once that process is gone.

The rule is rsync's and ``git clean``'s: the manifest is the only list
of what may be deleted, and it is rewritten as the union of the old and new files
before the first move, so an interrupted commit leaves nothing unlisted behind.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "rapport"
>>> with ReportFolder(out) as folder:
...     _ = folder.path_for("index.html").write_text("<p>1</p>")
...     _ = folder.commit()
>>> (out / "notes.txt").write_text("mes notes") and None
>>> with ReportFolder(out) as folder:
...     _ = folder.path_for("index.html").write_text("<p>2</p>")
...     _ = folder.commit()
>>> sorted(p.name for p in out.iterdir())
['.qpvgeo-manifest.json', 'index.html', 'notes.txt']
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from qpvgeo._atomic import atomic_path, file_sha256
from qpvgeo.errors import QpvgeoError

__all__ = ["MANIFEST_NAME", "OutputFolderError", "ReportFolder", "check_output_folder",
           "project_root", "remove_stale_temporaries", "signals_as_exceptions"]

#: Name of the manifest inside a folder qpvgeo manages.
MANIFEST_NAME = ".qpvgeo-manifest.json"
#: Marker inside a temporary build folder: the pid of the process that made it.
_TMP_MARKER = ".qpvgeo-tmp.json"
_TMP_INFIX = ".qpvgeo-tmp-"
#: Files that mark the root of a project (a repository, a Python or R project).
_PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "environment.yml", ".hg", "DESCRIPTION",
                    "package.json")


class OutputFolderError(QpvgeoError):
    """The output folder cannot be used without risking files qpvgeo did not write."""


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current folder) that holds
    a project marker (``.git``, ``pyproject.toml``, ``environment.yml``…), or None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "pyproject.toml").write_text("")
    >>> (d / "sub").mkdir()
    >>> project_root(d / "sub") == d.resolve()
    True
    """
    here = Path(start if start is not None else os.getcwd()).expanduser().resolve()
    for folder in (here, *here.parents):
        if any((folder / m).exists() for m in _PROJECT_MARKERS):
            return folder
    return None


_sha256 = file_sha256


def _read_manifest(folder: Path) -> dict[str, dict] | None:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputFolderError(
            f"{path}: the manifest of this qpvgeo folder is unreadable ({exc}); nothing was "
            "changed. Move the folder away or choose another --out."
        ) from exc
    for rel in files:
        if not _safe_relative(rel):
            raise OutputFolderError(f"{path}: the manifest lists an unsafe path {rel!r}")
    return files


def _safe_relative(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(parts) and not rel.startswith("/") and ".." not in parts and "\\" not in rel


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary build folders of ``target`` left by killed runs; return them.

    Only folders named ``.<target>.qpvgeo-tmp-<pid>`` that hold qpvgeo's marker and whose
    process is gone are removed: a folder without the marker is not qpvgeo's.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> remove_stale_temporaries(pathlib.Path(tempfile.mkdtemp()) / "rapport")
    []
    """
    target = Path(target).expanduser().resolve()
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for candidate in target.parent.glob(f".{target.name}{_TMP_INFIX}*"):
        marker = candidate / _TMP_MARKER
        if not candidate.is_dir() or candidate.is_symlink() or not marker.is_file():
            continue
        try:
            pid = int(json.loads(marker.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _nearest_existing(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(path.anchor)


def check_output_folder(
    out: str | os.PathLike, *, protect: Iterable[str | os.PathLike | None] = ()
) -> Path:
    """Refuse an output folder that could hold files qpvgeo did not write; return it resolved.

    Call it before any computation. Refused: an existing file; a non-empty folder
    without a qpvgeo manifest; a folder that equals or contains one of ``protect``, the
    current project root (:func:`project_root`), the home folder or the filesystem root;
    a folder (or parent) that cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "notes.txt").write_text("x")
    >>> check_output_folder(d)
    Traceback (most recent call last):
    ...
    qpvgeo._output.OutputFolderError: ...: this folder is not empty and was not written by ...
    """
    target = Path(out).expanduser().resolve()
    shown = str(out)
    guarded: list[tuple[Path, str]] = []
    for p in protect:
        if p is not None:
            guarded.append((Path(p).expanduser().resolve(), "the data folder"))
    root = project_root()
    if root is not None:
        guarded.append((root, "the current project's root"))
    guarded.append((Path.home().resolve(), "your home folder"))
    guarded.append((Path(target.anchor), "the filesystem root"))
    for folder, what in guarded:
        if target == folder or folder.is_relative_to(target):
            raise OutputFolderError(
                f"--out {shown} ({target}) is or contains {what} ({folder}); qpvgeo "
                "refuses to write a report there, to never delete files it did not write. "
                "Choose a new folder, e.g. --out rapports/diagnostic."
            )
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"--out {shown}: {target} exists and is not a folder")
    if target.is_dir() and not target.is_symlink():
        manifest = _read_manifest(target)
        if manifest is None and any(target.iterdir()):
            raise OutputFolderError(
                f"--out {shown}: this folder is not empty and was not written by qpvgeo (no "
                f"{MANIFEST_NAME}); nothing was changed. Choose a new or empty folder."
            )
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputFolderError(f"--out {shown}: cannot write in {target} (permission denied)")
    elif target.is_symlink():
        raise OutputFolderError(f"--out {shown}: {target} is a symbolic link; give the real folder")
    base = _nearest_existing(target.parent)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise OutputFolderError(
            f"--out {shown}: cannot create files in {base} (permission denied or read-only)"
        )
    return target


# -- signals: turn SIGTERM / SIGHUP into an exception so that cleanup runs ----------------


class _Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM or SIGHUP."""


_ACTIVE: list[object] = []
_ACTIVE_MUTEX = threading.Lock()
_PREVIOUS: dict[int, object] = {}


def _on_signal(signum, frame):  # pragma: no cover - exercised through a real process
    raise _Terminated(128 + signum)


def _install_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers; cleanup then relies on finally
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None or sig in _PREVIOUS:
            continue
        previous = signal.getsignal(sig)
        if previous not in (signal.SIG_DFL, None):
            continue  # the application handles it already: keep its handler
        _PREVIOUS[sig] = previous
        signal.signal(sig, _on_signal)


def _restore_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, previous in list(_PREVIOUS.items()):
        signal.signal(sig, previous)
        del _PREVIOUS[sig]


def _enter_signals(owner: object) -> None:
    with _ACTIVE_MUTEX:
        _ACTIVE.append(owner)
        if len(_ACTIVE) == 1:
            _install_handlers()


def _leave_signals(owner: object) -> None:
    with _ACTIVE_MUTEX:
        if owner in _ACTIVE:
            _ACTIVE.remove(owner)
        if not _ACTIVE:
            _restore_handlers()


@contextlib.contextmanager
def signals_as_exceptions():
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + signal)``.

    So ``finally`` clauses and context managers (temporary files of
    :func:`qpvgeo._atomic.atomic_path`, :class:`ReportFolder`) clean up when a process is
    stopped. Handlers an application set itself are kept; outside the main thread this
    does nothing. The ``qpvgeo`` command wraps every command in it.

    Examples
    --------
    >>> with signals_as_exceptions():
    ...     pass
    """
    owner = object()
    _enter_signals(owner)
    try:
        yield
    finally:
        _leave_signals(owner)


class ReportFolder:
    """A folder of files qpvgeo writes, committed as a whole (see the module docstring).

    Parameters
    ----------
    out : path
        The folder; checked at once by :func:`check_output_folder` (so build the
        ``ReportFolder`` before any long computation).
    protect : iterable of paths
        Folders that must never be the output or inside it (e.g. the data folder).

    Attributes
    ----------
    path : pathlib.Path
        The resolved target folder.
    work : pathlib.Path
        The temporary build folder (after ``__enter__``); write files there, or use
        :meth:`path_for`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r"
    >>> with ReportFolder(out) as f:
    ...     _ = f.path_for("tables/a.csv").write_text("a\\n")
    ...     sorted(f.commit())
    ['tables/a.csv']
    """

    def __init__(
        self, out: str | os.PathLike, *, protect: Iterable[str | os.PathLike | None] = ()
    ) -> None:
        self.protect = [p for p in protect if p is not None]
        self.path = check_output_folder(out, protect=self.protect)
        self._shown = str(out)
        self.work: Path | None = None
        self.committed = False

    def __enter__(self) -> ReportFolder:
        remove_stale_temporaries(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Handlers first, so that a signal arriving as the folder appears still cleans up.
        _enter_signals(self)
        try:
            work = self.path.parent / f".{self.path.name}{_TMP_INFIX}{os.getpid()}"
            n = 0
            while work.exists():
                n += 1
                work = self.path.parent / f".{self.path.name}{_TMP_INFIX}{os.getpid()}-{n}"
            self.work = work
            work.mkdir()
            (work / _TMP_MARKER).write_text(
                json.dumps({"pid": os.getpid(), "target": str(self.path)}), encoding="utf-8"
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self.work is not None:
                shutil.rmtree(self.work, ignore_errors=True)
        finally:
            _leave_signals(self)

    def path_for(self, name: str) -> Path:
        """The path in the build folder where file ``name`` (relative, ``/``) is written."""
        if self.work is None:
            raise RuntimeError("use ReportFolder as a context manager")
        if not _safe_relative(name) or name in (MANIFEST_NAME, _TMP_MARKER):
            raise OutputFolderError(f"unusable output file name {name!r}")
        path = self.work.joinpath(*PurePosixPath(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _built_files(self) -> dict[str, Path]:
        assert self.work is not None
        out = {}
        for p in sorted(self.work.rglob("*")):
            if p.is_file() and p.name != _TMP_MARKER:
                out[p.relative_to(self.work).as_posix()] = p
        return out

    def commit(self) -> list[str]:
        """Move the built files into the target folder; return their relative names.

        Raises :class:`OutputFolderError` (nothing moved) when the target changed since
        the check, or when a file to replace is not as qpvgeo wrote it.
        """
        if self.work is None:
            raise RuntimeError("use ReportFolder as a context manager")
        target = check_output_folder(self._shown, protect=self.protect)
        built = self._built_files()
        stamp = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        new_entries = {
            rel: {"size": p.stat().st_size, "sha256": _sha256(p), "written": stamp}
            for rel, p in built.items()
        }
        if not target.exists():
            self._write_manifest(self.work, new_entries)
            os.replace(self.work, target)
            self.work = None
            (target / _TMP_MARKER).unlink(missing_ok=True)
            self.committed = True
            return list(built)
        old = _read_manifest(target) or {}
        # Refuse before moving anything: a file we would replace must be ours, unchanged.
        for rel in built:
            dest = target / rel
            if dest.is_symlink() or (dest.exists() and not dest.is_file()):
                raise OutputFolderError(f"{dest}: not a regular file; nothing was replaced")
            if dest.exists():
                if rel not in old:
                    raise OutputFolderError(
                        f"{dest}: this file was not written by qpvgeo (not in {MANIFEST_NAME}); "
                        "nothing was replaced. Move it away or choose another --out."
                    )
                if _sha256(dest) != old[rel].get("sha256"):
                    raise OutputFolderError(
                        f"{dest}: modified since qpvgeo wrote it; nothing was replaced. Save "
                        "your changes under another name (or delete the file) and run again."
                    )
        gone = [rel for rel in old if rel not in built]
        self._write_manifest(target, {**old, **new_entries})  # union first: see module doc
        for rel, src in built.items():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        for rel in gone:
            dest = target / rel
            if dest.is_file() and not dest.is_symlink() and (
                _sha256(dest) == old[rel].get("sha256")
            ):
                dest.unlink()
                _remove_empty_parents(dest.parent, target)
        self._write_manifest(target, new_entries)
        self.committed = True
        return list(built)

    @staticmethod
    def _write_manifest(folder: Path, files: dict[str, dict]) -> None:
        with atomic_path(folder / MANIFEST_NAME) as tmp:
            tmp.write_text(
                json.dumps({"version": 1, "tool": "qpvgeo", "files": files}, indent=1,
                           sort_keys=True),
                encoding="utf-8",
            )


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_relative_to(stop):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty
        folder = folder.parent

