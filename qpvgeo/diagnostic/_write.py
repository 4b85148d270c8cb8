"""Writing the diagnose folder, in one function (:func:`write_folder`).

The folder is built beside its target under a temporary name
(:class:`qpvgeo._output.ReportFolder`) and its files are moved in at the end, so a failure
never leaves a half-written report. The folder's manifest lists the files qpvgeo wrote: a
rebuild replaces only those and keeps every other file (the user's notes).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from qpvgeo import __version__, schema
from qpvgeo._atomic import atomic_path
from qpvgeo._output import ReportFolder
from qpvgeo.diagnostic._maps import _evolution_map, _interactive_map, _static_maps
from qpvgeo.diagnostic.analysis import Diagnostic
from qpvgeo.diagnostic.evolution import EVOLUTION_COLUMNS
from qpvgeo.diagnostic.page import FICHES_DIR, _fiche_context, render_fiche, render_index
from qpvgeo.errors import QpvgeoError
from qpvgeo.geoparquet import to_geoparquet
from qpvgeo.tables import escape_formulas


def _offline_choice(offline_maps: bool | None) -> tuple[bool, str]:
    """Whether to write the offline map, and the note saying why not when it is not."""
    from qpvgeo.maps._assets import assets_available, fetch_all_assets

    if offline_maps is False:
        return False, ""
    if offline_maps:
        if not assets_available():
            try:
                fetch_all_assets()  # through $QPVGEO_MIRROR when set
            except QpvgeoError as exc:
                raise QpvgeoError(f"--offline-maps: {exc}") from None
        return True, ""

    if assets_available():
        return True, ""
    if os.environ.get("QPVGEO_MIRROR"):
        try:
            fetch_all_assets()
        except QpvgeoError as exc:
            return False, ("Carte interactive en ligne (elle charge Leaflet depuis Internet) : "
                           f"ressources hors ligne indisponibles. {exc}")
        return True, ""
    return False, ("Carte interactive en ligne (elle charge Leaflet depuis Internet) : lancer "
                   "`qpvgeo assets` une fois pour des cartes autonomes, hors ligne.")


def _rounded(frame: pd.DataFrame, diag: Diagnostic) -> pd.DataFrame:
    """Every numeric column rounded as the catalogue says (no ``15931,096993417836``)."""
    from qpvgeo.maps._format import round_column

    out = frame.copy()
    for col in out.columns:
        out[col] = round_column(out[col], diag.catalogue.get(col))
    return out


def _dictionary_row(col: str, diag: Diagnostic) -> tuple:
    info = diag.catalogue.get(col)
    if info is None:
        return (col, col, "", "", "", "", "")
    sens = {1: "plus élevé = plus défavorable", -1: "plus élevé = plus favorable",
            0: ""}[info.direction]
    unit = "% (fraction 0-1 dans le CSV)" if info.kind == "share" else info.unit
    return (col, info.label, unit, info.source, sens, info.decimals, info.description)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Excel (French locale) opens `;`-separated UTF-8 files correctly only with a BOM.
    with atomic_path(path) as tmp:
        # OWASP CSV-injection rule: a cell starting with = + - @ is not a formula in Excel.
        escape_formulas(frame).to_csv(tmp, sep=";", index=False, encoding="utf-8-sig",
                                      decimal=",")



#: Name of the per-QPV table of the 2015 → 2024 evolution (written when both geographies
#: are in the data).
EVOLUTION_CSV = "evolution_qpv.csv"


def evolution_frame(diag: Diagnostic) -> pd.DataFrame | None:
    """The per-QPV evolution table as written to :data:`EVOLUTION_CSV` (rounded as the
    catalogue says, no geometry), or None without an evolution."""
    from qpvgeo.maps._format import round_column

    if diag.evolution is None:
        return None
    table = diag.evolution["tableau"]
    cols = [c for c in EVOLUTION_COLUMNS if c in table.columns]
    out = pd.DataFrame(table[cols]).reset_index(drop=True)
    for col in cols:
        out[col] = round_column(out[col], EVOLUTION_COLUMNS[col])
    return out


def _provenance(diag: Diagnostic, parameters: dict, created: str) -> dict:
    sel = diag.selection
    return {
        "qpvgeo_version": __version__,
        "created": created,
        "parameters": parameters,
        "territory": {"level": sel.territory.level, "code": sel.territory.code,
                      "name": sel.name, "departements": list(sel.departements),
                      "communes": len(sel.communes)},
        "millesimes": {
            "qpv": diag.millesime,
            **{r["role"]: r["millesime"] for r in diag.sources if r.get("millesime")},
        },
        "synthetic": diag.synthetic,
        "key_figures": diag.key_figures,
        "sections": {k: {"ok": s.ok, "status": s.status} for k, s in diag.sections.items()},
        "missing_layers": diag.missing,
        "sources": diag.sources,
    }


def write_folder(
    diag: Diagnostic,
    out: str | os.PathLike,
    *,
    offline_maps: bool | None = None,
    dpi: int = 150,
    parameters: dict | None = None,
    progress: Callable[[str], None] | None = None,
    protect: Sequence[str | os.PathLike | None] = (),
) -> Path:
    """Write the diagnose folder for ``diag`` to ``out`` (atomically, see module docstring).

    Parameters
    ----------
    diag : Diagnostic
    out : path
        The folder to write; an existing folder is replaced only once the new one is
        complete.
    offline_maps : bool or None, default None
        True: inline the interactive map's assets, and fail when they cannot be had;
        False: a map that loads them from the network; None: offline when every asset
        is in the cache (``qpvgeo assets``) or comes through ``$QPVGEO_MIRROR``.
        Inline the interactive map's scripts and styles (no network needed to open it).
    dpi : int, default 150
        Resolution of the PNG maps.
    parameters : dict, optional
        Recorded in ``provenance.json``.
    progress : callable, optional
        Called with the name of each step.
    protect : sequence of paths
        Folders that must never be ``out`` nor inside it (the data folder); see
        :class:`qpvgeo._output.ReportFolder`, which also keeps every file of ``out`` that
        qpvgeo did not write.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qpvgeo.diagnostic import build_diagnostic, demo_data
    >>> diag = build_diagnostic(demo_data(), "commune:99001")
    >>> p = write_report(diag, pathlib.Path(tempfile.mkdtemp()) / "d", dpi=50)
    >>> sorted(x.name for x in p.iterdir())[:3]  # the manifest lists what qpvgeo wrote
    ['.qpvgeo-manifest.json', 'carte_interactive.html', 'carte_pauvrete.pdf']
    """
    step = progress or (lambda _name: None)
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    with ReportFolder(out, protect=protect) as folder:
        work = folder.work
        step("tableaux")
        qpv = diag.qpv_table
        plain = pd.DataFrame(qpv.drop(columns="geometry"))
        _write_csv(_rounded(plain, diag), work / "tableau_qpv.csv")
        communes_csv = diag.communes_table if len(diag.communes_table.columns) else (
            pd.DataFrame(columns=[schema.CODE_COMMUNE, schema.NOM_COMMUNE, *schema.SHARE_COLUMNS])
        )
        _write_csv(_rounded(communes_csv, diag), work / "tableau_communes.csv")
        dictionary = pd.DataFrame(
            [_dictionary_row(c, diag) for c in plain.columns],
            columns=["colonne", "libelle", "unite", "source", "sens", "decimales",
                     "description"],
        )
        _write_csv(dictionary, work / "dictionnaire.csv")
        evolution = evolution_frame(diag)
        if evolution is not None:
            _write_csv(evolution, work / EVOLUTION_CSV)
        with atomic_path(work / "diagnostic.gpkg") as tmp:
            qpv.to_file(tmp, layer="qpv", driver="GPKG")
            if diag.communes_geo is not None:
                communes = diag.communes_geo
                if len(diag.communes_table):
                    communes = communes.merge(
                        diag.communes_table.drop(columns=[schema.NOM_COMMUNE], errors="ignore"),
                        on=schema.CODE_COMMUNE, how="left",
                    )
                communes.to_file(tmp, layer="communes", driver="GPKG")
        # The same layers as GeoParquet, the format DuckDB, Sedona and cartiflette exchange.
        to_geoparquet(qpv, work / "qpv.parquet")
        if diag.communes_geo is not None:
            to_geoparquet(communes, work / "communes.parquet")
        files = [
            {"href": "tableau_qpv.csv", "label": "tableau des QPV (CSV ; séparateur « ; »)"},
            {"href": "tableau_communes.csv", "label": "communes du territoire (CSV)"},
            {"href": "dictionnaire.csv", "label": "libellé, unité et source des colonnes"},
            {"href": "diagnostic.gpkg", "label": "GeoPackage : couches qpv et communes"},
            {"href": "qpv.parquet", "label": "GeoParquet : couche qpv"},
            *([{"href": "communes.parquet", "label": "GeoParquet : couche communes"}]
              if diag.communes_geo is not None else []),
            *([{"href": EVOLUTION_CSV, "label": "évolution 2015 → 2024 de chaque QPV (CSV)"}]
              if evolution is not None else []),
            {"href": "provenance.json", "label": "sources, empreintes et paramètres"},
        ]
        step("carte interactive")
        map_links: list[dict] = []
        unavailable = []
        offline, why = _offline_choice(offline_maps)
        if why:
            unavailable.append(why)
        try:
            unavailable += _interactive_map(
                diag, work / "carte_interactive.html", offline=offline
            )
        except (ImportError, QpvgeoError) as exc:
            if offline_maps:
                # asked for explicitly: no silent fallback, the run fails (exit ≠ 0)
                raise QpvgeoError(f"--offline-maps: the offline map cannot be written: {exc}") \
                    from exc
            unavailable.append(f"Carte interactive indisponible : {exc}")
        else:
            map_links.append({"href": "carte_interactive.html",
                              "label": "Carte interactive des QPV et des couches"
                                       + (" (autonome, hors ligne)" if offline else "")})
            files.append({"href": "carte_interactive.html", "label": "carte interactive"})
        step("cartes statiques")
        try:
            figures = _static_maps(diag, work, dpi=dpi)
        except (ImportError, QpvgeoError) as exc:
            figures = []
            unavailable.append(f"Cartes statiques indisponibles : {exc}")
        evolution_figure = None
        try:
            evolution_figure = _evolution_map(diag, work, dpi=dpi)
        except (ImportError, QpvgeoError) as exc:
            unavailable.append(f"Carte de l’évolution 2015 → 2024 indisponible : {exc}")
        for fig in [*figures, *([evolution_figure] if evolution_figure else [])]:
            files += [{"href": fig["png"], "label": f"{fig['label']} (PNG)"},
                      {"href": fig["pdf"], "label": f"{fig['label']} (PDF)"}]
        step("page")
        files.append({"href": f"{FICHES_DIR}/", "label": "une fiche par quartier prioritaire"})
        page = render_index(diag, figures=figures, map_links=map_links,
                            maps_notes=unavailable, files=files, created=created,
                            evolution_figure=evolution_figure,
                            evolution_csv=EVOLUTION_CSV if evolution is not None else "")
        with atomic_path(work / "index.html") as tmp:
            tmp.write_text(page, encoding="utf-8")
        step("fiches")
        (work / FICHES_DIR).mkdir()
        shared = _fiche_context(diag)  # once for all the fiches
        for code in qpv[schema.CODE_QPV].astype(str):
            with atomic_path(work / FICHES_DIR / f"{code}.html") as tmp:
                tmp.write_text(render_fiche(diag, code, created=created, context=shared),
                               encoding="utf-8")
        record = _provenance(diag, parameters or {}, created)
        with atomic_path(work / "provenance.json") as tmp:
            tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str),
                           encoding="utf-8")
        folder.commit()
    return folder.path


#: The name this step had when the report was one module.
write_report = write_folder
