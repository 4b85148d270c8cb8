"""Offline export: inline every script and stylesheet a Folium page references.

Folium pages load Leaflet & co. from CDNs (``cdn.jsdelivr.net``, ``code.jquery.com``);
office machines often cannot reach them (folium issues #1985 and #351). The offline
export replaces each ``<script src=…>`` and ``<link rel="stylesheet" href=…>`` by the
file's content, fetched once through :func:`qpvgeo.fetch.fetch_file` (cache, pinned
sha256, mirrors via ``mirror=`` or ``$QPVGEO_MIRROR``), so the HTML file opens and
works with no network at all.

What is inlined, and how
------------------------
- Every asset is pinned in :data:`ASSETS`: its CDN address, its sha256 and the npm
  package file that holds the same bytes (jsDelivr's ``/npm/`` route serves npm
  tarballs verbatim; ``code.jquery.com/jquery-3.7.1.min.js`` equals npm
  ``jquery@3.7.1/dist/jquery.min.js``, whose sha256 is the SRI hash jQuery publishes,
  ``/JqT3SQfawRcv/BIHPThkBvs0OEvtFFmqPF/lYI/Cxo=``). The tests serve these npm files from a
  loopback mirror; no third-party JavaScript is stored in this repository.
- Images referenced by a stylesheet with ``url(…)`` (Leaflet's layer-control icons, the
  fullscreen button) are pinned too and inlined as ``data:`` URIs. ``url(#default#VML)``
  (an Internet Explorer behaviour, never requested by a browser) and ``data:`` URIs are
  kept as they are.
- Leaflet's default marker images (``marker-icon-2x.png``, ``marker-shadow.png``) are
  loaded by JavaScript, not CSS, so they are not inlined: qpvgeo draws points as circle
  markers, which need no image.
- Source-map comments are removed: a browser would request the ``.map`` file next to
  the HTML file when developer tools are open.
- An asset that is not pinned raises :class:`~qpvgeo.errors.QpvgeoError` naming its
  address, rather than leaving a page that silently needs the network. Folium's icon
  assets (awesome-markers, glyphicons, Font Awesome) are deliberately not pinned:
  ``qpv_map`` does not reference them, and the files cdnjs/netdna serve have no
  byte-identical npm release to check them against.
- ``</script`` and ``</style`` inside an inlined file are escaped (``<\\/script``) so the
  file cannot close its own element early.

Examples
--------
>>> sorted({a.npm.split("@")[0] for a in ASSETS.values()})
['bootstrap', 'jquery', 'leaflet', 'leaflet.fullscreen']
"""

from __future__ import annotations

import base64
import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from qpvgeo.errors import QpvgeoError


@dataclass(frozen=True)
class Asset:
    """One pinned web asset.

    Attributes
    ----------
    url : str
        Address the folium page references (or a stylesheet points to).
    sha256 : str
        Hex sha256 of the file's bytes.
    media_type : str
        MIME type, used for ``data:`` URIs.
    npm : str
        ``package@version/path`` of the npm file with the same bytes.
    """

    url: str
    sha256: str
    media_type: str
    npm: str


_JSD = "https://cdn.jsdelivr.net/npm/"

#: Pinned assets, by the address the page (or a stylesheet) references.
ASSETS: dict[str, Asset] = {
    a.url: a
    for a in (
        Asset(_JSD + "leaflet@1.9.3/dist/leaflet.js",
              "5819285cec137b229c94e1ee5ad73e8b6b84345a4367d60f75fe477fe0fb7b03",
              "text/javascript", "leaflet@1.9.3/dist/leaflet.js"),
        Asset(_JSD + "leaflet@1.9.3/dist/leaflet.css",
              "90b693d86392a4779c861b28cf307e7e59c3fb35328c4d8b95f58f814d38c722",
              "text/css", "leaflet@1.9.3/dist/leaflet.css"),
        Asset(_JSD + "leaflet@1.9.3/dist/images/layers.png",
              "1dbbe9d028e292f36fcba8f8b3a28d5e8932754fc2215b9ac69e4cdecf5107c6",
              "image/png", "leaflet@1.9.3/dist/images/layers.png"),
        Asset(_JSD + "leaflet@1.9.3/dist/images/layers-2x.png",
              "066daca850d8ffbef007af00b06eac0015728dee279c51f3cb6c716df7c42edf",
              "image/png", "leaflet@1.9.3/dist/images/layers-2x.png"),
        Asset(_JSD + "leaflet@1.9.3/dist/images/marker-icon.png",
              "574c3a5cca85f4114085b6841596d62f00d7c892c7b03f28cbfa301deb1dc437",
              "image/png", "leaflet@1.9.3/dist/images/marker-icon.png"),
        Asset("https://code.jquery.com/jquery-3.7.1.min.js",
              "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a",
              "text/javascript", "jquery@3.7.1/dist/jquery.min.js"),
        Asset(_JSD + "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
              "c4b2394a30fa0e4a23c6b308541353e20872a6fd765ed8fb70e6b402029deb00",
              "text/javascript", "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js"),
        Asset(_JSD + "bootstrap@5.2.2/dist/css/bootstrap.min.css",
              "2143941c03dacda8b4f1016ced6e0c6f34e5c04585a3bcffe33c3c626c448a4a",
              "text/css", "bootstrap@5.2.2/dist/css/bootstrap.min.css"),
        # Folium's Fullscreen plugin asks for Control.FullScreen.min.js, a file jsDelivr
        # minifies on the fly (it is not in the npm package, so its bytes cannot be
        # pinned); qpv_map points the plugin at the published, unminified file instead.
        Asset(_JSD + "leaflet.fullscreen@3.0.0/Control.FullScreen.js",
              "3c542b5d5844cc00cff2787dff49504a31f3bed9de3161e5b26e0c0437d6bbb7",
              "text/javascript", "leaflet.fullscreen@3.0.0/Control.FullScreen.js"),
        Asset(_JSD + "leaflet.fullscreen@3.0.0/Control.FullScreen.css",
              "31f9593e6e715114e23076ba11628f68a301025b44b85ffb70fca4bc9475214e",
              "text/css", "leaflet.fullscreen@3.0.0/Control.FullScreen.css"),
        Asset(_JSD + "leaflet.fullscreen@3.0.0/icon-fullscreen.svg",
              "034807095346f7be3b9d5b2add42ba0677af1a89d2f90a0caa5c75ec2780a2a2",
              "image/svg+xml", "leaflet.fullscreen@3.0.0/icon-fullscreen.svg"),
    )
}

#: The unminified fullscreen script (see the note in :data:`ASSETS`).
FULLSCREEN_JS = _JSD + "leaflet.fullscreen@3.0.0/Control.FullScreen.js"
FULLSCREEN_CSS = _JSD + "leaflet.fullscreen@3.0.0/Control.FullScreen.css"

# The exact markup branca renders for JavascriptLink and CssLink.
_SCRIPT_TAG = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>', re.IGNORECASE)
_LINK_TAG = re.compile(
    r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>', re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<ref>[^'")]+)(?P=q)\s*\)""")
_SOURCE_MAP = re.compile(r"^\s*(//|/\*)\s*[#@]\s*sourceMappingURL=[^\n]*$", re.MULTILINE)
# Any element attribute still pointing at the network after inlining.
_REMOTE_REF = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\s(?:src|href|data)\s*=\s*"
    r"""["']?(?P<url>(?:https?:)?//[^"'\s>]+)""",
    re.IGNORECASE,
)


def _unpinned(url: str | list[str], where: str) -> QpvgeoError:
    pinned = "\n  ".join(
        sorted(u for u, a in ASSETS.items() if not a.media_type.startswith("image"))
    )
    urls = [url] if isinstance(url, str) else url
    what = f"{urls[0]} ({where}) is not a pinned asset" if len(urls) == 1 else (
        f"{len(urls)} assets ({where}) are not pinned: {', '.join(urls)};"
    )
    return QpvgeoError(
        f"offline export: {what}, so it cannot be inlined and checked. Remove them from "
        f"the map (m.default_js / m.default_css) if the map does not use them, or save "
        f"with offline=False. Pinned assets:\n  {pinned}"
    )


def fetch_asset(
    url: str, *, mirror: str | None = None, cache: str | os.PathLike | None = None
) -> bytes:
    """Bytes of a pinned asset, downloaded once into the cache and checked.

    Parameters
    ----------
    url : str
        An address in :data:`ASSETS`.
    mirror : str, optional
        Mirror base URL (``{mirror}/{host}/{path}``); default ``$QPVGEO_MIRROR``.
    cache : path, optional
        Cache root; default :func:`qpvgeo.fetch.cache_dir`.

    Raises
    ------
    QpvgeoError
        ``url`` is not pinned; :class:`~qpvgeo.errors.FetchError` /
        :class:`~qpvgeo.errors.ChecksumError` from the download.

    Examples
    --------
    >>> fetch_asset("https://example.org/x.js")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qpvgeo.errors.QpvgeoError: offline export: https://example.org/x.js ...
    """
    asset = ASSETS.get(url)
    if asset is None:
        raise _unpinned(url, "requested")
    # Through importlib: the package namespace re-exports a function named ``fetch``,
    # which shadows the ``qpvgeo.fetch`` module as an attribute of ``qpvgeo``.
    fetch_file = importlib.import_module("qpvgeo.fetch").fetch_file
    path = fetch_file(url, sha256=asset.sha256, dest=cache, mirror=mirror, progress=False)
    return Path(path).read_bytes()


def _inline_css_urls(css: str, base: str, *, mirror: str | None, cache) -> str:
    def repl(match: re.Match) -> str:
        ref = match.group("ref").strip()
        if ref.startswith(("data:", "#")):
            return match.group(0)
        absolute = urljoin(base, ref)
        asset = ASSETS.get(absolute)
        if asset is None:
            raise _unpinned(absolute, f"referenced by {base}")
        data = base64.b64encode(fetch_asset(absolute, mirror=mirror, cache=cache)).decode()
        return f'url("data:{asset.media_type};base64,{data}")'

    return _CSS_URL.sub(repl, css)


def _script_text(url: str, *, mirror, cache) -> str:
    text = fetch_asset(url, mirror=mirror, cache=cache).decode("utf-8")
    text = _SOURCE_MAP.sub("", text)
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def _style_text(url: str, *, mirror, cache) -> str:
    text = fetch_asset(url, mirror=mirror, cache=cache).decode("utf-8")
    text = _SOURCE_MAP.sub("", text)
    text = _inline_css_urls(text, url, mirror=mirror, cache=cache)
    return re.sub(r"</(style)", r"<\\/\1", text, flags=re.IGNORECASE)


def inline_assets(
    html: str, *, mirror: str | None = None, cache: str | os.PathLike | None = None
) -> str:
    """Return ``html`` with every external script and stylesheet inlined.

    Parameters
    ----------
    html : str
        A rendered folium page (``m.get_root().render()``).
    mirror, cache
        See :func:`fetch_asset`.

    Raises
    ------
    QpvgeoError
        A referenced asset is not pinned, or an element still points at the network
        after inlining (an image, an iframe…): the message names the address.

    Examples
    --------
    >>> inline_assets("<p>no asset</p>")
    '<p>no asset</p>'
    """
    def script(m: re.Match) -> str:
        body = _script_text(m.group("url"), mirror=mirror, cache=cache)
        return f"<script>/* {m.group('url')} */\n{body}\n</script>"

    def style(m: re.Match) -> str:
        body = _style_text(m.group("url"), mirror=mirror, cache=cache)
        return f"<style>/* {m.group('url')} */\n{body}\n</style>"

    # Check every address before downloading anything, so that an unpinned asset
    # fails fast with the full picture.
    unknown = [m.group("url") for m in [*_SCRIPT_TAG.finditer(html), *_LINK_TAG.finditer(html)]
               if m.group("url") not in ASSETS]
    if unknown:
        raise _unpinned(unknown, "referenced by the page")
    # Scanned without the tags being inlined, so that text inside a library is not
    # mistaken for markup of the page.
    rest = _LINK_TAG.sub("", _SCRIPT_TAG.sub("", html))
    left = [m.group("url") for m in _REMOTE_REF.finditer(rest)]
    if left:
        raise QpvgeoError(
            "offline export: the page still loads "
            f"{len(left)} resource(s) from the network: {sorted(set(left))[:5]}"
        )
    out = _SCRIPT_TAG.sub(script, html)
    return _LINK_TAG.sub(style, out)


def _npm_file(asset: Asset, folder: Path) -> Path | None:
    """Where a local folder holds an asset: npm layout (``leaflet@1.9.3/dist/leaflet.js``
    as ``leaflet/dist/leaflet.js``, a ``node_modules`` folder or its parent works), or
    the CDN layout of a mirror (``cdn.jsdelivr.net/npm/leaflet@1.9.3/…``)."""
    from urllib.parse import urlsplit

    package_at, _, rest = asset.npm.partition("/")
    package = package_at.rsplit("@", 1)[0] if not package_at.startswith("@") else package_at
    parts = urlsplit(asset.url)
    candidates = [
        folder / package / rest, folder / "node_modules" / package / rest,
        folder / package_at / rest,
        folder / parts.netloc / parts.path.lstrip("/"),
    ]
    return next((c for c in candidates if c.is_file()), None)


def fetch_all_assets(
    *, mirror: str | None = None, source: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Fetch every pinned asset into the cache at once (``qpvgeo assets``).

    Parameters
    ----------
    mirror : str, optional
        Mirror base URL (default ``$QPVGEO_MIRROR``), as for the data.
    source : path or ``file://`` URL, optional
        A local folder holding the files instead (npm layout — ``node_modules`` from
        ``npm ci`` of ``tests/web_assets`` — or a mirror's ``<host>/<path>`` layout);
        each file is checked against its pinned sha256 before it enters the cache.
    cache : path, optional
        Cache root; default :func:`qpvgeo.fetch.cache_dir`.

    Returns
    -------
    dict
        Address -> cached file.

    Raises
    ------
    QpvgeoError
        One message listing **every** asset that could not be had, and why.

    Examples
    --------
    >>> import tempfile
    >>> fetch_all_assets(source=tempfile.mkdtemp(), cache=tempfile.mkdtemp())
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qpvgeo.errors.QpvgeoError: 11 web asset(s) missing...
    """
    import hashlib
    import shutil
    from urllib.parse import unquote, urlsplit

    fetch = importlib.import_module("qpvgeo.fetch")
    root = Path(cache).expanduser() if cache is not None else fetch.cache_dir()
    folder = None
    if source is not None:
        text = str(source)
        folder = Path(unquote(urlsplit(text).path)) if text.startswith("file:") else Path(text)
        folder = folder.expanduser()
    got: dict[str, Path] = {}
    failed: list[str] = []
    for url, asset in ASSETS.items():
        try:
            if folder is not None:
                found = _npm_file(asset, folder)
                if found is None:
                    raise QpvgeoError(f"not in {folder} (looked for {asset.npm})")
                digest = hashlib.sha256(found.read_bytes()).hexdigest()
                if digest != asset.sha256:
                    raise QpvgeoError(f"{found}: sha256 {digest[:12]}…, expected "
                                      f"{asset.sha256[:12]}…")
                target = fetch._target_path(url, root, None, None)
                target.parent.mkdir(parents=True, exist_ok=True)
                from qpvgeo._atomic import atomic_path

                with atomic_path(target) as tmp:
                    shutil.copyfile(found, tmp)
            got[url] = Path(fetch.fetch_file(url, sha256=asset.sha256, dest=root,
                                             mirror=mirror, progress=False))
        except Exception as exc:  # every failure is collected, then reported at once
            failed.append(f"  {url}: {type(exc).__name__}: {exc}")
    if failed:
        raise QpvgeoError(
            f"{len(failed)} web asset(s) missing for the offline maps (of {len(ASSETS)}):\n"
            + "\n".join(failed)
            + "\nGive a mirror (--mirror or $QPVGEO_MIRROR) or a folder holding them "
              "(--from DIR: `npm ci --prefix tests/web_assets` makes one)."
        )
    return got


def assets_available(*, cache: str | os.PathLike | None = None) -> bool:
    """True when every pinned asset is already in the cache (no network needed).

    Examples
    --------
    >>> import tempfile
    >>> assets_available(cache=tempfile.mkdtemp())
    False
    """
    fetch = importlib.import_module("qpvgeo.fetch")
    root = Path(cache).expanduser() if cache is not None else fetch.cache_dir()
    return all(fetch._target_path(u, root, None, None).is_file() for u in ASSETS)
