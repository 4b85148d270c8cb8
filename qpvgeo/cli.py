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
@click.option("--offline-maps", is_flag=True,
              help="Inline the interactive map's scripts and styles (opens with no network).")
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
