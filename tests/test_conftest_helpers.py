"""The test helpers themselves: a missing declared dependency fails under CI."""

from __future__ import annotations

import pytest
from conftest import importorskip_or_fail, skip_or_fail


def test_a_missing_test_dependency_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="qpvgeo_no_such_module"):
        importorskip_or_fail("qpvgeo_no_such_module")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but .*qpvgeo_no_such_module"):
        importorskip_or_fail("qpvgeo_no_such_module")
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail("real data absent")


def test_a_present_dependency_is_returned():
    assert importorskip_or_fail("json").dumps([1]) == "[1]"
