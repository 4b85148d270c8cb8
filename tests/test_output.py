"""Output folders: qpvgeo never deletes or overwrites a file it did not write.

The library API (:class:`qpvgeo._output.ReportFolder`) and a real ``qpvgeo diagnose --demo``
process: unsafe ``--out`` refused before any computation, the analyst's files kept on
rebuild, temporary folders removed on SIGTERM / SIGINT, and those of a SIGKILLed run
removed by the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qpvgeo._output import (
    MANIFEST_NAME,
    OutputFolderError,
    ReportFolder,
    check_output_folder,
    remove_stale_temporaries,
)
from qpvgeo.cli import main

REPO = Path(__file__).resolve().parents[1]


def _build(out, files: dict[str, str], **kw) -> list[str]:
    with ReportFolder(out, **kw) as folder:
        for name, text in files.items():
            folder.path_for(name).write_text(text)
        return folder.commit()


def _temporaries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".qpvgeo-tmp-" in p.name)


# -- the library API ---------------------------------------------------------------------


def test_a_rebuild_replaces_only_qpvgeo_files_and_keeps_the_analyst_notes(tmp_path):
    out = tmp_path / "rapport"
    _build(out, {"index.html": "v1", "old.csv": "x", "maps/a.png": "png"})
    (out / "notes.md").write_text("mes notes")
    (out / "maps" / "ma_carte.png").write_text("à moi")
    _build(out, {"index.html": "v2", "maps/a.png": "png2"})
    assert (out / "index.html").read_text() == "v2"
    assert (out / "notes.md").read_text() == "mes notes"
    assert (out / "maps" / "ma_carte.png").read_text() == "à moi"
    assert not (out / "old.csv").exists()  # qpvgeo's, no longer produced: removed
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == ["index.html", "maps/a.png"]
    assert _temporaries(tmp_path) == []


def test_a_file_the_analyst_edited_is_not_overwritten(tmp_path):
    out = tmp_path / "rapport"
    _build(out, {"index.html": "v1", "tableau.csv": "a"})
    (out / "tableau.csv").write_text("a, corrigé à la main")
    with pytest.raises(OutputFolderError, match="tableau.csv: modified since qpvgeo wrote it"):
        _build(out, {"index.html": "v2", "tableau.csv": "b"})
    assert (out / "tableau.csv").read_text() == "a, corrigé à la main"
    assert (out / "index.html").read_text() == "v1"  # nothing moved: refused before
    assert _temporaries(tmp_path) == []


def test_a_file_of_the_same_name_not_in_the_manifest_is_not_overwritten(tmp_path):
    out = tmp_path / "rapport"
    _build(out, {"index.html": "v1"})
    (out / "carte.png").write_text("la mienne")
    with pytest.raises(OutputFolderError, match="carte.png: this file was not written by qpvgeo"):
        _build(out, {"index.html": "v2", "carte.png": "png"})
    assert (out / "carte.png").read_text() == "la mienne"


@pytest.mark.parametrize("setup", ["non_empty", "file", "data_inside", "data_itself",
                                   "project", "home"])
def test_unsafe_output_folders_are_refused(tmp_path, monkeypatch, setup):
    data = tmp_path / "donnees"
    data.mkdir()
    (data / "qpv.geojson").write_text("{}")
    protect = [data]
    if setup == "non_empty":
        out = tmp_path / "projet"
        out.mkdir()
        (out / "analyse.R").write_text("x")
        match = "not empty and was not written by qpvgeo"
    elif setup == "file":
        out = tmp_path / "x.txt"
        out.write_text("x")
        match = "exists and is not a folder"
    elif setup == "data_inside":
        out = tmp_path
        match = "is or contains the data folder"
    elif setup == "data_itself":
        out = data
        match = "is or contains the data folder"
    elif setup == "project":
        proj = tmp_path / "etude"
        (proj / "sub").mkdir(parents=True)
        (proj / "pyproject.toml").write_text("")
        monkeypatch.chdir(proj / "sub")
        out, protect = Path(".."), []
        match = "current project's root"
    else:
        monkeypatch.setenv("HOME", str(tmp_path / "maison"))
        (tmp_path / "maison").mkdir()
        out, protect = tmp_path / "maison", []
        match = "home folder"
    before = sorted(p.as_posix() for p in tmp_path.rglob("*"))
    with pytest.raises(OutputFolderError, match=match):
        ReportFolder(out, protect=protect)
    assert sorted(p.as_posix() for p in tmp_path.rglob("*")) == before


def test_an_unwritable_parent_is_refused_before_any_work(tmp_path):
    parent = tmp_path / "lecture_seule"
    parent.mkdir()
    made = subprocess.run(["chattr", "+i", str(parent)], capture_output=True)
    if made.returncode:
        pytest.skip("chattr +i not available")
    try:
        with pytest.raises(OutputFolderError, match="cannot create files in"):
            check_output_folder(parent / "rapport")
    finally:
        subprocess.run(["chattr", "-i", str(parent)], check=True)


def test_an_error_while_building_leaves_nothing(tmp_path):
    out = tmp_path / "rapport"
    with pytest.raises(ZeroDivisionError), ReportFolder(out) as folder:
        folder.path_for("index.html").write_text("x")
        1 / 0  # noqa: B018
    assert not out.exists() and _temporaries(tmp_path) == []


def test_stale_temporaries_of_dead_processes_are_removed_and_others_kept(tmp_path):
    out = tmp_path / "rapport"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".rapport.qpvgeo-tmp-{dead.stdout.strip()}"
    stale.mkdir()
    (stale / ".qpvgeo-tmp.json").write_text(json.dumps({"pid": int(dead.stdout)}))
    alive = tmp_path / f".rapport.qpvgeo-tmp-{os.getppid()}"
    alive.mkdir()
    (alive / ".qpvgeo-tmp.json").write_text(json.dumps({"pid": os.getppid()}))
    foreign = tmp_path / ".rapport.qpvgeo-tmp-1-notes"  # no marker: not ours
    foreign.mkdir()
    assert remove_stale_temporaries(out) == [stale]
    assert alive.exists() and foreign.exists()


# -- a real `qpvgeo diagnose` process ----------------------------------------------------


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "QPVGEO_DEBUG": ""}


def _diagnose(*args, cwd):
    return subprocess.run([sys.executable, "-m", "qpvgeo", "diagnose", "--demo", "--quiet",
                           "--dpi", "40", *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(), timeout=600)


def test_cli_diagnose_refuses_dot_in_a_project_folder_and_the_data_folder(tmp_path):
    proj = tmp_path / "etude"
    proj.mkdir()
    (proj / "analyse.py").write_text("print('mon code')")
    result = CliRunner().invoke(main, ["diagnose", "--demo", "--out", str(proj)])
    assert result.exit_code == 1
    assert result.output.startswith("qpvgeo: error: --out")
    assert "not empty and was not written by qpvgeo" in result.output
    assert (proj / "analyse.py").read_text() == "print('mon code')"
    data = tmp_path / "data"
    data.mkdir()
    result = CliRunner().invoke(main, ["diagnose", "--territory", "region:32", "--data-dir",
                                       str(data), "--out", str(data)])
    assert result.exit_code == 1 and "is or contains the data folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_diagnose_rebuild_keeps_user_files(tmp_path):
    out = tmp_path / "rapport"
    first = _diagnose("--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (out / "mes_notes.txt").write_text("à garder")
    second = _diagnose("--out", str(out), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (out / "mes_notes.txt").read_text() == "à garder"
    listed = json.loads((out / MANIFEST_NAME).read_text())["files"]
    assert "index.html" in listed and "mes_notes.txt" not in listed
    assert _temporaries(tmp_path) == []


def _start_and_signal(tmp_path, sig) -> tuple[subprocess.Popen, list[str]]:
    out = tmp_path / "rapport"
    proc = subprocess.Popen([sys.executable, "-m", "qpvgeo", "diagnose", "--demo",
                             "--quiet", "--dpi", "40", "--out", str(out)], cwd=tmp_path,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 300
    while not _temporaries(tmp_path):  # wait until the build folder exists
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"diagnose ended before the signal: {proc.communicate()}")
        time.sleep(0.02)
    seen = _temporaries(tmp_path)
    proc.send_signal(sig)
    _, proc.stderr_text = proc.communicate(timeout=120)
    return proc, seen


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                       (signal.SIGINT, 130)])
def test_a_signalled_diagnose_leaves_no_temporary_folder(tmp_path, sig, code):
    proc, seen = _start_and_signal(tmp_path, sig)
    assert seen and all(".rapport.qpvgeo-tmp-" in s for s in seen)
    assert proc.returncode == code
    assert _temporaries(tmp_path) == []
    assert not (tmp_path / "rapport").exists()
    assert "Traceback" not in proc.stderr_text
    if sig == signal.SIGINT:
        assert "qpvgeo: error: interrupted" in proc.stderr_text
    else:
        assert "qpvgeo: error: stopped by SIGTERM" in proc.stderr_text


@pytest.mark.slow
def test_the_leftover_of_a_killed_diagnose_is_removed_by_the_next_run(tmp_path):
    proc, seen = _start_and_signal(tmp_path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert _temporaries(tmp_path) == seen  # SIGKILL cannot be handled: the folder stays
    again = _diagnose("--out", str(tmp_path / "rapport"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _temporaries(tmp_path) == []
    assert (tmp_path / "rapport" / "index.html").is_file()
