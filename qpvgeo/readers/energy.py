"""Readers of the energy transition layers: heat networks per IRIS, their CO2 content, DPE, IRIS.

- :func:`read_heat_network_deliveries`: heat delivered by district heating networks per
  (network, IRIS, sector) — SDES « données locales de consommation d'énergie », as
  curated by France Chaleur Urbaine (tidy CSV, or FCU's original ``network_by_iris`` JSON).
- :func:`read_heat_network_co2`: the arrêté DPE table of networks' CO2 content and
  renewable share (France Chaleur Urbaine ``arrete-dpe`` CSV).
- :func:`read_dpe`: ADEME energy performance certificates of existing dwellings
  (layout ``dpe03existant``, DPE since July 2021), as points from their BAN Lambert-93
  coordinates.
- :func:`read_iris_contours`: IRIS polygons with their codes (IGN CONTOURS-IRIS, or any
  layer with a ``code_iris`` column).

Examples
--------
>>> SECTORS["r"]
'résidentiel'
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import (
    PathLike,
    find_column,
    read_table,
    read_vector,
    resolve_input,
    to_number,
    warn,
)

__all__ = [
    "DPE_LABELS",
    "SECTORS",
    "read_dpe",
    "read_heat_network_co2",
    "read_heat_network_deliveries",
    "read_iris_contours",
]

#: SDES sector codes (``code_grand``) -> French sector.
SECTORS: dict[str, str] = {
    "r": "résidentiel", "t": "tertiaire", "i": "industrie", "a": "agriculture",
    "x": "non affecté",
}
#: DPE energy and climate labels, best first.
DPE_LABELS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G")


def _iris(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return s.str.zfill(9)


def read_heat_network_deliveries(path: PathLike) -> pd.DataFrame:
    """Read the heat delivered by district heating (and cooling) networks per IRIS.

    Accepts the tidy CSV (``network_id``, ``operateur``, ``annee``, ``code_iris``,
    ``code_commune``, ``filiere`` c/f, ``code_grand`` r/t/i/a/x, ``conso_mwh`` or
    ``conso_raw``, ``pdl``) and France Chaleur Urbaine's ``network_by_iris.json``
    (``id``, ``code``, ``conso`` with a decimal comma). ``"s"`` (statistical secrecy) is
    kept as NA with ``secret`` True: never 0.

    Returns
    -------
    pandas.DataFrame
        ``identifiant_reseau`` (upper case, as in the arrêté DPE: ``5910C``),
        ``nom_reseau``, ``annee``, ``code_iris`` (9 characters), ``code_commune``,
        ``filiere`` ("chaleur" / "froid"), ``secteur`` (:data:`SECTORS`),
        ``energie_mwh`` (float, NA when secret), ``points_livraison`` (Int64, NA when
        secret), ``secret`` (bool).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "iris.csv"
    >>> _ = f.write_text("network_id,operateur,annee,code_iris,filiere,code_grand,conso_raw,pdl\\n"
    ...                  "5910c,reseau de lille,2019,593500101,c,r,1234.5,3\\n"
    ...                  "5910c,reseau de lille,2019,593500102,c,r,s,s\\n")
    >>> read_heat_network_deliveries(f)[["energie_mwh", "secret"]].values.tolist()
    [[1234.5, False], [nan, True]]
    """
    path = resolve_input(path)
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: not a JSON list of deliveries: {exc}") from exc
        if not isinstance(rows, list):
            raise DataFormatError(f"{path}: expected a JSON list of deliveries")
        table = pd.DataFrame(rows).astype("string")
    else:
        table = read_table(path, header_candidates=["network_id", "id"])
    cols = table.columns
    net = find_column(cols, ["network_id", "id", "identifiant_reseau"])
    iris = find_column(cols, ["code_iris", "code"])
    fil = find_column(cols, ["filiere"])
    sec = find_column(cols, ["code_grand", "secteur"])
    raw_col = find_column(cols, ["conso_raw", "conso", "conso_mwh"])
    missing = [n for n, c in (("network_id", net), ("code_iris", iris), ("filiere", fil),
                              ("code_grand", sec), ("conso", raw_col)) if c is None]
    if missing:
        raise SchemaError(f"{path}: heat deliveries without {missing}; columns: {list(cols)}")
    raw = table[raw_col].astype("string").str.strip()
    secret = raw.str.lower().eq("s").fillna(False)
    energy = to_number(raw)
    bad = energy.isna() & ~secret & raw.notna() & (raw != "")
    if bad.any():
        raise DataFormatError(
            f"{path}: column {raw_col!r} holds values that are neither numbers nor 's': "
            f"{raw[bad].unique().tolist()[:5]}"
        )
    if (energy < 0).any():
        raise DataFormatError(f"{path}: negative energy delivered in column {raw_col!r}")
    sectors = table[sec].astype("string").str.strip().str.lower()
    unknown = sorted(set(sectors.dropna()) - set(SECTORS))
    if unknown:
        raise DataFormatError(f"{path}: unknown sector codes {unknown} in {sec!r}")
    filiere = table[fil].astype("string").str.strip().str.lower()
    if not filiere.isin(["c", "f"]).all():
        raise DataFormatError(f"{path}: column {fil!r} must be c (chaleur) or f (froid)")
    pdl_col = find_column(cols, ["pdl", "points_livraison"])
    pdl = (to_number(table[pdl_col]).round().astype("Int64") if pdl_col
           else pd.Series(pd.NA, index=table.index, dtype="Int64"))
    name = find_column(cols, ["operateur", "nom_reseau"])
    year = find_column(cols, ["annee"])
    com = find_column(cols, ["code_commune"])
    codes_iris = _iris(table[iris])
    out = pd.DataFrame({
        "identifiant_reseau": table[net].astype("string").str.strip().str.upper(),
        "nom_reseau": table[name].astype("string") if name else pd.NA,
        "annee": to_number(table[year]).astype("Int64") if year else pd.NA,
        "code_iris": codes_iris,
        schema.CODE_COMMUNE: (table[com].astype("string").str.zfill(5) if com
                              else codes_iris.str[:5]),
        "filiere": filiere.map({"c": "chaleur", "f": "froid"}),
        "secteur": sectors.map(SECTORS),
        "energie_mwh": energy.astype(float),
        "points_livraison": pdl,
        "secret": secret.astype(bool),
    })
    out.attrs["source"] = "SDES, France Chaleur Urbaine"
    return out


def read_heat_network_co2(path: PathLike) -> pd.DataFrame:
    """Read the arrêté DPE table: CO2 content and renewable share of each heat network.

    Returns
    -------
    pandas.DataFrame
        ``identifiant_reseau`` (``5910C``: département + number + C chaleur / F froid),
        ``nom_reseau``, ``localisation``, ``contenu_co2_kg_kwh`` (direct),
        ``contenu_co2_acv_kg_kwh`` (life cycle), ``taux_enrr`` (share 0–1 of renewable
        and recovered energy, NA for cooling networks), ``annee_reference``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "arrete.csv"
    >>> _ = f.write_text("identifiant,nom,localisation,contenu_co2,contenu_co2_acv,taux_enrr,"
    ...                  "annee_reference\\n5910C,Réseau de Lille,LILLE,0.123,0.15,61.5,Moyenne\\n")
    >>> read_heat_network_co2(f)["taux_enrr"].tolist()
    [0.615]
    """
    path = resolve_input(path)
    table = read_table(path, header_candidates=["identifiant"])
    cols = table.columns
    need = ["identifiant", "contenu_co2", "taux_enrr"]
    missing = [c for c in need if find_column(cols, [c]) is None]
    if missing:
        raise SchemaError(f"{path}: arrêté DPE table without {missing}; columns: {list(cols)}")
    ids = table[find_column(cols, ["identifiant"])].astype("string").str.strip().str.upper()
    if ids.duplicated().any():
        raise DataFormatError(f"{path}: duplicated network ids {ids[ids.duplicated()].tolist()}")
    co2 = to_number(table[find_column(cols, ["contenu_co2"])])
    acv_col = find_column(cols, ["contenu_co2_acv"])
    acv = to_number(table[acv_col]) if acv_col else pd.Series(np.nan, index=table.index)
    enrr = to_number(table[find_column(cols, ["taux_enrr"])])
    if ((co2 < 0) | (co2 > 1)).any() or ((acv < 0) | (acv > 1)).any():
        raise DataFormatError(f"{path}: a CO2 content outside 0–1 kgCO2/kWh")
    if ((enrr < 0) | (enrr > 100)).any():
        raise DataFormatError(f"{path}: a taux_enrr outside 0–100 %")
    get = {c: find_column(cols, [c]) for c in ("nom", "localisation", "annee_reference")}
    out = pd.DataFrame({
        "identifiant_reseau": ids,
        "nom_reseau": table[get["nom"]] if get["nom"] else pd.NA,
        "localisation": table[get["localisation"]] if get["localisation"] else pd.NA,
        "contenu_co2_kg_kwh": co2,
        "contenu_co2_acv_kg_kwh": acv,
        "taux_enrr": enrr / 100.0,
        "annee_reference": (table[get["annee_reference"]].astype("string")
                            if get["annee_reference"] else pd.NA),
    })
    out.attrs["source"] = "Ministère de la Transition écologique, arrêté DPE"
    return out


def read_iris_contours(path: PathLike, *, crs: object | None = None) -> gpd.GeoDataFrame:
    """Read IRIS polygons with their code (IGN CONTOURS-IRIS or any layer with ``code_iris``).

    Parameters
    ----------
    path : path-like
        Shapefile, GeoPackage or GeoJSON with ``CODE_IRIS`` (or ``code_iris``).
    crs : optional
        CRS of a layer that declares none.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_iris`` (9 characters, unique), ``nom_iris``, ``code_commune`` and
        polygons in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "iris.geojson"
    >>> gpd.GeoDataFrame({"CODE_IRIS": ["593500101"], "NOM_IRIS": ["Vauban"]},
    ...                  geometry=[box(0, 0, 1, 1)], crs=2154).to_file(f)
    >>> read_iris_contours(f)["code_commune"].tolist()
    ['59350']
    """
    path = resolve_input(path)
    frame = read_vector(path)
    if frame.crs is None:
        if crs is None:
            raise DataFormatError(f"{path}: the IRIS layer declares no CRS; pass crs=")
        frame = frame.set_crs(crs)
    frame = schema.to_canonical_crs(frame, what=str(path))
    cols = frame.columns
    code = find_column(cols, ["code_iris", "iris", "dcomiris"])
    if code is None:
        raise SchemaError(f"{path}: no CODE_IRIS column; columns: {list(cols)}")
    codes = _iris(frame[code])
    if codes.duplicated().any():
        dup = codes[codes.duplicated()].tolist()[:5]
        raise DataFormatError(f"{path}: duplicated IRIS codes {dup}")
    name = find_column(cols, ["nom_iris"])
    com = find_column(cols, ["insee_com", "code_commune", "depcom"])
    geoms = np.asarray(frame.geometry.array, dtype=object)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        warn(f"{path}: repaired {int(invalid.sum())} invalid IRIS polygon(s) with make_valid")
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = gpd.GeoDataFrame({
        "code_iris": codes,
        "nom_iris": frame[name].astype("string") if name else pd.NA,
        schema.CODE_COMMUNE: (frame[com].astype("string").str.zfill(5) if com
                              else codes.str[:5]),
    }, geometry=geoms, crs=schema.CRS)
    return out


def read_dpe(path: PathLike, *, min_score_ban: float | None = None) -> gpd.GeoDataFrame:
    """Read ADEME DPE records (layout ``dpe03existant``) as points.

    Parameters
    ----------
    path : path-like
        CSV export of the ADEME dataset « DPE Logements existants (depuis juillet 2021) ».
    min_score_ban : float, optional
        Drop records whose BAN geocoding score (``score_ban``, 0–1) is below this.

    Returns
    -------
    geopandas.GeoDataFrame
        ``numero_dpe``, ``etiquette_dpe``, ``etiquette_ges`` (A–G), ``type_batiment``,
        ``annee_construction`` (Int64), ``date_etablissement_dpe``, ``code_commune``
        (``code_insee_ban``), ``score_ban`` and points in EPSG:2154 from
        ``coordonnee_cartographique_x_ban`` / ``_y_ban`` (Lambert-93). Records without
        coordinates are dropped with a warning.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "dpe.csv"
    >>> _ = f.write_text("numero_dpe,etiquette_dpe,etiquette_ges,code_insee_ban,"
    ...     "coordonnee_cartographique_x_ban,coordonnee_cartographique_y_ban\\n"
    ...     "2259E0000000X,F,D,59512,710000.5,7066000.2\\n")
    >>> read_dpe(f)[["etiquette_dpe", "code_commune"]].iloc[0].tolist()
    ['F', '59512']
    """
    path = resolve_input(path)
    table = read_table(path, header_candidates=["numero_dpe", '"numero_dpe"'])
    # ADEME exports quote the first header twice ("""numero_dpe"""): strip the quotes.
    table.columns = [str(c).strip().strip('"') for c in table.columns]
    cols = table.columns
    x = find_column(cols, ["coordonnee_cartographique_x_ban"])
    y = find_column(cols, ["coordonnee_cartographique_y_ban"])
    lab = find_column(cols, ["etiquette_dpe"])
    if x is None or y is None or lab is None:
        raise SchemaError(
            f"{path}: a dpe03existant file needs etiquette_dpe and "
            f"coordonnee_cartographique_x_ban / _y_ban; columns: {list(cols)[:20]}…"
        )
    labels = table[lab].astype("string").str.strip().str.upper().replace("", pd.NA)
    ges_col = find_column(cols, ["etiquette_ges"])
    ges = (table[ges_col].astype("string").str.strip().str.upper().replace("", pd.NA)
           if ges_col else pd.Series(pd.NA, index=table.index, dtype="string"))
    for name, values in (("etiquette_dpe", labels), ("etiquette_ges", ges)):
        bad = values.notna() & ~values.isin(list(DPE_LABELS))
        if bad.any():
            raise DataFormatError(
                f"{path}: column {name!r} has labels outside A–G: "
                f"{values[bad].unique().tolist()[:5]}"
            )
    xs, ys = to_number(table[x]), to_number(table[y])
    # ADEME writes 0, 0 for an address the BAN could not place: no coordinates.
    keep = xs.notna() & ys.notna() & ~((xs == 0) & (ys == 0))
    # Lambert-93 over mainland France: x 100 000–1 250 000, y 6 000 000–7 200 000.
    out_of_range = keep & ~(xs.between(0, 1_300_000) & ys.between(6_000_000, 7_200_000))
    if out_of_range.any():
        raise DataFormatError(
            f"{path}: {int(out_of_range.sum())} BAN coordinate(s) outside Lambert-93 mainland "
            f"France (e.g. {xs[out_of_range].iloc[0]}, {ys[out_of_range].iloc[0]})"
        )
    score_col = find_column(cols, ["score_ban"])
    score = to_number(table[score_col]) if score_col else pd.Series(np.nan, index=table.index)
    if min_score_ban is not None:
        keep &= score >= min_score_ban
    if (~keep).any():
        warn(f"{path}: dropped {int((~keep).sum())} DPE record(s) without BAN coordinates "
             "(empty or 0, 0)"
             + (f" or with score_ban < {min_score_ban}" if min_score_ban is not None else ""))
    k = keep.to_numpy()
    t = table[k].reset_index(drop=True)

    def col(name: str) -> pd.Series:
        c = find_column(cols, [name])
        return (t[c].astype("string").replace("", pd.NA) if c
                else pd.Series(pd.NA, index=t.index, dtype="string"))

    com = col("code_insee_ban")
    out = gpd.GeoDataFrame({
        "numero_dpe": col("numero_dpe"),
        "etiquette_dpe": labels[k].reset_index(drop=True),
        "etiquette_ges": ges[k].reset_index(drop=True),
        "type_batiment": col("type_batiment"),
        "annee_construction": to_number(col("annee_construction")).round().astype("Int64"),
        "date_etablissement_dpe": col("date_etablissement_dpe"),
        schema.CODE_COMMUNE: com.where(com.isna(), com.str.zfill(5)),
        "score_ban": score[k].reset_index(drop=True),
    }, geometry=shapely.points(xs[k].to_numpy(), ys[k].to_numpy()), crs=schema.CRS)
    deps = {schema.departement_of_commune(c) for c in out[schema.CODE_COMMUNE].dropna()}
    out.attrs["couverture_departements"] = sorted(d for d in deps if d)
    out.attrs["source"] = "ADEME, DPE logements existants"
    return out

