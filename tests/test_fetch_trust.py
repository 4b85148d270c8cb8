"""Downloads under hostile conditions: a captive portal, a dripping server, a redirect loop,
a truncated or wrong archive, a damaged lock file, a read-only shared cache.

The rule checked everywhere: a file that is not what its catalogue entry says never
reaches the cache, and its hash never reaches the lock file. Every request goes to the
loopback server of ``http_mirror`` (127.0.0.1).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import zipfile

import pytest
from click.testing import CliRunner
from http_mirror import http_mirror  # noqa: F401 (fixture)
from test_fetch import FAST, catalogue_mirror, isolated, qf, route  # noqa: F401 (fixtures)

from qpvgeo.cli import main
from qpvgeo.errors import FetchError
from qpvgeo.sources import CATALOGUE, SourceFile

PORTAL = "this looks like a web page (proxy or captive portal?)"


def _cache(tmp_path):
    return tmp_path / "cache"


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not p.name.endswith(".mutex"))


def test_a_captive_portal_is_never_cached(catalogue_mirror, tmp_path):  # noqa: F811
    catalogue_mirror.fault("*", "html")
    url = CATALOGUE["qpv2024_communes"].files[0].url
    for _ in range(2):
        with pytest.raises(FetchError) as info:
            qf.fetch("qpv2024_communes", mirror=catalogue_mirror.url, **FAST)
        msg = str(info.value)
        assert PORTAL in msg and "Content-Type text/html" in msg
        assert route(url) in msg  # the address asked, on the mirror
    # Each fetch asked again: nothing was cached, nothing went into the lock file.
    assert catalogue_mirror.count(route(url)) == 2
    assert _files(_cache(tmp_path)) == []
    assert qf.lock_entries() == {}
    catalogue_mirror.clear_faults()
    path = qf.fetch("qpv2024_communes", mirror=catalogue_mirror.url, **FAST)
    assert path.read_bytes().startswith(b"code_qp,")


def test_an_html_body_sent_as_octet_stream_is_recognised(http_mirror, tmp_path):  # noqa: F811
    from http_mirror import PORTAL_PAGE

    http_mirror.add("/data.example.org/pop.csv", PORTAL_PAGE)
    with pytest.raises(FetchError, match=r"captive portal\?\).*starts like HTML"):
        qf.fetch_file("https://data.example.org/pop.csv", mirror=http_mirror.url, **FAST)
    assert qf.lock_entries() == {}
    assert _files(_cache(tmp_path)) == []


def test_an_html_page_placed_in_the_cache_by_an_older_run_is_refused(http_mirror, tmp_path):  # noqa: F811
    from http_mirror import PORTAL_PAGE

    # What an older qpvgeo (without validation) may have left: a portal page as the file.
    target = _cache(tmp_path) / "insee_qpv2015_population" / "DEMO_2022.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(PORTAL_PAGE)
    with pytest.raises(FetchError, match="captive portal") as info:
        qf.fetch("insee_qpv2015_population", **FAST)
    assert "delete it" in str(info.value)


def test_a_server_dripping_one_byte_at_a_time_hits_the_deadline(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/data.example.org/big.csv", b"a;b\n" + b"1;2\n" * 200)
    http_mirror.fault("/data.example.org/big.csv", "drip", delay=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"not finished within the 1\.5 s deadline"):
        qf.fetch_file("https://data.example.org/big.csv", mirror=http_mirror.url,
                      deadline=1.5, **FAST)
    # Each byte comes well within the 10 s read timeout, yet the attempt stops at the
    # deadline (+ one byte's delay and the connection set-up).
    assert time.monotonic() - started < 4
    assert _files(_cache(tmp_path)) == []


def test_a_server_below_the_minimum_rate_is_given_up(http_mirror, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(importlib.import_module("qpvgeo.fetch._http"), "RATE_GRACE", 0.5)
    http_mirror.add("/data.example.org/big.csv", b"a;b\n" + b"1;2\n" * 200)
    http_mirror.fault("/data.example.org/big.csv", "drip", delay=0.05)
    monkeypatch.setenv("QPVGEO_MIN_RATE", "1000")  # about 20 bytes/s are coming
    with pytest.raises(FetchError, match=r"too slow: \d+ bytes/s .* below the minimum 1,000"):
        qf.fetch_file("https://data.example.org/big.csv", mirror=http_mirror.url, **FAST)
    assert _files(_cache(tmp_path)) == []


def test_a_redirect_loop_is_not_retried(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/data.example.org/a.csv", b"a\n1\n")
    http_mirror.fault("/data.example.org/a.csv", "redirect")
    with pytest.raises(FetchError, match="redirect loop") as info:
        qf.fetch_file("https://data.example.org/a.csv", mirror=http_mirror.url,
                      **{**FAST, "retries": 3})
    assert "attempts" not in str(info.value)
    # requests follows 30 redirects once; a retry would have doubled the count.
    assert http_mirror.count("/data.example.org/a.csv") == 31


def test_an_unusable_url_scheme_fails_at_once_without_retries(tmp_path):
    started = time.monotonic()
    with pytest.raises(FetchError, match="unsupported address .*'ftp'"):
        qf.fetch_file("ftp://data.example.org/a.csv", retries=5, backoff=10, progress=False)
    assert time.monotonic() - started < 1  # five retries with backoff would take minutes


def test_a_truncated_archive_with_a_wrong_length_is_refused(http_mirror, tmp_path):  # noqa: F811
    # The server sends 1,000 bytes of a zip announced as such, with a correct length:
    # only the archive check can tell it is cut.
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.csv", "a;b\n" * 5000)
    http_mirror.add("/data.example.org/a.zip", archive.read_bytes()[:1000])
    with pytest.raises(FetchError, match="not a zip archive"):
        qf.fetch_file("https://data.example.org/a.zip", mirror=http_mirror.url, **FAST)
    assert qf.lock_entries() == {}


def test_an_archive_without_the_expected_member_is_refused(catalogue_mirror, tmp_path):  # noqa: F811
    url = CATALOGUE["qpv2024"].files[0].url
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("GEOJSON/autre_chose.geojson", '{"type": "FeatureCollection", "features": []}')
        zf.writestr("GEOJSON/lisez-moi.txt", "x" * 600_000)  # past the minimum size
    catalogue_mirror.add(route(url), wrong)
    with pytest.raises(FetchError) as info:
        qf.fetch("qpv2024", mirror=catalogue_mirror.url, **FAST)
    assert "lacks QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson" in str(info.value)
    assert "autre_chose.geojson" in str(info.value)
    assert qf.lock_entries() == {}


def test_a_csv_without_its_expected_columns_or_size_is_refused(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("X,Y\n1,2\n")
    spec = SourceFile("v.csv", None, header=("COM", "LIBELLE"))
    with pytest.raises(qf.DataFormatError, match="lacks column.* COM, LIBELLE"):
        qf.validate_download(p, spec)
    with pytest.raises(qf.DataFormatError, match="the catalogue pins 2,666,007 bytes"):
        qf.validate_download(p, CATALOGUE["cog2026"].files[0])


def test_pinned_catalogue_files_match_the_real_files(shared_data):
    # The pins come from byte-for-byte copies in ../shared/data (see each SOURCE.md).
    pinned = {(s.name, f.filename): f for s in CATALOGUE.values() for f in s.files if f.pinned}
    assert set(pinned) == {("cog2026", "v_commune_2026.csv"),
                           ("cog2026", "v_mvt_commune_2026.csv"), ("epci2025", "epcicom2025.xlsx")}
    copies = {"v_commune_2026.csv": "insee_cog/communes_cog.csv",
              "v_mvt_commune_2026.csv": "insee_cog/mouvements_communes.csv",
              "epcicom2025.xlsx": "epci_hdf/epcicom2025.xlsx"}
    import hashlib

    for (_, filename), f in pinned.items():
        data = (shared_data / copies[filename]).read_bytes()
        assert len(data) == f.size
        assert hashlib.sha256(data).hexdigest() == f.sha256
        qf.validate_download(shared_data / copies[filename], f)


def test_cli_sources_says_which_files_are_pinned():
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "sha256+size" in lines["cog2026"] and "sha256+size" in lines["epci2025"]
    assert " no " in lines["qpv2024"]


def test_a_lock_entry_without_sha256_is_a_one_line_error(catalogue_mirror, tmp_path):  # noqa: F811
    qf.fetch("qpv2024_communes", mirror=catalogue_mirror.url, **FAST)
    lock = _cache(tmp_path) / qf.LOCK_NAME
    data = json.loads(lock.read_text())
    url = CATALOGUE["qpv2024_communes"].files[0].url
    del data["files"][url]["sha256"]
    lock.write_text(json.dumps(data))
    with pytest.raises(FetchError, match=f"the entry for {url} has no valid sha256"):
        qf.fetch("qpv2024_communes", mirror=catalogue_mirror.url, **FAST)
    result = CliRunner().invoke(main, ["fetch", "qpv2024_communes", "--quiet", "--mirror",
                                       catalogue_mirror.url])
    assert result.exit_code == 1
    assert "no valid sha256" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("option", [["--timeout", "0"], ["--timeout", "-1"],
                                    ["--retries", "-2"], ["--deadline", "0"],
                                    ["--min-rate", "-5"]])
def test_cli_fetch_refuses_impossible_limits_in_one_line(option):
    result = CliRunner().invoke(main, ["fetch", "qpv2024", *option])
    assert result.exit_code == 2
    assert result.output.startswith("qpvgeo: error: Invalid value for")
    assert len(result.output.strip().splitlines()) == 1


def test_a_read_only_shared_cache_holding_valid_files_is_usable(catalogue_mirror, tmp_path,  # noqa: F811
                                                                shared_data):
    cache = tmp_path / "shared-cache"
    qf.fetch("qpv2024_communes", dest=cache, mirror=catalogue_mirror.url, **FAST)
    geojson = qf.fetch("qpv2024", dest=cache, mirror=catalogue_mirror.url, **FAST)  # extracted
    # A colleague's files, placed by hand, never recorded in the lock file.
    by_hand = cache / "insee_qpv2015_population" / "DEMO_2022.csv"
    by_hand.parent.mkdir()
    by_hand.write_bytes((shared_data / "insee_qpv_tables/DEMO_2022.csv").read_bytes())
    folders = [cache, *[p for p in cache.rglob("*") if p.is_dir()]]
    files = [p for p in cache.rglob("*") if p.is_file()]
    # chattr +i makes files and folders read-only even for root (tests run as root here).
    made = subprocess.run(["chattr", "+i", *map(str, files + folders)], capture_output=True)
    if made.returncode:
        pytest.skip(f"chattr +i not available here: {made.stderr.decode().strip()}")
    try:
        with pytest.raises(OSError):
            (cache / "probe").write_text("x")  # really read-only
        # A fresh process, with a mirror that refuses connections: no request is made.
        code = (
            "from qpvgeo.fetch import fetch\n"
            f"print(fetch('qpv2024_communes', dest={str(cache)!r}, mirror='http://127.0.0.1:9',"
            " progress=False))\n"
            f"print(fetch('insee_qpv2015_population', dest={str(cache)!r}, progress=False))\n"
            f"print(fetch('qpv2024', dest={str(cache)!r}, mirror='http://127.0.0.1:9',"
            " progress=False))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [str(cache / "qpv2024_communes" / "qpv2024_communes.csv"),
                                      str(by_hand), str(geojson)]
    finally:
        subprocess.run(["chattr", "-i", *map(str, files + folders)], check=True)


def test_a_fetch_stopped_by_sigterm_leaves_no_partial_file(catalogue_mirror, tmp_path):  # noqa: F811
    import os
    import signal
    from pathlib import Path

    url = CATALOGUE["qpv2024_communes"].files[0].url
    catalogue_mirror.fault(route(url), "drip", delay=0.01)
    dest = tmp_path / "cache-sig"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "qpvgeo", "fetch", "qpv2024_communes",
                             "--quiet", "--dest", str(dest), "--mirror", catalogue_mirror.url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = dest / "qpv2024_communes"
    deadline = time.monotonic() + 60
    while not (folder.is_dir() and any(folder.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    partial = [p.name for p in folder.iterdir()]
    assert all(n.startswith(".qpv2024_communes.csv.") for n in partial)  # being written
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "qpvgeo: error: stopped by SIGTERM" in err and "Traceback" not in err
    assert list(folder.iterdir()) == []  # the temporary file is gone
    assert not (dest / qf.LOCK_NAME).exists()


def test_an_extraction_folder_not_made_by_qpvgeo_is_never_deleted(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.csv", "a\n")
    mine = tmp_path / "a"
    mine.mkdir()
    (mine / "notes.txt").write_text("à moi")
    with pytest.raises(FetchError, match="was not extracted by qpvgeo"):
        qf.extract_archive(archive)
    assert (mine / "notes.txt").read_text() == "à moi"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.zip", "cache"] or sorted(
        p.name for p in tmp_path.iterdir()) == ["a", "a.zip"]
