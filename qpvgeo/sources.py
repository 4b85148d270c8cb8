"""The catalogue of the official sources qpvgeo reads: who publishes what, where, which licence.

Each :class:`Source` has a short name (``qpvgeo fetch NAME``), its publisher, title,
millésime, licence, format, the publisher's dataset page, the files to download and the
dotted name of the function that reads it. Nothing is imported from the readers here:
the loader is a string, resolved on demand by :func:`resolve_loader`. The raw Cerema
LCZ polygons name ``geopandas.read_file`` (qpvgeo's heat reader takes IRIS scores
derived from them).

Download addresses: ``url_verified=True`` means the exact address is the one cited by
independent public projects that download it (see each ``note``); no address was
fetched from here (the catalogue was written offline). A file with ``url=None`` has no
stable address at its publisher (pages that change at every release, forms, APIs):
``qpvgeo fetch`` then says where to save it by hand (or takes it from a mirror's
``_by_hand/<source>/`` folder), and checks and records it like a download.

Examples
--------
>>> get_source("qpv2015").publisher
'ANCT (ex-CGET), SIG Ville'
>>> "qpv2024" in CATALOGUE
True
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from qpvgeo.errors import QpvgeoError

LO = "Licence Ouverte / Etalab 2.0"
_DATAGOUV_QPV = (
    "https://www.data.gouv.fr/fr/datasets/"
    "quartiers-prioritaires-de-la-politique-de-la-ville-qpv/"
)


#: File kinds :func:`qpvgeo.fetch.validate_download` knows, by file-name suffix.
FILE_KINDS = {".zip": "zip", ".7z": "7z", ".csv": "csv", ".txt": "csv", ".geojson": "geojson",
              ".json": "geojson", ".gpkg": "gpkg", ".xlsx": "xlsx", ".xls": "xls",
              ".shp": "shp", ".html": "html", ".htm": "html"}


@dataclass(frozen=True)
class SourceFile:
    """One file of a source, and what a good copy of it looks like.

    ``filename`` is the cache file name, ``url`` the publisher's address (None: placed
    by hand), ``extract`` marks an archive to extract. The rest is checked by
    :func:`qpvgeo.fetch.validate_download` on every download, before the file enters the
    cache and before its hash goes into the lock file:

    - ``sha256`` and ``size`` pin the exact file where it is known (a different file is
      refused, even with ``--refresh``);
    - ``kind`` (default: from the file name's suffix, see :data:`FILE_KINDS`): a zip or 7z
      must be a readable archive, a CSV text with a header line, a GeoJSON or GeoPackage
      readable by pyogrio, an xlsx a workbook; a web page where data is expected is
      always refused;
    - ``members``: glob patterns, each matched by at least one archive member (by its
      base name); default, the base name of the source's ``main`` file;
    - ``header``: column names the CSV header must hold (case-insensitive);
    - ``min_size``: smallest plausible size in bytes.

    Examples
    --------
    >>> SourceFile("a.csv", None).file_kind
    'csv'
    """

    filename: str
    url: str | None
    sha256: str | None = None
    extract: bool = False
    size: int | None = None
    kind: str | None = None
    members: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    min_size: int = 1

    @property
    def file_kind(self) -> str | None:
        """``kind``, or the kind its suffix says (None when unknown)."""
        if self.kind:
            return self.kind
        suffix = "." + self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
        return FILE_KINDS.get(suffix)

    @property
    def pinned(self) -> bool:
        """Whether the exact file is known (a sha256 is pinned)."""
        return self.sha256 is not None


@dataclass(frozen=True)
class Source:
    """One official dataset (see the module docstring for the meaning of the fields)."""

    name: str
    publisher: str
    title: str
    millesime: str
    licence: str
    format: str
    loader: str
    page: str
    files: tuple[SourceFile, ...]
    #: Glob (relative to the source's cache folder) of the file the loader reads;
    #: None returns the first file (or the extraction folder of an archive).
    main: str | None = None
    #: Archives inside the archive are extracted too (INSEE ships 7z inside zip).
    nested_archives: bool = False
    url_verified: bool = False
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def urls(self) -> tuple[str, ...]:
        """Download addresses of the files that have one."""
        return tuple(f.url for f in self.files if f.url)


_SOURCES = (
    Source(
        name="qpv2024",
        publisher="ANCT, SIG Ville",
        title="Quartiers prioritaires 2024: contours, France entière (GeoJSON WGS84)",
        millesime="2024 (décret n° 2023-1314)",
        licence=LO,
        format="zip of GeoJSON",
        loader="qpvgeo.readers.read_qpv",
        page=_DATAGOUV_QPV,
        files=(SourceFile(
            "qpv-2024-geojson.zip",
            "https://www.data.gouv.fr/fr/datasets/r/942d4ee8-8142-4556-8ea1-335537ce1119",
            extract=True, min_size=500_000,  # France-wide contours: tens of MB
        ),),
        main="**/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson",
        url_verified=True,
        note="data.gouv.fr stable resource address, cited by two independent projects; the "
        "archive holds GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson.",
        tags=("qpv",),
    ),
    Source(
        name="qpv2015",
        publisher="ANCT (ex-CGET), SIG Ville",
        title="Quartiers prioritaires 2015: contours (shapefiles Lambert-93 and WGS84)",
        millesime="2015 (décrets n° 2014-1750 et 2014-1751)",
        licence=LO,
        format="zip of shapefiles",
        loader="qpvgeo.readers.read_qpv",
        page=_DATAGOUV_QPV,
        files=(SourceFile(
            "qp-politiquedelaville-shp.zip",
            "https://static.data.gouv.fr/resources/"
            "quartiers-prioritaires-de-la-politique-de-la-ville-qpv/20180110-144945/"
            "qp-politiquedelaville-shp.zip",
            extract=True, min_size=1_000_000,  # two national shapefiles
        ),),
        main="**/QP_METROPOLE_LB93.shp",
        url_verified=True,
        note="Also published as https://sig.ville.gouv.fr/Atlas/qp-politiquedelaville-shp.zip. "
        "DBF in cp1252 without .cpg.",
        tags=("qpv",),
    ),
    Source(
        name="qpv2024_communes",
        publisher="ANCT",
        title="Liste des QPV 2024 et de leurs communes",
        millesime="2024",
        licence=LO,
        format="csv",
        loader="qpvgeo.readers.read_qpv_communes",
        page=_DATAGOUV_QPV,
        files=(SourceFile(
            "qpv2024_communes.csv",
            "https://www.data.gouv.fr/fr/datasets/r/4c6bb7f3-97b6-4834-8a3a-f5f8b3e6735b",
            min_size=20_000,  # 1,684 (QPV, commune) rows
        ),),
        url_verified=True,
        note="Resource id named as the upstream of ANCT's own cartography repository.",
        tags=("qpv",),
    ),
    Source(
        name="insee_qpv2024_population",
        publisher="INSEE",
        title="Population municipale des quartiers prioritaires, géographie 2024",
        millesime="population de référence QPV 2024",
        licence=LO,
        format="csv (in a zip on insee.fr)",
        loader="qpvgeo.readers.read_qpv_indicators",
        page="https://www.insee.fr/fr/statistiques/8210600",
        files=(SourceFile("pop_QPV24.csv", None),),
        note="insee.fr file addresses change with each release: take pop_QPV24.csv from the "
        "zip on the page. Companion: communal populations, insee.fr/fr/statistiques/8210602.",
        tags=("insee", "qpv"),
    ),
    Source(
        name="insee_qpv2015_population",
        publisher="INSEE, via ANCT SIG Ville",
        title="Données démographiques des QPV (DEMO 2022), géographie 2015",
        millesime="2022 edition, geography 2015",
        licence=LO,
        format="csv (';', decimal comma, U+202F thousands)",
        loader="qpvgeo.readers.read_qpv_indicators",
        page="https://sig.ville.gouv.fr/",
        files=(SourceFile("DEMO_2022.csv", None, header=("CODGEO", "POP_MUN"),
                          min_size=100_000),),
        note="Per-QPV tables of the 2015 geography were distributed through SIG Ville; the "
        "exact file address was not verified.",
        tags=("insee", "qpv"),
    ),
    Source(
        name="insee_qpv2024_revenus",
        publisher="INSEE",
        title="Revenus, pauvreté et niveau de vie dans les QPV (Filosofi 2021), géographie 2024",
        millesime="2021, geography 2024",
        licence=LO,
        format="zip of csv",
        loader="qpvgeo.readers.read_qpv_indicators",
        page="https://www.insee.fr/fr/statistiques/8243167",
        files=(SourceFile("revenus_pauvrete_2021_qp24_v2_csv.zip", None, extract=True),),
        note="Download the csv zip from the page (its name as seen in a public kit).",
        tags=("insee", "qpv"),
    ),
    Source(
        name="insee_qpv2015_revenus",
        publisher="INSEE, via ANCT SIG Ville",
        title="Revenus disponibles et pauvreté des QPV (Filosofi 2019), géographie 2015",
        millesime="2019, geography 2015",
        licence=LO,
        format="csv (';', decimal comma, U+00A0 thousands)",
        loader="qpvgeo.readers.read_qpv_indicators",
        page="https://sig.ville.gouv.fr/",
        files=(SourceFile("data_filo19_qp_revdis.csv", None,
                          header=("CODGEO", "DISP_MED_A19"), min_size=50_000),),
        note="Exact file address not verified.",
        tags=("insee", "qpv"),
    ),
    Source(
        name="insee_population_2023",
        publisher="INSEE",
        title="Populations de référence 2023 des communes (en vigueur au 1er janvier 2026)",
        millesime="2023, COG 2025",
        licence=LO,
        format="zip of csv (';')",
        loader="qpvgeo.readers.read_commune_population",
        page="https://www.insee.fr/fr/statistiques/8680726",
        files=(SourceFile(
            "ensemble.zip", "https://www.insee.fr/fr/statistiques/fichier/8680726/ensemble.zip",
            extract=True, min_size=200_000,  # about 1 MB
        ),),
        main="**/donnees_communes.csv",
        url_verified=True,
        note="Cited by several projects (about 1 MB, donnees_communes.csv: 34,900 communes).",
        tags=("insee", "communes"),
    ),
    Source(
        name="cog2026",
        publisher="INSEE",
        title="Code officiel géographique au 1er janvier 2026: communes et mouvements",
        millesime="2026",
        licence=LO,
        format="csv (',')",
        loader="qpvgeo.readers.read_cog_communes",
        page="https://www.insee.fr/fr/information/8740222",
        files=(
            SourceFile(
                "v_commune_2026.csv",
                "https://www.insee.fr/fr/statistiques/fichier/8740222/v_commune_2026.csv",
                sha256="fb8d44ed1d10056cea8fb62e9d09b260bee61d5cfb8f6c08e19a4a4a6f935a15",
                size=2_666_007, header=("TYPECOM", "COM", "REG", "DEP", "LIBELLE"),
                min_size=1_000_000,
            ),
            SourceFile(
                "v_mvt_commune_2026.csv",
                "https://www.insee.fr/fr/statistiques/fichier/8740222/v_mvt_commune_2026.csv",
                sha256="89be99e24eefa87d68b779089e9a8b6f2b339a586b060ddb1298f673bf5c617f",
                size=1_691_975, header=("MOD", "DATE_EFF", "COM_AV", "COM_AP"),
                min_size=500_000,
            ),
        ),
        main="v_commune_2026.csv",
        url_verified=True,
        note="v_mvt_commune_2026.csv (every commune change since 1943) is saved beside it; "
        "read it with qpvgeo.readers.read_cog_movements. sha256 and size pinned from the "
        "byte-for-byte copy in datagouv/decoupage-administratif (commit 98976e5).",
        tags=("insee", "communes"),
    ),
    Source(
        name="admin_express_cog2024",
        publisher="IGN",
        title="ADMIN EXPRESS COG 2024: communes, EPCI, départements, régions (métropole)",
        millesime="2024 (édition 2024-02-22)",
        licence=LO,
        format="7z of shapefiles (Lambert-93)",
        loader="qpvgeo.readers.read_communes",
        page="https://geoservices.ign.fr/adminexpress",
        files=(SourceFile(
            "ADMIN-EXPRESS-COG_3-2__SHP_LAMB93_FXX_2024-02-22.7z",
            "https://data.geopf.fr/telechargement/download/ADMIN-EXPRESS-COG/"
            "ADMIN-EXPRESS-COG_3-2__SHP_LAMB93_FXX_2024-02-22/"
            "ADMIN-EXPRESS-COG_3-2__SHP_LAMB93_FXX_2024-02-22.7z",
            extract=True, min_size=10_000_000,  # about 500 MB
        ),),
        main="**/COMMUNE.shp",
        url_verified=True,
        note="About 500 MB; extraction needs the optional package py7zr. EPCI.shp, "
        "DEPARTEMENT.shp and REGION.shp are in the same folder.",
        tags=("communes",),
    ),
    Source(
        name="epci2025",
        publisher="DGCL (ministère de l'Intérieur)",
        title="Liste et composition des EPCI à fiscalité propre (epcicom) au 1er janvier 2025",
        millesime="2025",
        licence=LO,
        format="xlsx",
        loader="qpvgeo.readers.read_epci",
        page="https://www.collectivites-locales.gouv.fr/institutions/"
        "liste-et-composition-des-epci-fiscalite-propre",
        files=(SourceFile(
            "epcicom2025.xlsx",
            "https://www.collectivites-locales.gouv.fr/files/Accueil/DESL/2025/epcicom2025.xlsx",
            sha256="40e9171b54af5f16ebc4baa72a08326134e99ec91010da45c89a44b83c547b09",
            size=2_888_554, min_size=1_000_000,
        ),),
        url_verified=False,
        note="Address built from the publisher's file-naming scheme seen in a public scraper, "
        "not verified; the DGCL sometimes publishes a corrected epcicom2025-2.xlsx. sha256 "
        "and size pinned from the byte-identical copy in datagouv/decoupage-administratif "
        "(sources/epcicom.xlsx, commit db0e528).",
        tags=("communes",),
    ),
    Source(
        name="filosofi200m_2019",
        publisher="INSEE",
        title="Revenus, pauvreté et niveau de vie en 2019: données carroyées à 200 m (GeoPackage)",
        millesime="Filosofi 2019",
        licence=LO,
        format="zip holding a 7z of GeoPackages (EPSG:3035)",
        loader="qpvgeo.readers.grid.read_filosofi_grid",
        page="https://www.insee.fr/fr/statistiques/7655475",
        files=(SourceFile(
            "Filosofi2019_carreaux_200m_gpkg.zip",
            "https://www.insee.fr/fr/statistiques/fichier/7655475/"
            "Filosofi2019_carreaux_200m_gpkg.zip",
            extract=True, min_size=100_000,  # about 200 MB
        ),),
        main="**/carreaux_200m_met.gpkg",
        nested_archives=True,
        url_verified=True,
        note="About 200 MB zipped, 1.1 GB for metropolitan France; the zip holds one 7z "
        "(needs the optional package py7zr).",
        tags=("insee", "grid"),
    ),
    Source(
        name="georisques_icpe",
        publisher="Géorisques (MTE / DGPR, BRGM)",
        title="Installations classées (ICPE), dont Seveso seuil haut et bas",
        millesime="current extraction",
        licence=LO,
        format="zip of shapefile (WFS SHAPEZIP export)",
        loader="qpvgeo.readers.read_industrial_sites",
        page="https://www.georisques.gouv.fr/donnees/bases-de-donnees/installations-industrielles",
        files=(SourceFile(
            "InstallationsClassees.zip",
            "https://mapsref.brgm.fr/wxs/georisques/georisques_dl?&service=wfs&version=2.0.0"
            "&request=getfeature&typename=InstallationsClassees&outputformat=SHAPEZIP",
            extract=True,
        ),),
        main="**/*.shp",
        url_verified=True,
        note="National WFS export used by public projects to select Seveso sites "
        "(lib_seveso, priorite_n, ied columns). The content changes with each extraction: "
        "use --refresh to accept a new one.",
        tags=("environment",),
    ),
    Source(
        name="georisques_tri_59",
        publisher="Géorisques / DREAL Hauts-de-France",
        title="Territoires à risque important d'inondation (TRI) du Nord: surfaces inondables",
        millesime="rapportage 2020",
        licence=LO,
        format="zip of shapefiles (COVADIS)",
        loader="qpvgeo.readers.read_flood_extents",
        page="https://www.georisques.gouv.fr/donnees/bases-de-donnees/"
        "zonages-inondation-rapportage-2020",
        files=(SourceFile(
            "tri_2020_sig_di_59.zip", "https://files.georisques.fr/di_2020/tri_2020_sig_di_59.zip",
            extract=True, min_size=10_000,
        ),),
        url_verified=True,
        note="One archive per département (replace 59 in the address: 02, 60, 62, 80 for "
        "the rest of Hauts-de-France). fetch returns the extracted folder: it holds every TRI "
        "of the département, one layer per TRI and scenario (n_tri_<tri>_inondable_*_s_059).",
        tags=("environment",),
    ),
    Source(
        name="georisques_eaip",
        publisher="Géorisques (MTE / DGPR)",
        title="Enveloppes approchées des inondations potentielles (EAIP)",
        millesime="EPRI 2011",
        licence=LO,
        format="zip of shapefiles",
        loader="qpvgeo.readers.read_flood_extents",
        page="https://www.georisques.gouv.fr/donnees/bases-de-donnees",
        files=(SourceFile("eaip.zip", None, extract=True),),
        note="No stable address found: download the EAIP layers for your area from Géorisques.",
        tags=("environment",),
    ),
    Source(
        name="lcsqa_annual_means",
        publisher="LCSQA (Géod'Air) / AASQA",
        title="Concentrations moyennes annuelles des polluants réglementés aux stations",
        millesime="latest validated year",
        licence=LO,
        format="csv",
        loader="qpvgeo.readers.read_air_stations",
        page="https://www.geodair.fr/",
        files=(SourceFile("lcsqa_moyennes_annuelles.csv", None),),
        note="Géod'Air exports are made through a form: save the export under this name.",
        tags=("environment", "air"),
    ),
    Source(
        name="atmo_occitanie_annual_means",
        publisher="Atmo Occitanie",
        title="Mesure annuelle Région Occitanie, polluants principaux (stations)",
        millesime="2018-2023",
        licence="see the publisher's portal",
        format="csv (with coordinates)",
        loader="qpvgeo.readers.read_air_stations",
        page="https://data-atmo-occitanie.opendata.arcgis.com/",
        files=(SourceFile("Mesure_annuelle_Region_Occitanie_Polluants_Principaux.csv", None),),
        note="ArcGIS Hub export; the address changes with each export.",
        tags=("environment", "air"),
    ),
    Source(
        name="cerema_lcz_lille",
        publisher="Cerema",
        title="Zones climatiques locales (LCZ) de l'aire urbaine de Lille",
        millesime="2022",
        licence=LO,
        format="zip of GeoPackage/shapefile",
        loader="geopandas.read_file",
        page="https://www.data.gouv.fr/fr/datasets/cartographie-des-zones-climatiques-locales-"
        "lcz-de-83-aires-urbaines-de-plus-de-50-000-habitants-2022/",
        files=(SourceFile("lcz-spot-2022-lille.zip", None, extract=True),),
        note="One archive per urban area (lcz-spot-2022-<aire>.zip) under a dated "
        "static.data.gouv.fr folder: take the current one from the page.",
        tags=("environment", "heat"),
    ),
    # -- access to services and energy transition (issue 14) --------------------------------
    Source(
        name="insee_bpe",
        publisher="INSEE",
        title="Base permanente des équipements (BPE): équipements géolocalisés, France entière",
        millesime="2023 (BPE annuelle; nomenclature TYPEQU de l'édition lue)",
        licence=LO,
        format="zip of CSV (;-separated)",
        loader="qpvgeo.readers.read_bpe",
        page="https://www.insee.fr/fr/metadonnees/source/serie/s1161",
        files=(SourceFile("bpe_ensemble_xy.csv", None),),
        note="The detail file 'ensemble' with LAMBERT_X / LAMBERT_Y, EPSG and QUALITE_XY is "
        "published on a dated insee.fr/fr/statistiques/<id> page per edition: take the "
        "geolocated CSV from the series page. Codes read: qpvgeo.readers.services.BPE_TYPES.",
        tags=("access",),
    ),
    Source(
        name="education_annuaire",
        publisher="Ministère de l'Éducation nationale (DEPP)",
        title="Annuaire de l'éducation: établissements géolocalisés, avec l'éducation "
        "prioritaire (REP, REP+)",
        millesime="mis à jour quotidiennement",
        licence=LO,
        format="CSV (;-separated, opendatasoft export)",
        loader="qpvgeo.readers.read_education_establishments",
        page="https://data.education.gouv.fr/explore/dataset/fr-en-annuaire-education/",
        files=(SourceFile(
            "fr-en-annuaire-education.csv",
            "https://data.education.gouv.fr/api/explore/v2.1/catalog/datasets/"
            "fr-en-annuaire-education/exports/csv?delimiter=%3B",
        ),),
        url_verified=False,
        note="The opendatasoft v2.1 export address of the dataset (not fetched from here). "
        "The Académie de Lille extract held for the tests is a third party's GeoJSON of the "
        "Ministry's geolocated establishments (shared/data/education_academie_lille).",
        tags=("access", "education"),
    ),
    Source(
        name="sncf_gares",
        publisher="SNCF Voyageurs",
        title="Gares de voyageurs: position, commune, codes UIC",
        millesime="2024",
        licence="ODbL (as published by SNCF)",
        format="CSV (;-separated)",
        loader="qpvgeo.readers.read_stations",
        page="https://ressources.data.sncf.com/explore/dataset/gares-de-voyageurs/",
        files=(SourceFile(
            "gares-de-voyageurs.csv",
            "https://ressources.data.sncf.com/api/explore/v2.1/catalog/datasets/"
            "gares-de-voyageurs/exports/csv?delimiter=%3B",
        ),),
        url_verified=False,
        note="opendatasoft v2.1 export address of the dataset (not fetched from here).",
        tags=("access", "transport"),
    ),
    Source(
        name="ademe_dpe",
        publisher="ADEME",
        title="DPE logements existants (depuis juillet 2021), jeu dpe03existant",
        millesime="depuis juillet 2021, mis à jour chaque semaine",
        licence=LO,
        format="CSV (API data-fair, 225 colonnes)",
        loader="qpvgeo.readers.read_dpe",
        page="https://data.ademe.fr/datasets/dpe03existant",
        files=(SourceFile("dpe03existant.csv", None),),
        note="Several million rows nationally: export the communes or départements you need "
        "from the dataset page (filter code_insee_ban / code_departement_ban, CSV). The "
        "sample held for the tests is not random: never publish its statistics.",
        tags=("transition", "dpe"),
    ),
    Source(
        name="sdes_chaleur_iris",
        publisher="SDES (ministère de la Transition écologique)",
        title="Données locales de consommation d'énergie: chaleur et froid livrés par les "
        "réseaux, par IRIS et secteur",
        millesime="2019 (the France Chaleur Urbaine extract); SDES publishes yearly",
        licence=LO,
        format="CSV",
        loader="qpvgeo.readers.read_heat_network_deliveries",
        page="https://www.statistiques.developpement-durable.gouv.fr/"
        "donnees-locales-de-consommation-denergie",
        files=(SourceFile("chaleur_froid_iris.csv", None),),
        note="Take the 'réseaux de chaleur et de froid' file at the IRIS level from the page "
        "(one file per year). 's' marks statistical secrecy and is read as unknown, never 0. "
        "The tests read France Chaleur Urbaine's 2019 copy (network_by_iris.json).",
        tags=("transition", "heat_networks"),
    ),
    Source(
        name="fcu_arrete_dpe",
        publisher="Ministère de la Transition écologique (arrêté DPE), via France Chaleur "
        "Urbaine",
        title="Contenus CO2 et taux d'EnR&R des réseaux de chaleur et de froid (annexe de "
        "l'arrêté DPE)",
        millesime="2026 (référence 2024 ou moyenne pluriannuelle)",
        licence="Licence Ouverte / Etalab 2.0 (code and data of betagouv/france-chaleur-urbaine)",
        format="CSV",
        loader="qpvgeo.readers.read_heat_network_co2",
        page="https://france-chaleur-urbaine.beta.gouv.fr/",
        files=(SourceFile(
            "arrete-dpe-2026.csv",
            "https://raw.githubusercontent.com/betagouv/france-chaleur-urbaine/"
            "78ae42872be9ee6375ab80ffd254f5173dd4f1fa/src/data/arrete-dpe/2026.csv",
        ),),
        url_verified=False,
        note="The file of the public repository at the commit read through a code index; "
        "the arrêté itself is published at Légifrance.",
        tags=("transition", "heat_networks"),
    ),
    Source(
        name="ign_contours_iris",
        publisher="IGN, INSEE",
        title="CONTOURS-IRIS: contours des IRIS, France entière (Lambert-93 en métropole)",
        millesime="2024",
        licence=LO,
        format="7z of shapefiles / GeoPackage",
        loader="qpvgeo.readers.read_iris_contours",
        page="https://geoservices.ign.fr/contoursiris",
        files=(SourceFile("CONTOURS-IRIS.gpkg", None),),
        note="Versioned archives (CONTOURS-IRIS_3-0__GPKG_LAMB93_FXX_<date>.7z) listed on the "
        "page: download the edition matching the data's IRIS geography and extract it.",
        tags=("transition", "iris"),
    ),
)

#: Every source, by short name.
CATALOGUE: dict[str, Source] = {s.name: s for s in _SOURCES}

#: For the tests: files of ``../shared/data`` that stand for each source's files.
#: ``{source: {cache file name: path}}``; for an archive, ``{member: path}`` gives the
#: members of a zip built on the fly. Several are extracts or copies from third parties
#: (see each folder's SOURCE.md), not the publisher's file byte for byte.
SHARED_DATA: dict[str, dict[str, str | dict[str, str]]] = {
    "qpv2024": {"qpv-2024-geojson.zip": {
        "GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson":
            "qpv2024_contours_simplified/qpv2024_simplified.geojson",
    }},
    "qpv2015": {"qp-politiquedelaville-shp.zip": {
        f"qp-politiquedelaville-shp/{stem}.{ext}": f"qpv2015_contours_anct/{stem}.{ext}"
        for stem in ("QP_METROPOLE_LB93", "QP_METROPOLEOUTREMER_WGS84_EPSG4326")
        for ext in ("shp", "shx", "dbf", "prj")
    }},
    "qpv2024_communes": {"qpv2024_communes.csv": "qpv2024_list_anct/qpv2024_code_commune.csv"},
    "insee_qpv2015_population": {"DEMO_2022.csv": "insee_qpv_tables/DEMO_2022.csv"},
    "insee_qpv2015_revenus": {
        "data_filo19_qp_revdis.csv": "insee_qpv_tables/data_filo19_qp_revdis.csv",
    },
    "insee_population_2023": {"ensemble.zip": {
        "donnees_communes.csv":
            "insee_population_communes/populations_legales_2023_communes_cog2025.csv",
    }},
    "cog2026": {
        "v_commune_2026.csv": "insee_cog/communes_cog.csv",
        "v_mvt_commune_2026.csv": "insee_cog/mouvements_communes.csv",
    },
    "epci2025": {"epcicom2025.xlsx": "epci_hdf/epcicom2025.xlsx"},
    "filosofi200m_2019": {"Filosofi2019_carreaux_200m_gpkg.zip": {
        "carreaux_200m_met.gpkg": "filosofi_200m_2019_communes_sample/carreaux_200m.gpkg",
    }},
    "georisques_tri_59": {"tri_2020_sig_di_59.zip": {
        "tri_2020_sig_di_59/n_tri_lill_inondable_s_059_excerpt.geojson":
            "flood_hdf/n_tri_lill_inondable_s_059_excerpt.geojson",
    }},
    "atmo_occitanie_annual_means": {
        "Mesure_annuelle_Region_Occitanie_Polluants_Principaux.csv":
            "air_quality_occitanie/atmo_occitanie_mesure_annuelle_2018_2023.csv",
    },
}


def get_source(name: str) -> Source:
    """Return the catalogue entry ``name``; an unknown name is an error suggesting close ones.

    Examples
    --------
    >>> get_source("cog2026").files[0].filename
    'v_commune_2026.csv'
    """
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), CATALOGUE, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise QpvgeoError(
            f"unknown source {name!r}; {hint}`qpvgeo sources` lists the {len(CATALOGUE)} "
            "known sources"
        ) from None


def resolve_loader(source: str | Source) -> Callable:
    """Import and return the function that reads ``source`` (its ``loader`` dotted name).

    Examples
    --------
    >>> resolve_loader("cog2026").__name__
    'read_cog_communes'
    """
    src = source if isinstance(source, Source) else get_source(source)
    module, _, attr = src.loader.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise QpvgeoError(
            f"source '{src.name}': its loader {src.loader} is not available ({exc})"
        ) from exc


def _pinned_text(s: Source) -> str:
    n = sum(f.pinned for f in s.files)
    if n == 0:
        return "no"
    return "sha256+size" if n == len(s.files) else f"{n}/{len(s.files)} files"


def sources_table() -> pd.DataFrame:
    """Return the catalogue as a table, one row per source (what ``qpvgeo sources`` prints).

    Examples
    --------
    >>> t = sources_table()
    >>> t.loc[t["name"] == "qpv2024", "publisher"].item()
    'ANCT, SIG Ville'
    >>> t.loc[t["name"] == "cog2026", "pinned"].item()
    'sha256+size'
    """
    rows = []
    for s in _SOURCES:
        if s.urls:
            address = " ".join(s.urls) + ("" if s.url_verified else " (address not verified)")
        else:
            address = f"by hand from {s.page}"
        rows.append({
            "name": s.name, "publisher": s.publisher, "title": s.title,
            "millesime": s.millesime, "format": s.format, "licence": s.licence,
            "loader": s.loader, "address": address, "page": s.page,
            "pinned": _pinned_text(s),
        })
    return pd.DataFrame(rows)
