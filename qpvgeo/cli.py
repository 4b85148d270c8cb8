"""The ``qpvgeo`` command line: thin wrappers that parse, call the library and print.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--version"]).output.startswith("qpvgeo")
True
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from qpvgeo import __version__
from qpvgeo.errors import QpvgeoError

#: Set to 1 to see the Python traceback of an unexpected error instead of one line.
ENV_DEBUG = "QPVGEO_DEBUG"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_SEEN_WARNINGS: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print each distinct warning once, as ``qpvgeo: warning: …`` (not click's file name)."""
    text = _one_line(message)
    if text in _SEEN_WARNINGS:
        return
    _SEEN_WARNINGS.add(text)
    from qpvgeo.errors import QpvgeoWarning

    kind = "" if issubclass(category, QpvgeoWarning) else f" ({category.__name__})"
    click.echo(f"qpvgeo: warning{kind}: {text}", err=True)


class _Group(click.Group):
    """Every command's failure becomes one line ``qpvgeo: error: …`` and an exit code ≠ 0.

    Commands added with ``@main.command()`` get this for free: usage errors (click's
    option validation) exit 2, qpvgeo's own errors and file-system errors (a read-only
    folder, a full disk) exit 1, an interruption exits 130, anything unexpected exits 1
    with the exception named (``QPVGEO_DEBUG=1`` shows the traceback). Warnings are
    shown once each, attributed to qpvgeo.
    """

    def invoke(self, ctx):
        from qpvgeo._output import signals_as_exceptions

        _SEEN_WARNINGS.clear()
        # SIGTERM / SIGHUP become exceptions, so every command's temporary files go.
        with warnings.catch_warnings(), signals_as_exceptions():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise
            except QpvgeoError as exc:
                _fail(str(exc), 1)
            except KeyboardInterrupt:
                _fail("interrupted", 130)
            except SystemExit as exc:
                import signal

                if isinstance(exc.code, int) and exc.code > 128 and type(exc).__name__ == (
                        "_Terminated"):
                    name = signal.Signals(exc.code - 128).name
                    _fail(f"stopped by {name}; temporary files removed", exc.code)
                raise
            except OSError as exc:
                where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
                _fail(f"{where}{exc.strerror or exc}", 1)
            except Exception as exc:
                if os.environ.get(ENV_DEBUG):
                    raise
                _fail(f"unexpected {type(exc).__name__}: {exc} (set {ENV_DEBUG}=1 for the "
                      "traceback, and please report it)", 1)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                hint = f" (see `{ctx.command_path} --help`)"
            _fail(f"{exc.format_message()}{hint}", exc.exit_code)
        except click.Abort:
            _fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


class _InputFile(click.ParamType):
    """An existing file (or folder), or the name of a catalogue source (``qpvgeo sources``)."""

    name = "FILE|SOURCE"

    def convert(self, value, param, ctx):
        from pathlib import Path

        from qpvgeo.sources import CATALOGUE

        text = str(value)
        if text in CATALOGUE or Path(text).expanduser().exists():
            return text
        self.fail(f"{text}: no such file (nor a catalogue source, see `qpvgeo sources`)",
                  param, ctx)


_INPUT = _InputFile()


def _fail(message: str, code: int):
    click.echo(f"qpvgeo: error: {_one_line(message)}", err=True)
    sys.exit(code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="qpvgeo")
def main() -> None:
    """Population and environmental exposure of the quartiers prioritaires (QPV)."""


# -- commands are added below, one block each -----------------------------------------


# -- qpvgeo fetch: bring official sources into the cache -------------------------------------
@main.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "all_sources", is_flag=True, help="Fetch every catalogue source.")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="Cache folder, e.g. data/raw (default: $QPVGEO_DATA_DIR or the user cache).")
@click.option("--mirror", default=None,
              help="Mirror base URL replacing the publishers' hosts: {mirror}/{host}/{path} "
              "(default: $QPVGEO_MIRROR).")
@click.option("--refresh", is_flag=True,
              help="Download again, and accept files that changed at the publisher.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=3600), default=None,
              help="Seconds without data before giving up.")
@click.option("--deadline", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a whole download may take (default: $QPVGEO_DEADLINE or 7200).")
@click.option("--min-rate", type=click.FloatRange(min=0), default=None,
              help="Slowest acceptable average rate in bytes/s, after a grace period "
              "(default: $QPVGEO_MIN_RATE or 1024; 0 disables).")
@click.option("--retries", type=click.IntRange(0, 20), default=None,
              help="Extra attempts after a failure.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fetch_command(names, all_sources, dest, mirror, refresh, timeout, deadline, min_rate, retries,
                  quiet):
    """Download official sources NAME… (see `qpvgeo sources`) and print where they are."""
    from qpvgeo.fetch import fetch
    from qpvgeo.sources import CATALOGUE

    if all_sources:
        names = tuple(CATALOGUE)
    if not names:
        raise click.UsageError("name one or more sources (see `qpvgeo sources`), or use --all")
    failed = 0
    for name in names:
        try:
            path = fetch(name, dest=dest, mirror=mirror, refresh=refresh, progress=not quiet,
                         timeout=timeout, deadline=deadline, min_rate=min_rate,
                         retries=retries)
        except QpvgeoError as exc:
            failed += 1
            click.echo(f"qpvgeo: error: {name}: {exc}", err=True)
            continue
        click.echo(f"{name}\t{path}")
    if failed:
        sys.exit(1)


# -- qpvgeo sources: the catalogue as a table ---------------------------------------------------
@main.command("sources")
@click.option("--urls", is_flag=True, help="Add the download address (or the page) of each source.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a text table.")
def sources_command(urls, as_csv):
    """List the official sources qpvgeo knows: publisher, millésime, licence, address.

    ``pinned`` says whether the exact file is known (sha256 and size in the catalogue):
    any other file is refused. Unpinned files are checked for their format, and their
    hash at the first download is kept in the lock file.
    """
    from qpvgeo.sources import sources_table

    table = sources_table()
    columns = ["name", "publisher", "millesime", "licence", "pinned", "title"]
    if urls or as_csv:
        columns += ["format", "loader", "address"]
    table = table[columns]
    if as_csv:
        click.echo(table.to_csv(index=False), nl=False)
    else:
        cells = [columns, *table.astype(str).values.tolist()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        for row in cells:
            click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# -- qpvgeo diagnose: the territory report ------------------------------------------------------
@main.command("diagnose")
@click.option("--territory", default=None, metavar="LEVEL:CODE",
              help="region:32, departement:59, epci:<siren> or commune:<code> "
              "(with --demo: region:99 by default, epci:299000001, commune:99001…).")
@click.option("--millesime", type=click.Choice(["2024", "2015"]), default="2024",
              show_default=True, help="QPV geography.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: diagnostic-<level>-<code>-<millesime>).")
@click.option("--offline-maps/--online-maps", default=None,
              help="Inline the interactive map's scripts and styles (opens with no network); "
              "default: offline when the assets can be had (`qpvgeo assets`). "
              "--offline-maps fails when they cannot.")
@click.option("--demo", is_flag=True, help="Use the embedded synthetic demo territory (offline).")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Local data directory (layout: see qpvgeo.report; default $QPVGEO_DATA_DIR, "
              "then the fetch cache).")
@click.option("--dpi", type=click.IntRange(30, 1200), default=150, show_default=True,
              help="Resolution of the PNG maps.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def diagnose_command(territory, millesime, out, offline_maps, demo, data_dir, dpi, quiet):
    """Write the diagnostic folder of one territory: page, maps, tables, provenance."""
    from qpvgeo.report import DEMO_TERRITORY, diagnose

    if territory is None and not demo:
        raise click.UsageError("--territory is required (or use --demo)")
    path = diagnose(territory or DEMO_TERRITORY, millesime=int(millesime), out=out,
                    data_dir=data_dir, demo=demo, offline_maps=offline_maps, dpi=dpi,
                    progress=not quiet)
    click.echo(f"{path / 'index.html'}")


@main.command()
@click.option("--demo", is_flag=True, help="Use the embedded synthetic demo territory.")
@click.option("--qpv", type=_INPUT, help="QPV contours (read_qpv).")
@click.option("--indicators", type=_INPUT,
              help="QPV populations / INSEE indicators (read_qpv_indicators).")
@click.option("--communes", type=_INPUT, help="Commune boundaries (read_communes).")
@click.option("--membership", type=_INPUT,
              help="QPV x commune list (read_qpv_communes): split a QPV only among these.")
@click.option("--population", type=_INPUT,
              help="INSEE populations légales by commune (read_commune_population).")
@click.option("--epci", type=_INPUT,
              help="DGCL EPCI membership (read_epci), needed for --level epci.")
@click.option("--movements", type=_INPUT,
              help="INSEE COG movements file: bring commune codes to its geography first.")
@click.option("--cog-year", type=click.IntRange(1943, 2100), default=None,
              help="COG year of the commune codes of --communes (with --movements).")
@click.option("--level", type=click.Choice(["commune", "epci", "departement", "region",
                                            "france"]), default="commune", show_default=True)
@click.option("--metropolitan-only", is_flag=True, help="Leave the overseas départements out.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="CSV to write (`;`, UTF-8 BOM, decimal comma). Default: print a table.")
def shares(demo, qpv, indicators, communes, membership, population, epci, movements, cog_year,
           level, metropolitan_only, out):
    """Population living in QPV, and its share, by commune, EPCI, département, region.

    A QPV over several communes is split by area (column ``estimation`` = True: an
    estimate); without --communes such a QPV is refused. The files and years of the
    numerator and the denominator are printed on stderr.
    """
    from pathlib import Path

    from qpvgeo.pipeline import shares_from_files

    table = shares_from_files(
        demo=demo, qpv=qpv, indicators=indicators, communes=communes, membership=membership,
        population=population, epci=epci, movements=movements, cog_year=cog_year,
        level=level, metropolitan_only=metropolitan_only,
    )
    years = table.attrs.get("millesimes") or {}
    described = [f"{col} from {Path(v['source']).name if v.get('source') else 'the demo'}"
                 + (f" ({v['annee']})" if v.get("annee") else "")
                 for col, v in years.items()]
    if described:
        click.echo("qpvgeo: " + "; ".join(described), err=True)
    if out:
        from qpvgeo.tables import write_csv

        write_csv(table, out)
        click.echo(f"{len(table)} rows written to {out}")
    else:
        shown = table.assign(part_qpv=(table["part_qpv"] * 100).round(1))
        click.echo(shown.rename(columns={"part_qpv": "part_qpv (%)"}).to_string())


@main.command("cog-year")
@click.argument("path", type=click.Path(exists=True))
@click.option("--movements", type=click.Path(dir_okay=False), required=True,
              help="INSEE commune movements (v_mvt_commune / mouvements_communes.csv).")
@click.option("--communes", "cog_communes", type=click.Path(dir_okay=False), default=None,
              help="INSEE list of communes of the same COG (v_commune / communes_cog.csv).")
@click.option("--column", default=None,
              help="Column of the commune codes (default: code_commune, code, insee_com, "
                   "codgeo, com…).")
@click.option("--evidence", is_flag=True, help="List the codes that prove the year.")
def cog_year_command(path, movements, cog_communes, column, evidence):
    """Which COG year the commune codes of PATH (table or vector file) belong to."""
    from qpvgeo.cog import detect_cog_year
    from qpvgeo.errors import SchemaError
    from qpvgeo.readers._common import (
        TABLE_SUFFIXES,
        find_column,
        read_table,
        read_vector,
        resolve_input,
    )
    from qpvgeo.readers.cog import read_cog_communes, read_cog_movements

    candidates = ("code_commune", "code", "insee_com", "codgeo", "com", "depcom", "cog",
                  "code_insee", "insee")
    src = resolve_input(path)
    if src.suffix.lower() in TABLE_SUFFIXES:
        frame = read_table(src, header_candidates=[column] if column else candidates)
    else:
        frame = read_vector(src)
    col = column if column in frame.columns else find_column(frame.columns,
                                                             [column] if column else candidates)
    if col is None:
        raise SchemaError(f"{src}: no commune-code column (looked for "
                          f"{[column] if column else list(candidates)}); columns present: "
                          f"{[c for c in frame.columns if c != 'geometry']}")
    found = detect_cog_year(
        frame[col].astype("string"), read_cog_movements(movements),
        communes=read_cog_communes(cog_communes) if cog_communes else None,
    )
    click.echo(f"{src.name} ({col}): {found}")
    if evidence and len(found.evidence):
        click.echo(found.evidence.to_string(index=False))


# -- qpvgeo locate: points (addresses, establishments, DPE) -> QPV ---------------------------


@main.command("locate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--geography", type=click.Choice(["2024", "2015", "both"]), default="2024",
              show_default=True, help="QPV geography to answer in.")
@click.option("--qpv2024", "qpv2024", default="qpv2024", show_default=True,
              help="QPV 2024 contours (file, or catalogue source name fetched on first use).")
@click.option("--qpv2015", "qpv2015", default="qpv2015", show_default=True,
              help="QPV 2015 contours (file, or catalogue source name fetched on first use).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=None,
              help="Metres around a QPV edge flagged as uncertain (default: 5 for 2015, "
              "20 for the simplified 2024 layer).")
@click.option("--max-distance", type=click.FloatRange(min=0), default=1000.0, show_default=True,
              help="Measure the distance to the nearest QPV up to this many metres.")
@click.option("--x", "x", default=None, help="Coordinate column x / longitude (unknown layout).")
@click.option("--y", "y", default=None, help="Coordinate column y / latitude (unknown layout).")
@click.option("--crs", default=None, help="CRS of --x/--y, e.g. EPSG:2154 or EPSG:4326.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Output file (.csv: `;`, UTF-8 BOM, decimal comma; .gpkg, .geojson, "
              ".parquet). Default: FILE with a _qpv suffix, same format.")
def locate_command(file, geography, qpv2024, qpv2015, tolerance, max_distance, x, y, crs, out):
    """Add the QPV of every point of FILE (BAN, SIRENE, DPE, Éducation nationale layouts)."""
    from pathlib import Path

    from qpvgeo.locate import locate_qpv, write_located
    from qpvgeo.readers.points import STATUT_COORDONNEES

    wanted = {"2024": [2024], "2015": [2015], "both": [2015, 2024]}[geography]
    layers = {m: {2015: qpv2015, 2024: qpv2024}[m] for m in wanted}
    src = Path(file)
    if out is None:
        out = src.with_name(f"{src.stem}_qpv{src.suffix}")
    if Path(out).resolve() == src.resolve():
        raise click.UsageError("--out must differ from FILE (the input is never overwritten)")
    result = locate_qpv(src, layers, tolerance=tolerance, max_distance=max_distance,
                        x=x, y=y, crs=crs)
    write_located(result, out)
    placed = result[STATUT_COORDONNEES] == "ok"
    parts = [f"{len(result)} rows ({int(placed.sum())} placed)"]
    for m in wanted:
        parts.append(f"{m}: {int(result[f'en_qpv_{m}'].sum())} in a QPV, "
                     f"{int(result[f'bord_qpv_{m}'].sum())} near an edge")
    click.echo("; ".join(parts) + f" -> {out}")


# -- qpvgeo crosswalk: what changed between the 2015 and 2024 geographies --------------------


@main.command("crosswalk")
@click.option("--qpv2015", "qpv2015", default="qpv2015", show_default=True,
              help="QPV 2015 contours (file, or catalogue source name fetched on first use).")
@click.option("--qpv2024", "qpv2024", default="qpv2024", show_default=True,
              help="QPV 2024 contours (file, or catalogue source name fetched on first use).")
@click.option("--departement", "departements", multiple=True, metavar="CODE",
              help="Keep the QPV of these départements (repeatable), e.g. 59 62.")
@click.option("--grid", type=click.Path(exists=True), default=None,
              help="Filosofi 200 m grid (read_filosofi_grid): inhabitants kept, added, left.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Per-QPV table (.csv: `;`, UTF-8 BOM, decimal comma).")
@click.option("--pairs", type=click.Path(dir_okay=False), default=None,
              help="Also write every (2015, 2024) pair with areas and shares to this CSV.")
def crosswalk_command(qpv2015, qpv2024, departements, grid, out, pairs):
    """Type every QPV (unchanged, enlarged, merged, new…) between 2015 and 2024."""
    from qpvgeo.crosswalk import crosswalk_summary, qpv_crosswalk
    from qpvgeo.readers import read_filosofi_grid, read_qpv
    from qpvgeo.tables import write_csv

    layers = [read_qpv(qpv2015), read_qpv(qpv2024)]
    if departements:
        layers = [q[q["code_departement"].isin(departements)] for q in layers]
    population = read_filosofi_grid(grid) if grid else None
    result = qpv_crosswalk(*layers, population=population)
    summary = crosswalk_summary(result)
    write_csv(summary["tableau"], out, index=False)
    if pairs:
        write_csv(result["paires"], pairs, index=False)
    figures = summary["chiffres"]
    click.echo(f"{figures['qpv_2015']} QPV 2015 -> {figures['qpv_2024']} QPV 2024 -> {out}")
    for row in summary["par_type"].itertuples():
        if row.qpv_2015 or row.qpv_2024:
            click.echo(f"  {row.libelle}: {row.qpv_2024} (2024), {row.qpv_2015} (2015)")
# -- qpvgeo assets: the web assets of the offline maps (H12) -----------------------------------
@main.command("assets")
@click.option("--mirror", default=None, help="Mirror base URL (default $QPVGEO_MIRROR).")
@click.option("--from", "source", default=None, metavar="DIR|file://…",
              help="Local folder holding the files (npm layout, e.g. node_modules).")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="Cache directory (default: the fetch cache).")
def assets_command(mirror, source, dest):
    """Fetch every web asset the offline maps inline (checked against pinned sha256)."""
    from qpvgeo.maps._assets import fetch_all_assets

    got = fetch_all_assets(mirror=mirror, source=source, cache=dest)
    click.echo(f"{len(got)} web assets in the cache; offline maps can be written.")
