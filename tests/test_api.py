"""The public API: flat, complete, documented with an example on every function."""

from __future__ import annotations

import inspect

import pytest

import qpvgeo


def _public_callables():
    for name in qpvgeo.__all__:
        obj = getattr(qpvgeo, name)
        if inspect.isfunction(obj):
            yield name, obj


def test_every_name_in___all___resolves():
    missing = [n for n in qpvgeo.__all__ if not hasattr(qpvgeo, n)]
    assert missing == []
    assert len(qpvgeo.__all__) == len(set(qpvgeo.__all__))


@pytest.mark.parametrize(("name", "func"), list(_public_callables()))
def test_public_function_has_numpydoc_with_example(name, func):
    doc = inspect.getdoc(func) or ""
    assert "Examples\n--------" in doc, f"{name}: no Examples section"
    assert ">>>" in doc, f"{name}: the Examples section has no example"
    params = [p for p in inspect.signature(func).parameters.values()
              if p.kind is not p.VAR_KEYWORD and p.kind is not p.VAR_POSITIONAL]
    if params:
        assert "Parameters\n----------" in doc or len(params) <= 1, f"{name}: no Parameters"


def test_errors_share_one_base_class():
    for name in ("DataFormatError", "SchemaError", "MissingCRSError", "DuplicateCodeError",
                 "MixedMillesimeError", "FetchError", "ChecksumError", "UnsafeArchiveError"):
        assert issubclass(getattr(qpvgeo, name), qpvgeo.QpvgeoError)


def test_readme_names_only_functions_that_exist():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"qpvgeo\.([a-z_]+)\(", readme))
    assert named, "the README's API tour names no function"
    assert sorted(n for n in named if not hasattr(qpvgeo, n)) == []
