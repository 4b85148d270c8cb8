"""``python -m qpvgeo``: the same command line as ``qpvgeo``."""

from qpvgeo.cli import main

main(prog_name="qpvgeo")
