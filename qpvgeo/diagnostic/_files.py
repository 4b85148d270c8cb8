"""Where the publishers' files sit in a local data directory (the layouts ``diagnose`` reads).

The readers know each publisher's format; this module only knows file *names*: for each
role of a diagnostic, the files searched in ``--data-dir``, first match wins, and the
millésime of each known file for provenance.json. Kept beside the catalogue of
:mod:`qpvgeo.sources` (whose fetch-cache layout is searched after these names).
"""

from __future__ import annotations

#: Role -> files searched in the data directory, first match wins (see module docstring).
DATA_FILES: dict[str, tuple[str, ...]] = {
    "qpv2024": (
        "qpv2024_contours_simplified/qpv2024_simplified.geojson",
    ),
    "qpv2024_communes": ("qpv2024_list_anct/qpv2024_code_commune.csv",),
    "qpv2024_indicators": ("qpv2024_indicators_sigville/analyse_qpv.csv",),
    "qpv2015": (
        "qpv2015_contours_anct/QP_METROPOLE_LB93.shp",
        "qpv2015_contours_anct/QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp",
        "qpv2015_occitanie_hackaviz/qp.geojson",
    ),
    "qpv2015_communes": ("insee_qpv_tables/pop_qp_2013.csv",),
    "qpv2015_indicators": (
        "insee_qpv_tables/DEMO_2022.csv",
        "insee_qpv_tables/data_filo19_qp_revdis.csv",
        "insee_qpv_tables/IPRO_2022.csv",
        "qpv2015_occitanie_hackaviz/qp.csv",
    ),
    "population": (
        "insee_population_communes/populations_legales_2023_communes_cog2025.csv",
        "insee_population_communes/populations_legales_2021_communes_cog2023.csv",
    ),
    "communes": (
        "communes_hdf/communes_hdf_cog2025.gpkg",
        "communes_occitanie/communes-*.geojson",
    ),
    "epci": ("epci_hdf/epci_membership_hdf_2025.csv", "epci_hdf/epcicom2025.xlsx"),
}
#: Role -> catalogue sources (:mod:`qpvgeo.sources`) whose fetch-cache files
#: (``<data_dir>/<name>/…``) also serve it, searched after the names above; with
#: ``fetch_missing`` the first one is downloaded when nothing is found.
ROLE_SOURCES: dict[str, tuple[str, ...]] = {
    "qpv2024": ("qpv2024",),
    "qpv2024_communes": ("qpv2024_communes",),
    "qpv2024_indicators": ("insee_qpv2024_population", "insee_qpv2024_revenus"),
    "qpv2015": ("qpv2015",),
    "qpv2015_indicators": ("insee_qpv2015_population", "insee_qpv2015_revenus"),
    "population": ("insee_population_2023",),
    "communes": ("admin_express_cog2024",),
    "epci": ("epci2025",),
}
#: Millésime of the files of the documented layout, recorded in provenance.json.
FILE_MILLESIMES: dict[str, str] = {
    "qpv2024_simplified.geojson": "QPV 2024 (décret n° 2023-1314), contours ANCT simplifiés",
    "qpv2024_code_commune.csv": "QPV 2024, liste ANCT des communes",
    "analyse_qpv.csv": "population municipale des QPV 2024 (Insee via SIG Ville)",
    "QP_METROPOLE_LB93.shp": "QPV 2015 (décrets n° 2014-1750 et 2014-1751)",
    "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp": "QPV 2015 (décrets n° 2014-1750 et 2014-1751)",
    "qp.geojson": "QPV 2015 (contours ANCT, Hackaviz Occitanie)",
    "qp.csv": "Insee, indicateurs QPV publiés en 2019 (géographie 2015)",
    "pop_qp_2013.csv": "Insee, population RP 2013 des QPV 2015",
    "DEMO_2022.csv": "Insee, base QPV Démographie, édition 2022 (géographie 2015)",
    "data_filo19_qp_revdis.csv": "Insee, Filosofi 2019 (géographie 2015)",
    "IPRO_2022.csv": "Insee, base QPV Insertion professionnelle, édition 2022",
    "populations_legales_2023_communes_cog2025.csv": "Insee, populations légales 2023, COG 2025",
    "populations_legales_2021_communes_cog2023.csv": "Insee, populations légales 2021, COG 2023",
    "communes_hdf_cog2025.gpkg": "IGN ADMIN EXPRESS COG 2018, ramené au COG 2025",
    "epci_membership_hdf_2025.csv": "DGCL, EPCI au 1er janvier 2025",
    "epcicom2025.xlsx": "DGCL, EPCI au 1er janvier 2025",
}
#: Roles whose every matching file is read (the others stop at the first match).
_READ_ALL = frozenset({"qpv2024_indicators", "qpv2015_indicators", "communes"})

#: Environmental layer -> files searched in the data directory. Every match is read
#: (vector files only when their extent reaches the territory) and clipped to it.
LAYER_FILES: dict[str, tuple[str, ...]] = {
    "flood": ("flood_hdf/*.geojson", "georisques_tri_*/**/n_tri_*_inondable_s_*.shp"),
    "sites": ("icpe_hdf/*.gpkg", "icpe_occitanie/*.gpkg", "georisques_icpe/**/*.shp"),
    "air": ("air_quality_occitanie/*.csv", "atmo_occitanie_annual_means/*.csv"),
    "heat": (
        "urban_heat_lcz/*heat_vulnerability.geojson",
        "urban_heat_lcz_occitanie/*heat_vulnerability.geojson",
    ),
    "green_spaces": ("green_spaces_toulouse/*.geojson", "green_spaces_montpellier/*.geojson"),
    "noise": ("noise_*/N_BRUIT_ZBRD_INFRA_*_C_*.shp", "noise_*/*/N_BRUIT_ZBRD_INFRA_*_C_*.shp"),
    "acces_education": ("education_academie_lille/*.geojson",
                        "education_annuaire/*.csv"),
    "acces_gares": ("stations_sncf/gares-de-voyageurs.geojson", "sncf_gares/*.geojson"),
    # No "dpe" files on purpose: the only DPE file we hold is a non-random sample (layout
    # tests only); a report must not publish its statistics.
}

