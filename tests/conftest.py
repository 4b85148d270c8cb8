"""Shared fixtures: where the real public data lives, and tiny hand-made geometries.

The real files sit beside the repository in ``../shared/data`` (or wherever
``QPVGEO_TEST_DATA`` points). Without them a real-data test skips with the reason,
except under CI (``CI=true``), where their absence is a failure: a green CI must mean the
numbers were checked against the real files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("QPVGEO_TEST_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real public data; skips (fails under CI) when it is absent."""
    path = _shared_data_dir()
    if not (path / "README.md").is_file():
        reason = (
            f"real data folder not found at {path} "
            "(set QPVGEO_TEST_DATA or place shared/ beside the repository)"
        )
        if _under_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return path


def pytest_collection_modifyitems(config, items):
    # Tests that use the real-data fixture carry the marker, so `-m real_data` selects them.
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)


@pytest.fixture(autouse=True, scope="session")
def _isolated_download_cache(tmp_path_factory):
    """No test reads or fills the analyst's own download cache (tests may override it)."""
    previous = os.environ.get("QPVGEO_DATA_DIR")
    os.environ["QPVGEO_DATA_DIR"] = str(tmp_path_factory.mktemp("qpvgeo-cache"))
    yield
    if previous is None:
        os.environ.pop("QPVGEO_DATA_DIR", None)
    else:
        os.environ["QPVGEO_DATA_DIR"] = previous
