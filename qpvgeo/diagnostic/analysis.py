"""Analysis step of a diagnostic: population, shares, profile and exposure of the QPV."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from qpvgeo import schema
from qpvgeo.diagnostic.data import DiagnosticData, _read_layers
from qpvgeo.diagnostic.references import References, territory_references
from qpvgeo.errors import QpvgeoError, QpvgeoWarning
from qpvgeo.exposure import LAYERS
from qpvgeo.profile import socio_economic_profile
from qpvgeo.territory import Territory, TerritorySelection, parse_territory, select_territory

# -- the analysis -----------------------------------------------------------------------


@dataclass
class Section:
    """One part of the report: its title, whether it is available, and why not."""

    title: str
    ok: bool
    status: str


@dataclass
class Diagnostic:
    """Everything the report shows, computed once (see :func:`build_diagnostic`)."""

    selection: TerritorySelection
    millesime: int
    key_figures: dict[str, float]
    qpv_table: gpd.GeoDataFrame
    communes_table: pd.DataFrame
    columns: dict[str, tuple[str, str, str]]
    sections: dict[str, Section]
    layers: dict[str, gpd.GeoDataFrame]
    missing: dict[str, str]
    sources: list[dict]
    synthetic: str | None
    communes_geo: gpd.GeoDataFrame | None = None
    references: References | None = None
    catalogue: dict[str, schema.Column] = field(default_factory=dict)
    burden: pd.DataFrame | None = None
    #: The 2015 → 2024 evolution (:func:`qpvgeo.diagnostic.evolution.evolution_summary`),
    #: None when the data hold one geography only.
    evolution: dict | None = None


def _population_step(sel: TerritorySelection, data: DiagnosticData):
    """QPV population by commune and shares; the split comes from qpvgeo.population."""
    from qpvgeo.population import population_shares, qpv_population_by_commune

    by_commune = qpv_population_by_commune(
        sel.qpv, data.indicators, data.communes, membership=sel.membership
    )
    in_territory = by_commune[by_commune[schema.CODE_COMMUNE].isin(set(sel.communes))]
    shares = population_shares(in_territory, sel.commune_population, level="commune")
    return by_commune, in_territory, shares


def build_diagnostic(
    data: DiagnosticData,
    territory: Territory | str,
    *,
    progress: Callable[[str], None] | None = None,
) -> Diagnostic:
    """Compute every table of the report for ``territory``.

    Parameters
    ----------
    data : DiagnosticData
        From :func:`demo_data` or :func:`local_data`.
    territory : Territory or str
        ``region:32``, ``epci:200093201``…
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    Diagnostic

    Examples
    --------
    >>> from qpvgeo.diagnostic import demo_data
    >>> diag = build_diagnostic(demo_data(), "epci:299000001")
    >>> int(diag.key_figures["n_qpv"])
    3
    """
    step = progress or (lambda _name: None)
    if isinstance(territory, str):
        territory = parse_territory(territory)
    step("territoire")
    sel = select_territory(
        territory, qpv=data.qpv, membership=data.membership,
        commune_population=data.commune_population, epci=data.epci,
    )
    sources = list(data.sources)
    sections: dict[str, Section] = {}
    columns: dict[str, tuple[str, str, str]] = {
        schema.CODE_QPV: ("Code du QPV", "", "contours QPV"),
        schema.NOM_QPV: ("Nom du QPV", "", "contours QPV"),
        "communes": ("Commune(s) du territoire couvertes", "", "liste QPV x communes"),
    }
    table = pd.DataFrame(
        {schema.CODE_QPV: sel.qpv[schema.CODE_QPV].astype(str),
         schema.NOM_QPV: sel.qpv[schema.NOM_QPV].astype(str)}
    ).set_index(schema.CODE_QPV)
    names = sel.commune_population.set_index(schema.CODE_COMMUNE)[schema.NOM_COMMUNE]
    member_names = sel.membership.assign(
        _nom=sel.membership[schema.CODE_COMMUNE].map(names)
    ).dropna(subset=["_nom"])
    table["communes"] = member_names.groupby(schema.CODE_QPV)["_nom"].agg(
        lambda s: ", ".join(sorted(set(map(str, s))))
    )
    pop_territory = float(pd.to_numeric(sel.commune_population[schema.POPULATION]).sum())
    qpv_pop = pd.to_numeric(
        data.indicators[schema.POPULATION], errors="coerce"
    ).groupby(level=0).first().reindex(table.index)
    key = {
        "n_qpv": float(len(sel.qpv)),
        "population_qpv": float(qpv_pop.sum()),
        "n_qpv_sans_population": float(qpv_pop.isna().sum()),
        "population_territoire": pop_territory,
        "n_communes": float(len(sel.commune_population)),
        "n_communes_qpv": float(
            sel.membership[schema.CODE_COMMUNE].loc[
                lambda codes: codes.isin(set(sel.communes))
            ].nunique()
        ),
    }
    table[schema.POPULATION] = qpv_pop
    columns[schema.POPULATION] = ("Population municipale du QPV", "habitants", "Insee")

    step("population")
    communes_table = pd.DataFrame()
    whole = territory.level in {"region", "departement"}
    try:
        by_commune, in_territory, shares = _population_step(sel, data)
    except (ImportError, QpvgeoError) as exc:
        sections["population"] = Section(
            "Population par commune", False, f"indisponible : {exc}"
        )
    else:
        placed = by_commune.groupby(schema.CODE_QPV)[schema.POPULATION_QPV].sum()
        gap = qpv_pop - placed.reindex(qpv_pop.index).fillna(0.0)
        # A QPV over several communes whose outlines are absent cannot be split: its
        # parts are missing, and so would be part of the numerator. Say it, never guess.
        n_listed = sel.membership.groupby(schema.CODE_QPV)[schema.CODE_COMMUNE].nunique()
        fallback = by_commune.loc[
            by_commune[schema.METHODE].isin(["commune_principale", "non_localise"]),
            schema.CODE_QPV,
        ]
        # ... or it went whole to its main commune although it is listed in several.
        guessed = {c for c in fallback if n_listed.get(c, 1) > 1}
        unplaced = sorted(set(gap.index[(gap.abs() >= 0.5) & qpv_pop.notna()]) | guessed)
        inside = in_territory.groupby(schema.CODE_QPV)[schema.POPULATION_QPV].sum()
        table["population_dans_territoire"] = inside.reindex(table.index)
        columns["population_dans_territoire"] = (
            "Population du QPV dans le territoire", "habitants", "Insee, partage par commune"
        )
        communes_table = shares.reset_index() if schema.CODE_COMMUNE not in shares else shares
        communes_table = communes_table[
            pd.to_numeric(communes_table[schema.N_QPV], errors="coerce").fillna(0) > 0
        ].reset_index(drop=True)
        if unplaced:
            sections["population"] = Section(
                "Population par commune", False,
                f"incomplète : {len(unplaced)} QPV à cheval sur plusieurs communes n'ont pas "
                f"pu être partagés (contours de leurs communes absents des données) : "
                f"{', '.join(unplaced[:10])}",
            )
            table.loc[table.index.isin(unplaced), "population_dans_territoire"] = np.nan
        else:
            sections["population"] = Section("Population par commune", True, "disponible")
            key["population_qpv_territoire"] = float(inside.sum())
            key["part_qpv"] = float(inside.sum()) / pop_territory if pop_territory else np.nan
    if whole and "part_qpv" not in key:
        # Every QPV of a region or département lies wholly inside it: no split needed.
        key["population_qpv_territoire"] = key["population_qpv"]
        key["part_qpv"] = key["population_qpv"] / pop_territory if pop_territory else np.nan
    if "part_qpv" in key and pop_territory:
        inside_col = schema.POPULATION if whole else "population_dans_territoire"
        table[schema.PART_QPV] = table[inside_col] / pop_territory
        columns[schema.PART_QPV] = (
            "Part de la population du territoire vivant dans ce QPV", "0-1", "Insee"
        )

    step("profil")
    profile = socio_economic_profile(data.indicators, qpv=sel.qpv, grid=data.grid)
    profile = profile.drop(columns=[schema.POPULATION])
    # labels, units and sources come from the column catalogue (column_entry below)
    table = table.join(profile)
    sections["profil"] = Section(
        "Profil socio-économique", bool(len(profile.columns)),
        "disponible" if len(profile.columns) else "aucun indicateur socio-économique",
    )
    if data.grid is None:
        sections["profil_environs"] = Section(
            "Profil : comparaison aux environs", False,
            "indisponible : pas de carroyage Filosofi 200 m pour ce territoire",
        )

    step("exposition")
    burden = None
    area = sel.qpv if len(sel.qpv) else None
    layers, missing = ({}, {}) if area is None else _read_layers(data, area, sources)
    missing = {**data.missing, **missing}
    if not layers:
        sections["exposition"] = Section(
            "Exposition environnementale", False,
            "indisponible : aucune couche environnementale ne couvre ce territoire",
        )
    else:
        try:
            exposure, described = _exposure_step(sel, layers, data)
        except (ImportError, QpvgeoError) as exc:
            sections["exposition"] = Section(
                "Exposition environnementale", False, f"indisponible : {exc}"
            )
        else:
            table = table.join(_with_site_names(exposure, layers))
            columns.update(described)
            sections["exposition"] = Section(
                "Exposition environnementale", True,
                "disponible (" + ", ".join(LAYERS[k].label for k in layers) + ")",
            )
            burden = _burden_step(exposure, table)
            if burden is not None:
                table = table.join(burden.drop(columns=[c for c in burden.columns
                                                        if c in table.columns]))
    geo = sel.qpv.set_index(schema.CODE_QPV)[["geometry"]].join(table)
    qpv_table = gpd.GeoDataFrame(geo.reset_index(), geometry="geometry", crs=schema.CRS)
    communes_geo = None
    if data.communes is not None:
        communes_geo = data.communes[
            data.communes[schema.CODE_COMMUNE].isin(set(sel.communes))
        ].reset_index(drop=True)
        if not len(communes_geo):
            communes_geo = None
    evolution, sections["evolution"] = _evolution_step(sel, data, communes_geo)
    try:
        refs = territory_references(
            data.qpv, data.indicators, data.commune_population, level=territory.level,
            code=territory.code, departements=tuple(sel.departements),
        )
    except (QpvgeoError, KeyError, ValueError) as exc:
        refs = References(note=f"références indisponibles ({exc})")
    catalogue = {c: column_entry(c, columns.get(c)) for c in qpv_table.columns
                 if c != "geometry"}
    for c in communes_table.columns:
        catalogue.setdefault(c, column_entry(c, None))
    return Diagnostic(
        selection=sel, millesime=data.millesime, key_figures=key, qpv_table=qpv_table,
        communes_table=communes_table, columns=columns, sections=sections, layers=layers,
        missing=missing, sources=sources, synthetic=data.synthetic, communes_geo=communes_geo,
        references=refs, catalogue=catalogue, burden=burden, evolution=evolution,
    )


def _evolution_step(sel: TerritorySelection, data: DiagnosticData,
                    communes_geo: gpd.GeoDataFrame | None) -> tuple[dict | None, Section]:
    """The 2015 → 2024 crosswalk of the territory's QPV, or why there is none."""
    from qpvgeo.diagnostic.evolution import EVOLUTION_TITLE, evolution_summary

    other = 2015 if data.millesime == 2024 else 2024
    if data.other_qpv is None:
        return None, Section(EVOLUTION_TITLE, False,
                             f"indisponible : les contours des QPV {other} ne figurent pas "
                             "dans les données")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QpvgeoWarning)
            summary = evolution_summary(
                data.qpv, data.other_qpv, millesime=data.millesime, territory_qpv=sel.qpv,
                communes=set(sel.communes), commune_outlines=communes_geo,
                population=data.grid,
            )
    except (ImportError, QpvgeoError) as exc:
        return None, Section(EVOLUTION_TITLE, False, f"indisponible : {exc}")
    return summary, Section(EVOLUTION_TITLE, True, "disponible")


def _kind_of(column: str, unit: str) -> str:
    """Kind of an exposure column described only by its unit (layers whose registry entry
    declares no columns yet)."""
    if unit == "0-1" or unit.startswith("part"):
        return "share"
    if unit == "ratio" or column.endswith("_ratio"):
        return "ratio"
    if column.startswith("distance_") or unit == "m":
        return "distance"
    if column.endswith("_m2") or unit in {"m²", "m2"}:
        return "area"
    if column.startswith(("n_", "population_")):
        return "count"
    if unit in {"", "texte"} and not column.startswith(("score", "no2", "pm")):
        return "text"
    return "mean"


def column_entry(column: str, described: tuple[str, str, str] | None) -> schema.Column:
    """The catalogue entry of a column of the diagnostic: the column catalogue and the
    exposure registry first (:func:`qpvgeo.maps._format.info_of`); for an exposure column
    no registry entry declares, one built from the indicator's own description.

    Examples
    --------
    >>> column_entry("population", None).kind
    'count'
    >>> column_entry("distance_site_m", ("distance au site le plus proche", "m", "sites")).kind
    'distance'
    """
    from qpvgeo.maps._format import info_of, typography

    info = info_of(column)
    if info is not None:
        return info
    label, unit, source = described or (column.replace("_", " "), "", "")
    kind = _kind_of(column, unit)
    decimals = {"share": 1, "ratio": 2, "count": 0, "distance": 0, "area": 0}.get(kind, 1)
    shown_unit = {"share": "%", "ratio": "", "distance": "m", "area": "m²"}.get(kind, unit)
    label = typography(label[:1].upper() + label[1:])
    return schema.Column(column, label, shown_unit, kind=kind, decimals=decimals,
                         source=typography(source))


def _burden_step(exposure: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame | None:
    """The synthesis of :mod:`qpvgeo.exposure.burden` (percentiles among the territory's
    QPV, count index, exposure score, double burden), or None when too few layers."""
    from qpvgeo.exposure import burden as _burden

    socio = table[[c for c, _ in _burden.VULNERABILITY if c in table]
                  + [c for c in ("indice_jeunesse",) if c in table]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QpvgeoWarning)
            out = _burden.burden_table(exposure, socio if len(socio.columns) else None)
    except (QpvgeoError, ValueError, KeyError):
        return None
    out.index = out.index.astype(str)
    out.index.name = schema.CODE_QPV
    return out


def _with_site_names(exposure: pd.DataFrame, layers: dict[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """Beside each nearest-site code (``*_plus_proche``), the site's name, from whichever
    layer lists sites with a code and a name (a reader reads names, not codes)."""
    frames = [f for f in layers.values() if {"code_site", "nom_site"} <= set(f.columns)]
    if not frames:
        return exposure
    both = pd.concat([f[["code_site", "nom_site"]] for f in frames], ignore_index=True)
    names = both.dropna(subset=["code_site"]).drop_duplicates("code_site")
    names = names.set_index(names["code_site"].astype(str))["nom_site"]
    out = exposure.copy()
    for col in [c for c in exposure.columns if c.endswith("_plus_proche")]:
        pos = out.columns.get_loc(col) + 1
        out.insert(pos, f"nom_{col}", out[col].astype("string").map(names))
    return out


def _with_geometry(qpv: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The QPV that have an outline (a degenerate contour, repaired to empty by the
    reader, cannot be cut out of anyone's surroundings)."""
    keep = ~(qpv.geometry.isna() | qpv.geometry.is_empty)
    return qpv.loc[keep, [schema.CODE_QPV, "geometry"]]


def _exposure_step(
    sel: TerritorySelection, layers: dict[str, gpd.GeoDataFrame], data: DiagnosticData
) -> tuple[pd.DataFrame, dict[str, tuple[str, str, str]]]:
    from qpvgeo.exposure import exposure_profile

    # The QPV carry INSEE's population: exposure counts are that official total times the
    # grid's share (the grid alone under-counts QPV populations).
    official = pd.to_numeric(data.indicators[schema.POPULATION], errors="coerce")
    official = official[~official.index.duplicated()]
    zones = sel.qpv[[schema.CODE_QPV, "geometry"]].assign(
        **{schema.POPULATION: sel.qpv[schema.CODE_QPV].map(official).to_numpy()}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        # Calibrated: the rings around each QPV have no official total, and plain area
        # weighting would hand them the dense QPV housing of the cells they share.
        table = exposure_profile(
            zones, layers=layers, population=data.grid, surroundings="ring", ring=500,
            communes=data.communes, all_qpv=_with_geometry(data.qpv),
            population_method="calibrated" if data.grid is not None else "area",
        )
    meta = table.attrs.get("columns") or {}
    table = table.drop(columns=[schema.POPULATION], errors="ignore")
    described = {}
    for col in table.columns:
        info = meta.get(col) or {}
        unit = str(info.get("unité", info.get("unit", "")))
        unit = "0-1" if unit.startswith("part") else unit
        described[col] = (
            str(info.get("description", col)), unit,
            str(info.get("couche", info.get("source", "exposition"))),
        )
    table.index = table.index.astype(str)
    table.index.name = schema.CODE_QPV
    return table, described


#: Exposure columns shown on the page (the CSV and GeoPackage hold them all): the
#: population shares (area shares when no population grid), concentrations, heat score,
#: distances, with their ratio to the surroundings.
_PAGE_EXPOSURE = (
    r"^(part_population_(?!.*couverte).*|no2|pm10|pm25|score_chaleur|distance_.*_m"
    r"|n_seveso_haut_1000m)(_ratio)?$"
)
_PAGE_EXPOSURE_AREA = r"^part_surface_(?!couverte).*?(_ratio)?$"


def _page_exposure_columns(columns: Sequence[str]) -> list[str]:
    shown = [c for c in columns if re.match(_PAGE_EXPOSURE, c)]
    covered = {re.sub(r"^part_population_|_ratio$", "", c) for c in shown}
    for c in columns:
        # an area share is shown only where no population share measures the same thing
        key = re.sub(r"^part_surface_|_ratio$", "", c)
        if re.match(_PAGE_EXPOSURE_AREA, c) and key not in covered:
            shown.append(c)
    # Surroundings values stay in the CSV (the ratio says it); one radius is enough here.
    return [c for c in columns if c in shown and not re.search(r"_environs$|_(500|2000)m", c)]

