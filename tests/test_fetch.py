"""Downloads, cache, checksums, lock file, mirrors, proxies, archives and provenance.

Every request goes to a real HTTP server on 127.0.0.1 (``http_mirror``), never further:
catalogue sources are fetched through ``mirror=`` from a route table that serves the
files of ``../shared/data`` (and zips of them built on the fly) at the mirror layout
``/{publisher host}/{publisher path}``. Every cache lives in ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import warnings
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import importorskip_or_fail
from http_mirror import MirrorServer, http_mirror  # noqa: F401 (fixture)

from qpvgeo.cli import main
from qpvgeo.errors import ChecksumError, FetchError, QpvgeoError, UnsafeArchiveError
from qpvgeo.sources import CATALOGUE, SHARED_DATA, get_source, resolve_loader, sources_table

# qpvgeo/__init__ re-exports the function ``fetch``, which hides the submodule attribute.
qf = importlib.import_module("qpvgeo.fetch")

FAST = {"progress": False, "retries": 0, "backoff": 0.0, "timeout": 10.0}


def sha256(data: bytes | Path) -> str:
    return hashlib.sha256(data.read_bytes() if isinstance(data, Path) else data).hexdigest()


def route(url: str) -> str:
    """Path of ``url`` on a mirror (``/{host}/{path}``)."""
    parts = urlsplit(url)
    return f"/{parts.netloc}{parts.path}"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A private cache, no mirror or proxy from the environment, fresh provenance."""
    monkeypatch.setenv("QPVGEO_DATA_DIR", str(tmp_path / "cache"))
    for var in ("QPVGEO_MIRROR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    qf.clear_provenance()
    yield
    qf.clear_provenance()


@pytest.fixture
def catalogue_mirror(http_mirror, shared_data, tmp_path):  # noqa: F811
    """The loopback server holding every catalogue file that ../shared/data stands for."""
    zips = tmp_path / "zips"
    zips.mkdir()
    for name, files in SHARED_DATA.items():
        by_name = {f.filename: f for f in get_source(name).files}
        for filename, content in files.items():
            url = by_name[filename].url
            if url is None:  # placed by hand: nothing to serve
                continue
            if isinstance(content, dict):
                archive = zips / f"{name}-{filename}"
                with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
                    for member, rel in content.items():
                        zf.write(shared_data / rel, member)
                http_mirror.add(route(url), archive)
            else:
                http_mirror.add(route(url), shared_data / content)
    http_mirror.add_dir("/shared", shared_data)
    return http_mirror


def cache_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- the catalogue --------------------------------------------------------------------------


def test_catalogue_covers_the_issue_and_every_loader_resolves():
    wanted = {"qpv2024", "qpv2015", "qpv2024_communes", "insee_qpv2024_population",
              "insee_qpv2015_population", "insee_qpv2024_revenus", "insee_qpv2015_revenus",
              "insee_population_2023", "cog2026", "admin_express_cog2024", "epci2025",
              "filosofi200m_2019", "georisques_icpe", "georisques_tri_59", "georisques_eaip",
              "lcsqa_annual_means", "cerema_lcz_lille"}
    assert wanted <= set(CATALOGUE)
    for src in CATALOGUE.values():
        assert callable(resolve_loader(src)), src.name
        assert src.page.startswith("https://"), src.name
        assert src.licence and src.publisher and src.millesime, src.name
        for f in src.files:
            assert f.url is None or f.url.startswith("https://"), (src.name, f.url)
        # A source without any address must say where to get it.
        if not src.urls:
            assert src.note, src.name
    table = sources_table()
    assert len(table) == len(CATALOGUE)
    assert table["address"].str.contains("by hand").sum() == sum(
        1 for s in CATALOGUE.values() if not s.urls
    )


def test_shared_data_mapping_points_at_real_files(shared_data):
    for name, files in SHARED_DATA.items():
        known = {f.filename for f in get_source(name).files}
        for filename, content in files.items():
            assert filename in known, (name, filename)
            rels = content.values() if isinstance(content, dict) else [content]
            for rel in rels:
                assert (shared_data / rel).is_file(), rel


def test_unknown_source_suggests_close_names():
    with pytest.raises(QpvgeoError, match=r"unknown source 'qpv2025'.*did you mean qpv2024"):
        qf.fetch("qpv2025")


def test_mirror_layout_keeps_host_and_query():
    url = CATALOGUE["georisques_icpe"].files[0].url
    got = qf.mirror_url(url, "http://miroir.region.fr/data/")
    assert got.startswith("http://miroir.region.fr/data/mapsref.brgm.fr/wxs/georisques/")
    assert got.endswith("typename=InstallationsClassees&outputformat=SHAPEZIP")
    assert qf.mirror_url(url, "") == url


# -- real files through the mirror, then the readers ------------------------------------------


def test_fetch_real_sources_and_read_them(catalogue_mirror, tmp_path, shared_data):
    from qpvgeo.readers import (
        read_cog_movements,
        read_commune_population,
        read_flood_extents,
        read_qpv,
    )
    from qpvgeo.readers.grid import read_filosofi_grid

    kw = {"mirror": catalogue_mirror.url, **FAST}
    qpv = qf.fetch("qpv2015", **kw)
    assert qpv.name == "QP_METROPOLE_LB93.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 25 invalid rings are repaired with a warning
        frame = read_qpv(qpv)
    # SOURCE.md of qpv2015_contours_anct: 1,296 metropolitan QPV, 199 in HdF.
    assert len(frame) == 1296
    assert frame["code_qpv"].str[2:5].isin(["002", "059", "060", "062", "080"]).sum() == 199

    pop = read_commune_population(qf.fetch("insee_population_2023", **kw))
    # SOURCE.md of insee_population_communes: HdF (REG 32) 3,782 communes, PMUN 5,992,194.
    hdf = pop[pop["code_region"] == "32"]
    assert (len(hdf), int(hdf["population"].sum())) == (3782, 5_992_194)

    communes = qf.fetch("cog2026", **kw)
    assert communes.name == "v_commune_2026.csv"
    movements = read_cog_movements(communes.with_name("v_mvt_commune_2026.csv"))
    assert len(movements) == 13_734  # SOURCE.md of insee_cog

    # read_epci takes ~20 s on the national workbook: check the bytes instead.
    epci = qf.fetch("epci2025", **kw)
    assert sha256(epci) == sha256(shared_data / "epci_hdf/epcicom2025.xlsx")

    grid = read_filosofi_grid(qf.fetch("filosofi200m_2019", **kw))
    assert len(grid) == 965  # cells of the 4-commune GeoPackage sample

    tri = qf.fetch("georisques_tri_59", **kw)  # a folder: one layer per TRI and scenario
    assert tri.is_dir()
    layer = tri / "tri_2020_sig_di_59" / "n_tri_lill_inondable_s_059_excerpt.geojson"
    flood = read_flood_extents(layer)
    assert len(flood) == 7  # flood_hdf/SOURCE.md: 8 features, one with an empty geometry

    # Everything landed in the private cache, under the source names.
    root = tmp_path / "cache"
    assert {p.name for p in root.iterdir()} == {
        "qpv2015", "insee_population_2023", "cog2026", "epci2025", "filosofi200m_2019",
        "georisques_tri_59", qf.LOCK_NAME, qf.LOCK_NAME + ".mutex",
    }


def test_second_fetch_is_served_from_the_cache(catalogue_mirror):
    url = CATALOGUE["cog2026"].files[0].url
    first = qf.fetch("cog2026", mirror=catalogue_mirror.url, **FAST)
    assert catalogue_mirror.count(route(url)) == 1
    again = qf.fetch("cog2026", mirror=catalogue_mirror.url, **FAST)
    assert again == first
    assert catalogue_mirror.count(route(url)) == 1  # no second request
    # The extracted archive is not extracted twice either.
    shp = qf.fetch("qpv2015", mirror=catalogue_mirror.url, **FAST)
    stamp = shp.stat().st_mtime_ns
    assert qf.fetch("qpv2015", mirror=catalogue_mirror.url, **FAST).stat().st_mtime_ns == stamp


def test_provenance_records_urls_sizes_and_hashes(catalogue_mirror, shared_data):
    qf.fetch("cog2026", mirror=catalogue_mirror.url, **FAST)
    qf.fetch("cog2026", mirror=catalogue_mirror.url, **FAST)  # cache hit: same two records
    records = {Path(r["path"]).name: r for r in qf.provenance_records()}
    assert set(records) == {"v_commune_2026.csv", "v_mvt_commune_2026.csv"}
    rec = records["v_commune_2026.csv"]
    assert rec["source"] == "cog2026"
    assert rec["url"] == "https://www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv"
    assert rec["download_url"] == catalogue_mirror.url + route(rec["url"])
    # sha256 and size published in shared/data/insee_cog/SOURCE.md for communes_cog.csv.
    assert rec["sha256"] == "fb8d44ed1d10056cea8fb62e9d09b260bee61d5cfb8f6c08e19a4a4a6f935a15"
    assert rec["size"] == (shared_data / "insee_cog/communes_cog.csv").stat().st_size
    assert rec["origin"] == "cache" and rec["retrieved"].startswith("20")
    table = qf.provenance_table()
    assert table["size"].sum() == 2_666_007 + 1_691_975  # the two COG files, insee_cog/
    assert records["v_mvt_commune_2026.csv"]["sha256"] == (
        "89be99e24eefa87d68b779089e9a8b6f2b339a586b060ddb1298f673bf5c617f"
    )
    lock = qf.lock_entries()
    assert lock[rec["url"]]["sha256"] == rec["sha256"]
    assert lock[rec["url"]]["path"] == "cog2026/v_commune_2026.csv"


def test_record_local_file_and_readers_record_their_inputs(shared_data, tmp_path):
    path = shared_data / "insee_qpv_tables/DEMO_2022.csv"
    rec = qf.record_local_file(path, source="insee_qpv2015_population")
    # SOURCE.md of insee_qpv_tables gives this sha256 and size.
    assert rec["sha256"] == "26021ef61b14ef07693aebeb8db59b5c5d4e02faa639e1054a3f93cf1570337c"
    assert (rec["size"], rec["origin"], rec["url"]) == (465_738, "local", None)
    folder = tmp_path / "gdb"
    folder.mkdir()
    (folder / "a").write_bytes(b"12")
    (folder / "b").write_bytes(b"345")
    assert qf.record_local_file(folder)["size"] == 5
    assert len(qf.provenance_records()) == 2
    with pytest.raises(QpvgeoError, match="no such file"):
        qf.record_local_file(tmp_path / "missing.csv")


# -- failures leave nothing behind ------------------------------------------------------------


def test_pinned_checksum_mismatch_is_an_error_and_leaves_nothing(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/data.example.org/files/table.csv", b"code;valeur\n1;2\n")
    url = "https://data.example.org/files/table.csv"
    dest = tmp_path / "raw"
    with pytest.raises(ChecksumError, match=r"expected 0{64}.*Nothing was saved") as info:
        qf.fetch_file(url, sha256="0" * 64, dest=dest, mirror=http_mirror.url, **FAST)
    assert "data.example.org/files/table.csv" in str(info.value)
    assert cache_files(dest) == []  # neither the file, nor a temporary, nor a lock entry
    good = sha256(b"code;valeur\n1;2\n")
    path = qf.fetch_file(url, sha256=good, dest=dest, mirror=http_mirror.url, **FAST)
    assert path == dest / "urls/data.example.org/files/table.csv"
    assert path.read_bytes() == b"code;valeur\n1;2\n"


def test_connection_closed_half_way_is_an_error_and_leaves_nothing(http_mirror, tmp_path):  # noqa: F811
    body = bytes(range(256)) * 4096  # 1 MiB
    http_mirror.add("/static.example.org/big.bin", body)
    http_mirror.fault("/static.example.org/big.bin", "truncate")
    dest = tmp_path / "raw"
    with pytest.raises(FetchError, match=r"closed before the end") as info:
        qf.fetch_file("https://static.example.org/big.bin", dest=dest, mirror=http_mirror.url,
                      **FAST)
    assert "save it as " + str(dest / "urls/static.example.org/big.bin") in str(info.value)
    assert cache_files(dest) == []


def test_a_cut_download_is_retried(http_mirror, tmp_path):  # noqa: F811
    body = b"x" * 100_000
    http_mirror.add("/static.example.org/retry.bin", body)
    http_mirror.fault("/static.example.org/retry.bin", "truncate", times=1)
    path = qf.fetch_file("https://static.example.org/retry.bin", dest=tmp_path,
                         mirror=http_mirror.url, progress=False, retries=2, backoff=0.0)
    assert path.read_bytes() == body
    assert http_mirror.count("/static.example.org/retry.bin") == 2


def test_404_names_the_url_and_where_to_put_the_file(catalogue_mirror, tmp_path, shared_data):
    catalogue_mirror.fault(route(CATALOGUE["epci2025"].files[0].url), "status", status=404)
    with pytest.raises(FetchError) as info:
        qf.fetch("epci2025", mirror=catalogue_mirror.url, progress=False, retries=3,
                 backoff=0.0)
    msg = str(info.value)
    assert "HTTP 404" in msg
    assert CATALOGUE["epci2025"].files[0].url in msg
    assert f"save it as {tmp_path / 'cache' / 'epci2025' / 'epcicom2025.xlsx'}" in msg
    # A 404 is not retried: retrying cannot make the file appear.
    assert catalogue_mirror.count(route(CATALOGUE["epci2025"].files[0].url)) == 1
    target = tmp_path / "cache" / "epci2025" / "epcicom2025.xlsx"
    assert not target.exists()
    # Following the message: the file saved there by hand is found, without any request.
    shutil.copy(shared_data / "epci_hdf/epcicom2025.xlsx", target)
    assert qf.fetch("epci2025", mirror=catalogue_mirror.url, **FAST) == target
    assert catalogue_mirror.count(route(CATALOGUE["epci2025"].files[0].url)) == 1
    assert [r["origin"] for r in qf.provenance_records()] == ["manual"]


def test_timeout_names_the_url_and_where_to_put_the_file(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/slow.example.org/f.csv", b"a\n")
    http_mirror.fault("/slow.example.org/f.csv", "slow", delay=3.0)
    with pytest.raises(FetchError, match=r"no answer within the 0.3 s timeout") as info:
        qf.fetch_file("https://slow.example.org/f.csv", dest=tmp_path / "raw",
                      mirror=http_mirror.url, progress=False, retries=0, timeout=0.3)
    assert "could not download https://slow.example.org/f.csv" in str(info.value)
    assert "save it as " in str(info.value)
    assert cache_files(tmp_path / "raw") == []


def test_server_errors_are_retried_then_reported(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/busy.example.org/f.csv", b"a\n")
    http_mirror.fault("/busy.example.org/f.csv", "status", status=503)
    with pytest.raises(FetchError, match=r"after 3 attempts: HTTP 503"):
        qf.fetch_file("https://busy.example.org/f.csv", dest=tmp_path, mirror=http_mirror.url,
                      progress=False, retries=2, backoff=0.0)
    assert http_mirror.count("/busy.example.org/f.csv") == 3


# -- the lock file ---------------------------------------------------------------------------


def test_lock_file_catches_a_file_changed_on_the_server(catalogue_mirror, tmp_path):
    # qpv2024_communes is not pinned in the catalogue: the lock file is what protects it.
    url = CATALOGUE["qpv2024_communes"].files[0].url
    kw = {"mirror": catalogue_mirror.url, **FAST}
    path = qf.fetch("qpv2024_communes", **kw)
    original = path.read_bytes()
    recorded = qf.lock_entries()[url]
    assert recorded["sha256"] == sha256(original)

    changed = original.replace(b"Bourg-en-Bresse", b"Bourg-en-Bressf", 1)
    assert changed != original
    catalogue_mirror.add(route(url), changed)
    path.unlink()  # e.g. the cache was cleaned, or a colleague fetches into the same folder
    with pytest.raises(ChecksumError) as info:
        qf.fetch("qpv2024_communes", **kw)
    msg = str(info.value)
    assert url in msg and recorded["sha256"] in msg and sha256(changed) in msg
    assert "qpvgeo fetch qpv2024_communes --refresh" in msg
    assert not path.exists()
    assert qf.lock_entries()[url]["sha256"] == recorded["sha256"]

    qf.fetch("qpv2024_communes", refresh=True, **kw)
    assert path.read_bytes() == changed
    assert qf.lock_entries()[url]["sha256"] == sha256(changed)


def test_a_pinned_file_changed_on_the_server_is_refused_even_with_refresh(catalogue_mirror):
    url = CATALOGUE["cog2026"].files[1].url
    kw = {"mirror": catalogue_mirror.url, **FAST}
    path = qf.fetch("cog2026", **kw).with_name("v_mvt_commune_2026.csv")
    original = path.read_bytes()
    changed = original.replace(b"1943-02-19", b"1943-02-20", 1)
    catalogue_mirror.add(route(url), changed)
    with pytest.raises(ChecksumError, match="pinned in the catalogue for 'cog2026'"):
        qf.fetch("cog2026", refresh=True, **kw)
    assert path.read_bytes() == original  # the good copy stays


def test_a_cached_file_modified_after_download_is_caught(http_mirror, tmp_path):  # noqa: F811
    http_mirror.add("/data.example.org/t.csv", b"a;b\n1;2\n")
    path = qf.fetch_file("https://data.example.org/t.csv", mirror=http_mirror.url, **FAST)
    path.write_bytes(b"a;b\n1;3\n")
    with pytest.raises(ChecksumError, match=r"modified or damaged.*refresh=True"):
        qf.fetch_file("https://data.example.org/t.csv", mirror=http_mirror.url, **FAST)
    assert http_mirror.count("/data.example.org/t.csv") == 1
    qf.fetch_file("https://data.example.org/t.csv", mirror=http_mirror.url, refresh=True, **FAST)
    assert path.read_bytes() == b"a;b\n1;2\n"


def test_source_without_address_is_placed_by_hand(shared_data, tmp_path):
    with pytest.raises(FetchError) as info:
        qf.fetch("insee_qpv2015_population")
    target = tmp_path / "cache" / "insee_qpv2015_population" / "DEMO_2022.csv"
    assert f"save it as {target}" in str(info.value)
    assert "https://sig.ville.gouv.fr/" in str(info.value)
    target.parent.mkdir(parents=True)
    shutil.copy(shared_data / "insee_qpv_tables/DEMO_2022.csv", target)
    assert qf.fetch("insee_qpv2015_population") == target
    (rec,) = qf.provenance_records()
    assert rec["origin"] == "manual"
    assert rec["sha256"] == "26021ef61b14ef07693aebeb8db59b5c5d4e02faa639e1054a3f93cf1570337c"
    # From now on the lock file protects it like a download.
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match="insee_qpv2015_population --refresh"):
        qf.fetch("insee_qpv2015_population")


# -- archives ----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/qpvgeo-evil.txt", "a/../../evil.txt",
                                    "C:/evil.txt"])
def test_unsafe_zip_members_are_refused_and_nothing_is_written(tmp_path, member):
    archive = tmp_path / "dl" / "archive.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/readme.txt", "fine\n")
        zf.writestr(member, "pwned\n")
    with pytest.raises(UnsafeArchiveError, match="refused"):
        qf.extract_archive(archive)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["archive.zip"]
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/qpvgeo-evil.txt").exists()


def test_fetch_refuses_an_unsafe_archive_from_the_server(catalogue_mirror, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        # Stored, 1.2 MB: past the catalogue's minimum size, so the member names decide.
        zf.writestr("qp/QP_METROPOLE_LB93.shp", b"\0" * 1_200_000)
        zf.writestr("../../escaped.txt", "pwned\n")
    catalogue_mirror.add(route(CATALOGUE["qpv2015"].files[0].url), evil)
    with pytest.raises(UnsafeArchiveError, match=r"\.\./\.\./escaped\.txt"):
        qf.fetch("qpv2015", mirror=catalogue_mirror.url, **FAST)
    folder = tmp_path / "cache" / "qpv2015"
    assert sorted(p.name for p in folder.iterdir()) == ["qp-politiquedelaville-shp.zip"]
    assert not list(tmp_path.rglob("escaped.txt"))


def test_nested_archives_and_refreshed_archive_is_extracted_again(tmp_path):
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("grid/carreaux.csv", "idcar_200m;ind\nA;1\n")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "inner.zip")
    out = qf.extract_archive(outer, nested=True)
    assert (out / "inner" / "grid" / "carreaux.csv").read_text() == "idcar_200m;ind\nA;1\n"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("other.csv", "x\n")
    out = qf.extract_archive(outer, nested=True)
    assert sorted(p.name for p in out.iterdir()) == [".qpvgeo-extracted.json", "other.csv"]


# -- networks: proxies and the mirror from the environment ---------------------------------------


def test_http_proxy_from_the_environment_is_used(http_mirror, monkeypatch, tmp_path):  # noqa: F811
    # The proxy stub serves absolute-form requests from its own route table; the host
    # below does not resolve, so the file can only arrive through the proxy.
    http_mirror.add("/publisher.invalid/data/f.csv", b"via;proxy\n")
    monkeypatch.setenv("HTTP_PROXY", http_mirror.url)
    path = qf.fetch_file("http://publisher.invalid/data/f.csv", mirror="", **FAST)
    assert path.read_bytes() == b"via;proxy\n"
    assert http_mirror.proxied == ["http://publisher.invalid/data/f.csv"]


def test_https_proxy_from_the_environment_is_used(http_mirror, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("HTTPS_PROXY", http_mirror.url)
    with pytest.raises(FetchError, match="proxy refused.*403") as info:
        qf.fetch_file("https://www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv",
                      mirror="", progress=False, retries=2, backoff=0.0)
    # requests opened a CONNECT tunnel to the publisher through the proxy (refused by the
    # stub), once: a refusal is not retried.
    assert http_mirror.connects == ["www.insee.fr:443"]
    assert "save it as" in str(info.value)


def test_mirror_from_the_environment(catalogue_mirror, monkeypatch):
    monkeypatch.setenv("QPVGEO_MIRROR", catalogue_mirror.url)
    path = qf.fetch("epci2025", **FAST)
    assert path.stat().st_size == 2_888_554  # epcicom2025.xlsx, shared/data/epci_hdf


# -- command line --------------------------------------------------------------------------------


def test_cli_fetch_with_dest_and_mirror(catalogue_mirror, tmp_path):
    dest = tmp_path / "data" / "raw"
    result = CliRunner().invoke(main, ["fetch", "cog2026", "epci2025", "--dest", str(dest),
                                       "--mirror", catalogue_mirror.url, "--quiet"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t") for line in result.output.strip().splitlines())
    assert lines == {"cog2026": str(dest / "cog2026" / "v_commune_2026.csv"),
                     "epci2025": str(dest / "epci2025" / "epcicom2025.xlsx")}
    lock = json.loads((dest / qf.LOCK_NAME).read_text())
    assert len(lock["files"]) == 3  # two COG files and the EPCI workbook


def test_cli_fetch_reports_failures_and_exits_1(catalogue_mirror, tmp_path):
    result = CliRunner().invoke(main, ["fetch", "cog2026", "insee_qpv2024_population",
                                       "--dest", str(tmp_path / "raw"),
                                       "--mirror", catalogue_mirror.url, "--quiet"])
    assert result.exit_code == 1
    assert "cog2026\t" in result.stdout
    assert "insee_qpv2024_population" in result.stderr
    assert "https://www.insee.fr/fr/statistiques/8210600" in result.stderr
    usage = CliRunner().invoke(main, ["fetch"])
    assert usage.exit_code == 2 and "--all" in usage.output


def test_cli_sources_lists_the_catalogue():
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["name", "publisher", "millesime"]
    assert len(lines) == 1 + len(CATALOGUE)
    assert any(line.startswith("qpv2024 ") for line in lines)
    urls = CliRunner().invoke(main, ["sources", "--csv"])
    assert "https://www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv" in urls.output


def test_mirror_server_counts_and_serves_directories(http_mirror, shared_data):  # noqa: F811
    # The test server itself: a wrong route table would make every test above meaningless.
    import requests

    http_mirror.add_dir("/shared", shared_data)
    got = requests.get(http_mirror.url + "/shared/insee_cog/communes_cog.csv", timeout=10)
    assert got.status_code == 200
    assert sha256(got.content) == "fb8d44ed1d10056cea8fb62e9d09b260bee61d5cfb8f6c08e19a4a4a6f935a15"
    assert requests.get(http_mirror.url + "/shared/../../etc/passwd", timeout=10).status_code == 404
    assert http_mirror.count("/shared/insee_cog/communes_cog.csv") == 1
    assert isinstance(http_mirror, MirrorServer)


def test_readers_take_source_names_and_record_local_files(catalogue_mirror, monkeypatch,
                                                          shared_data):
    from qpvgeo.readers import read_qpv_communes

    monkeypatch.setenv("QPVGEO_MIRROR", catalogue_mirror.url)
    by_name = read_qpv_communes("qpv2024_communes")
    local = shared_data / "qpv2024_list_anct/qpv2024_code_commune.csv"
    by_path = read_qpv_communes(local)
    # qpv2024_list_anct/SOURCE.md: 1,684 (QPV, commune) rows.
    assert len(by_name) == len(by_path) == 1684
    assert by_name.equals(by_path)
    origins = {r["origin"]: r for r in qf.provenance_records()}
    assert set(origins) == {"download", "local"}
    assert origins["download"]["source"] == "qpv2024_communes"
    assert origins["local"]["path"] == str(local.resolve())
    assert origins["local"]["sha256"] == origins["download"]["sha256"] == (
        "9bd53a2322e8661c8c7c6adc58541dc8f7d00099a8b683673602ec18cbf33c23"
    )


def test_progress_bar_names_the_file(http_mirror, tmp_path, capsys):  # noqa: F811
    http_mirror.add("/data.example.org/pop.csv", b"x" * 300_000)
    qf.fetch_file("https://data.example.org/pop.csv", dest=tmp_path, mirror=http_mirror.url,
                  progress=True, retries=0)
    err = capsys.readouterr().err
    assert "pop.csv" in err and "100%" in err and "293k" in err  # 300,000 B = 293 KiB


def test_7z_inside_a_zip_is_extracted(catalogue_mirror, shared_data, tmp_path):
    # INSEE's Filosofi 2019 zip holds one 7z (needs the optional py7zr).
    py7zr = importorskip_or_fail("py7zr")
    gpkg = shared_data / "filosofi_200m_2019_communes_sample/carreaux_200m.gpkg"
    inner = tmp_path / "Filosofi2019_carreaux_200m_gpkg.7z"
    with py7zr.SevenZipFile(inner, "w") as sz:
        sz.write(gpkg, "Filosofi2019_carreaux_200m_gpkg/carreaux_200m_met.gpkg")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, inner.name)
    catalogue_mirror.add(route(CATALOGUE["filosofi200m_2019"].files[0].url), outer)
    path = qf.fetch("filosofi200m_2019", mirror=catalogue_mirror.url, **FAST)
    assert path.name == "carreaux_200m_met.gpkg"
    assert sha256(path) == sha256(gpkg)


def test_source_without_address_comes_from_the_mirror(http_mirror, shared_data, tmp_path):  # noqa: F811
    # An institution's mirror can hold the files that have no publisher address.
    http_mirror.add("/_by_hand/insee_qpv2015_revenus/data_filo19_qp_revdis.csv",
                    shared_data / "insee_qpv_tables/data_filo19_qp_revdis.csv")
    path = qf.fetch("insee_qpv2015_revenus", mirror=http_mirror.url, **FAST)
    assert path == tmp_path / "cache" / "insee_qpv2015_revenus" / "data_filo19_qp_revdis.csv"
    # insee_qpv_tables/SOURCE.md: sha256 of data_filo19_qp_revdis.csv
    assert sha256(path) == "9f11a68917e33c5cb22fab072d5f65e4440a90aaf1eca375957341acc7e2bf0c"
    qf.fetch("insee_qpv2015_revenus", mirror=http_mirror.url, **FAST)
    assert http_mirror.count("/_by_hand/insee_qpv2015_revenus/data_filo19_qp_revdis.csv") == 1
    with pytest.raises(FetchError, match=r"save it as .*not on the mirror either.*HTTP 404"):
        qf.fetch("insee_qpv2015_population", mirror=http_mirror.url, **FAST)
