"""The territory diagnostic: from data to one folder (``qpvgeo diagnose``).

:func:`diagnose` loads the data of one QPV geography (the embedded demo, a local data
directory, or the fetch layer), selects a territory, and writes one folder::

    index.html                summary page: key figures, QPV table, profile, exposure, maps
    carte_interactive.html    Folium map of the QPV (``offline_maps=True`` inlines its assets)
    carte_population.png/pdf  static maps (mapclassify classes, scale bar, north arrow)
    carte_pauvrete.png/pdf    (when the poverty rate is available)
    tableau_qpv.csv           one row per QPV (``;``, UTF-8 with BOM, for Excel)
    tableau_communes.csv      QPV population and share per commune of the territory
    evolution_qpv.csv         2015 → 2024 type of each QPV of both geographies, and
    carte_evolution.png/pdf   its map (when the data hold the contours of both geographies)
    dictionnaire.csv          label, unit and source of every column of the tables
    diagnostic.gpkg           layers ``qpv`` (every column of tableau_qpv) and ``communes``
    provenance.json           sources (sha256), millésimes, qpvgeo version, parameters

The folder is built beside its target under a temporary name and renamed at the end,
so a failure never leaves a half-written report. A section whose data or module is
missing says so on the page; nothing is ever filled in.

Local data directory
--------------------
``data_dir`` (``--data-dir`` or ``$QPVGEO_DATA_DIR``) is searched for each role below,
first match wins (a role marked *all* reads every match). The names are those of the
publishers' files; the same file may also sit in the fetch cache layout
``<data_dir>/<catalogue name>/<file>`` (see ``qpvgeo sources``). A directory that holds
(or links to) the folders of ``shared/data`` works as it is.

- QPV 2024 contours: ``qpv2024_contours_simplified/qpv2024_simplified.geojson``;
- QPV 2024 x communes: ``qpv2024_list_anct/qpv2024_code_commune.csv``;
- QPV 2024 indicators (*all*): ``qpv2024_indicators_sigville/analyse_qpv.csv``;
- QPV 2015 contours: ``qpv2015_contours_anct/QP_METROPOLE_LB93.shp``, then
  ``qpv2015_contours_anct/QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp``,
  ``qpv2015_occitanie_hackaviz/qp.geojson``;
- QPV 2015 x communes: ``insee_qpv_tables/pop_qp_2013.csv`` (commune names, matched to
  codes with the population file); without it, the communes the contours give;
- QPV 2015 indicators (*all*): ``insee_qpv_tables/DEMO_2022.csv``,
  ``insee_qpv_tables/data_filo19_qp_revdis.csv``, ``insee_qpv_tables/IPRO_2022.csv``,
  ``qpv2015_occitanie_hackaviz/qp.csv``;
- commune populations (required):
  ``insee_population_communes/populations_legales_2023_communes_cog2025.csv``, or the
  2021 file (COG 2023) of the same folder;
- commune boundaries (*all*, optional): ``communes_hdf/communes_hdf_cog2025.gpkg``,
  ``communes_occitanie/communes-<dep>-*.geojson`` (read for the territory's départements);
- EPCI membership (for ``epci:`` territories): ``epci_hdf/epci_membership_hdf_2025.csv``,
  ``epci_hdf/epcicom2025.xlsx`` (the first that lists the SIREN).

After these names, each role also takes the files of its catalogue sources in the fetch
cache layout (:data:`ROLE_SOURCES`: ``qpv2024/…``, ``insee_population_2023/…``,
``epci2025/epcicom2025.xlsx``…). When no data directory is given and
``$QPVGEO_DATA_DIR`` is unset, the fetch cache is used and a missing required source is
downloaded through :func:`qpvgeo.fetch.fetch` (``qpvgeo fetch NAME`` does it beforehand).

The contours of the *other* geography (2015 for a 2024 diagnostic, and the reverse),
when found under the names above, feed the section on the 2015 → 2024 evolution
(:mod:`qpvgeo.diagnostic.evolution`); without them the page says so in one line.

For the 2015 geography an indicator column is taken whole from the first file that
carries it (editions are never mixed within a column). The environmental layers are
listed in :data:`LAYER_FILES`; a layer that is absent, or does not reach the territory,
is reported as missing.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "diag"
>>> path = diagnose("region:99", demo=True, out=out, progress=False, dpi=60)
>>> (path / "index.html").is_file()
True
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tqdm import tqdm

from qpvgeo._output import check_output_folder
from qpvgeo.diagnostic._files import DATA_FILES, FILE_MILLESIMES, LAYER_FILES, ROLE_SOURCES
from qpvgeo.diagnostic._write import write_folder, write_report
from qpvgeo.diagnostic.analysis import Diagnostic, Section, build_diagnostic
from qpvgeo.diagnostic.data import LAYER_LABELS, DiagnosticData, demo_data, local_data
from qpvgeo.errors import DataFormatError
from qpvgeo.territory import Territory, parse_territory

__all__ = [
    "DATA_FILES",
    "DEMO_TERRITORY",
    "FILE_MILLESIMES",
    "LAYER_FILES",
    "LAYER_LABELS",
    "REPORT_FILES",
    "ROLE_SOURCES",
    "Diagnostic",
    "DiagnosticData",
    "Section",
    "build_diagnostic",
    "demo_data",
    "diagnose",
    "local_data",
    "write_folder",
    "write_report",
]

#: The territory of ``qpvgeo diagnose --demo`` when none is given: the whole demo region.
DEMO_TERRITORY = "region:99"

#: Files of the diagnose folder (the static maps come as .png and .pdf).
REPORT_FILES: tuple[str, ...] = (
    "index.html",
    "carte_interactive.html",
    "carte_population.png",
    "carte_population.pdf",
    "tableau_qpv.csv",
    "tableau_communes.csv",
    "dictionnaire.csv",
    "diagnostic.gpkg",
    "qpv.parquet",
    "provenance.json",
)


_STEPS = ("données", "territoire", "population", "profil", "exposition", "tableaux",
          "carte interactive", "cartes statiques", "page", "fiches")


def diagnose(
    territory: Territory | str,
    *,
    millesime: int = 2024,
    out: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    demo: bool = False,
    offline_maps: bool | None = None,
    dpi: int = 150,
    progress: bool = True,
) -> Path:
    """Write the diagnostic folder of one territory; return its path.

    Parameters
    ----------
    territory : Territory or str
        ``region:32``, ``departement:59``, ``epci:<siren>`` or ``commune:<code>``.
    millesime : {2024, 2015}, default 2024
        QPV geography.
    out : path, optional
        Output folder; default ``diagnostic-<level>-<code>-<millesime>`` in the current
        directory.
    data_dir : path, optional
        Local data directory (layout in the module docstring); default
        ``$QPVGEO_DATA_DIR``, then the fetch cache directory.
    demo : bool, default False
        Use the embedded synthetic demo territory (offline; ``region:99``,
        ``departement:99``, ``epci:299000001``, ``commune:99001``…).
    offline_maps : bool or None, default None
        None: offline maps when the web assets can be had (see :func:`write_folder`);
        True: offline, or fail; False: maps that load their scripts from the network.
    dpi : int, default 150
        Resolution of the PNG maps.
    progress : bool, default True
        Show a tqdm progress bar of the steps.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = diagnose("departement:99", demo=True, progress=False, dpi=50,
    ...              out=pathlib.Path(tempfile.mkdtemp()) / "d")
    >>> (p / "provenance.json").is_file()
    True
    """
    if isinstance(territory, str):
        territory = parse_territory(territory)
    out_path = Path(out) if out is not None else Path(
        f"diagnostic-{territory.slug}-{millesime}"
    )
    # Refused before any computation: an --out that holds files qpvgeo did not write, that
    # is (or holds) the data folder or the project, or whose parent is not writable.
    protect = [None if demo else _data_directory(data_dir)]
    check_output_folder(out_path, protect=protect)
    bar = tqdm(total=len(_STEPS), desc="qpvgeo diagnose", unit="étape", disable=not progress,
               leave=True)
    done: list[str] = []

    def step(name: str) -> None:
        if done:
            bar.update(1)
        done.append(name)
        bar.set_postfix_str(name)

    try:
        step("données")
        if demo:
            if millesime != 2024:
                raise DataFormatError("the demo territory exists in the 2024 geography only")
            data = demo_data()
            source_dir = None
        else:
            source_dir = _data_directory(data_dir)
            # Only the fetch cache itself is filled by downloads; a directory the user
            # names is read as it is.
            through_fetch = data_dir is None and not os.environ.get("QPVGEO_DATA_DIR")
            data = local_data(source_dir, territory=territory, millesime=millesime,
                              fetch_missing=through_fetch)
        diag = build_diagnostic(data, territory, progress=step)
        parameters = {"territory": str(territory), "millesime": millesime, "demo": demo,
                      "data_dir": str(source_dir) if source_dir else None,
                      "offline_maps": offline_maps, "dpi": dpi, "out": str(out_path)}
        path = write_folder(diag, out_path, offline_maps=offline_maps, dpi=dpi,
                            parameters=parameters, progress=step, protect=protect)
        bar.update(1)
    finally:
        bar.close()
    return path


def _data_directory(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("QPVGEO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    with contextlib.suppress(ImportError):
        from qpvgeo.fetch import cache_dir

        return cache_dir()
    raise DataFormatError(
        "no data directory: pass --data-dir, set QPVGEO_DATA_DIR, or use --demo"
    )

