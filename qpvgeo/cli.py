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
