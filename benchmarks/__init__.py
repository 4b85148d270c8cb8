"""Benchmarks of qpvgeo at national scale against the tools an analyst would otherwise use.

``python -m benchmarks.run`` generates (once, cached) synthetic national inputs in the
official layouts with :mod:`benchmarks.generate`, then times each case in its own process.
"""
