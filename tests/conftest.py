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


CHROMIUM = "/usr/bin/chromium"  # Debian's package; never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip a test whose prerequisite is missing; under CI that is a failure."""
    if _under_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def importorskip_or_fail(module: str, *, reason: str | None = None):
    """``pytest.importorskip`` for a declared test dependency: under CI its absence fails.

    Use it in tests instead of ``pytest.importorskip`` whenever the package is declared
    in ``pyproject.toml`` / ``environment.yml``: a green CI then means the test ran.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        skip_or_fail(reason or f"the test dependency {module!r} is not installed ({exc})")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real public data; skips (fails under CI) when it is absent."""
    path = _shared_data_dir()
    if not (path / "README.md").is_file():
        reason = (
            f"real data folder not found at {path} "
            "(set QPVGEO_TEST_DATA or place shared/ beside the repository)"
        )
        skip_or_fail(reason)
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


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, driven by Playwright) for the whole run."""
    from pathlib import Path as _Path

    if not _Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
