"""The ``qpvgeo`` command line: thin wrappers that parse, call the library and print.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--version"]).output.startswith("qpvgeo")
True
"""

from __future__ import annotations

import sys

import click

from qpvgeo import __version__
from qpvgeo.errors import QpvgeoError


class _Group(click.Group):
    """Turn qpvgeo's own errors into a one-line message and exit code 1, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except QpvgeoError as exc:
            click.echo(f"qpvgeo: error: {exc}", err=True)
            sys.exit(1)


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
@click.option("--timeout", type=float, default=None, help="Seconds without data before giving up.")
@click.option("--retries", type=int, default=None, help="Extra attempts after a failure.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fetch_command(names, all_sources, dest, mirror, refresh, timeout, retries, quiet):
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
                         timeout=timeout, retries=retries)
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
    """List the official sources qpvgeo knows: publisher, millésime, licence, address."""
    from qpvgeo.sources import sources_table

    table = sources_table()
    columns = ["name", "publisher", "millesime", "licence", "title"]
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
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Local data directory (layout: see qpvgeo.report; default $QPVGEO_DATA_DIR, "
              "then the fetch cache).")
@click.option("--dpi", type=int, default=150, show_default=True, help="Resolution of the PNG maps.")
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
@click.option("--qpv", type=click.Path(dir_okay=False), help="QPV contours (read_qpv).")
@click.option("--indicators", type=click.Path(dir_okay=False),
              help="QPV populations / INSEE indicators (read_qpv_indicators).")
@click.option("--communes", type=click.Path(), help="Commune boundaries (read_communes).")
@click.option("--membership", type=click.Path(dir_okay=False),
              help="QPV x commune list (read_qpv_communes): split a QPV only among these.")
@click.option("--population", type=click.Path(dir_okay=False),
              help="INSEE populations légales by commune (read_commune_population).")
@click.option("--epci", type=click.Path(dir_okay=False),
              help="DGCL EPCI membership (read_epci), needed for --level epci.")
@click.option("--movements", type=click.Path(dir_okay=False),
              help="INSEE COG movements file: bring commune codes to its geography first.")
@click.option("--cog-year", type=int, default=None,
              help="COG year of the commune codes of --communes (with --movements).")
@click.option("--level", type=click.Choice(["commune", "epci", "departement", "region",
                                            "france"]), default="commune", show_default=True)
@click.option("--metropolitan-only", is_flag=True, help="Leave the overseas départements out.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="CSV to write (`;`, UTF-8 BOM, decimal comma). Default: print a table.")
def shares(demo, qpv, indicators, communes, membership, population, epci, movements, cog_year,
           level, metropolitan_only, out):
    """Population living in QPV, and its share, by commune, EPCI, département, region."""
    from qpvgeo.pipeline import shares_from_files

    table = shares_from_files(
        demo=demo, qpv=qpv, indicators=indicators, communes=communes, membership=membership,
        population=population, epci=epci, movements=movements, cog_year=cog_year,
        level=level, metropolitan_only=metropolitan_only,
    )
    if out:
        from qpvgeo.tables import write_csv

        write_csv(table, out)
        click.echo(f"{len(table)} rows written to {out}")
    else:
        shown = table.assign(part_qpv=(table["part_qpv"] * 100).round(1))
        click.echo(shown.rename(columns={"part_qpv": "part_qpv (%)"}).to_string())


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
