"""HTTP downloads: streaming under a read timeout, an overall deadline and a minimum
rate; retries with backoff; one-line reasons for failures."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from qpvgeo._atomic import atomic_path
from qpvgeo.errors import ChecksumError, DataFormatError, FetchError

if TYPE_CHECKING:
    pass

from qpvgeo.fetch._lock import _sha256
from qpvgeo.fetch._validate import _html_type, _web_page, validate_download

#: Environment variable giving a mirror base URL (see the module docstring).
ENV_MIRROR = "QPVGEO_MIRROR"
#: Seconds without a byte from the server before a download is abandoned.
DEFAULT_TIMEOUT = 60.0
#: Environment variable: seconds a whole download may take (overall deadline).
ENV_DEADLINE = "QPVGEO_DEADLINE"
#: Default overall deadline of one download attempt, in seconds.
DEFAULT_DEADLINE = 7200.0
#: Environment variable: slowest acceptable average transfer rate, bytes per second.
ENV_MIN_RATE = "QPVGEO_MIN_RATE"
#: Default minimum average rate (bytes/s), checked once ``RATE_GRACE`` seconds have passed.
DEFAULT_MIN_RATE = 1024.0
#: Seconds before the minimum rate is enforced (slow starts, TCP ramp-up).
RATE_GRACE = 30.0
#: Extra attempts after a failed download (so 1 + DEFAULT_RETRIES in all).
DEFAULT_RETRIES = 3
#: First wait between attempts, in seconds; doubled after each failure.
DEFAULT_BACKOFF = 1.0

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = "qpvgeo (+https://github.com/qpvgeo/qpvgeo)"
_CHUNK = 1 << 16


def _by_hand(url: str, target: Path) -> str:
    return (
        f"If this machine cannot reach it, download {url} by other means and save it "
        f"as {target}; qpvgeo will find it there. Behind a proxy, set HTTPS_PROXY / "
        f"HTTP_PROXY; with an internal mirror, use --mirror or ${ENV_MIRROR}."
    )


def _describe(exc: Exception, timeout: float) -> tuple[str, bool]:
    """One-line reason for a failed attempt, and whether another attempt may help."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        return f"HTTP {status} {exc.response.reason or ''}".strip(), status in _RETRY_STATUS
    if isinstance(exc, requests.exceptions.ProxyError):
        # A refusal (403, 407) does not change on retry; check HTTPS_PROXY and credentials.
        text = str(exc)
        found = re.search(r"Tunnel connection failed: [^'\")]*|\[Errno -?\d+\][^'\")]*", text)
        return (
            f"the proxy refused or failed the connection ({found.group(0) if found else text}; "
            "check HTTPS_PROXY / HTTP_PROXY and the proxy's credentials)",
            False,
        )
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return f"no answer within the {timeout:g} s timeout", True
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the connection closed before the end of the file ({exc})", True
    if isinstance(exc, requests.exceptions.ConnectionError):
        # urllib3 nests the useful part ("[Errno 111] Connection refused", "Failed to
        # resolve 'host'") deep inside a long repr.
        text = str(exc)
        found = re.search(r"(\[Errno -?\d+\][^'\")]*|Failed to resolve '[^']*')", text)
        return f"could not connect ({found.group(1).strip() if found else text})", True
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects (a redirect loop at the server or a proxy)", False
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return f"invalid URL ({exc})", False
    return f"{type(exc).__name__}: {exc}", True


class _TooSlow(Exception):
    """An attempt went past the deadline or under the minimum rate (retried)."""


def _stream(
    download_url: str, tmp: Path, *, timeout: float, deadline: float, min_rate: float,
    bar, expect,
) -> None:
    """One attempt: stream ``download_url`` into ``tmp`` under the three limits."""
    import requests
    import urllib3

    started = time.monotonic()
    with requests.get(download_url, stream=True, timeout=(timeout, timeout),
                      headers={"User-Agent": _USER_AGENT}) as response:
        response.raise_for_status()
        content_type = response.headers.get("Content-Type", "")
        if expect is not None and expect.file_kind != "html" and _html_type(content_type):
            # Known before reading the body: a portal or proxy page, not the file.
            raise DataFormatError(_web_page(download_url, f"Content-Type {content_type}"))
        total = response.headers.get("Content-Length")
        if bar is not None and total and total.isdigit():
            bar.reset(total=int(total))
        got = 0
        with open(tmp, "wb") as out:
            while True:
                try:
                    # read1 returns what one read brings: a drip of bytes still comes
                    # back here, so the deadline and the rate are checked.
                    chunk = response.raw.read1(_CHUNK, decode_content=True)
                except urllib3.exceptions.ReadTimeoutError as exc:
                    raise requests.exceptions.ConnectionError(
                        f"no data for {timeout:g} s, read timed out"
                    ) from exc
                except urllib3.exceptions.ProtocolError as exc:
                    raise requests.exceptions.ChunkedEncodingError(exc) from exc
                if not chunk:
                    break
                out.write(chunk)
                got += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                elapsed = time.monotonic() - started
                if elapsed > deadline:
                    raise _TooSlow(
                        f"not finished within the {deadline:g} s deadline ({got:,} bytes "
                        f"received; raise it with --deadline or ${ENV_DEADLINE})"
                    )
                grace = min(RATE_GRACE, deadline)
                if min_rate and elapsed > grace and got / elapsed < min_rate:
                    raise _TooSlow(
                        f"too slow: {got / elapsed:,.0f} bytes/s on average over {elapsed:.0f} s, "
                        f"below the minimum {min_rate:,.0f} bytes/s (--min-rate or "
                        f"${ENV_MIN_RATE})"
                    )


def _download(
    url: str,
    download_url: str,
    target: Path,
    *,
    expected: str | None,
    mismatch: str,
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
    deadline: float = DEFAULT_DEADLINE,
    min_rate: float = DEFAULT_MIN_RATE,
    expect=None,
) -> tuple[str, int]:
    """Download to a temporary file, validate, check the hash, rename; return (sha256, size)."""
    import requests
    from tqdm.auto import tqdm

    reason = ""
    for attempt in range(retries + 1):
        bar = tqdm(
            desc=target.name, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
            disable=not progress,
        )
        try:
            with atomic_path(target) as tmp:
                _stream(download_url, tmp, timeout=timeout, deadline=deadline,
                        min_rate=min_rate, bar=bar if progress else None, expect=expect)
                # Raised inside the block: atomic_path removes the temporary file, so
                # nothing unchecked reaches the cache or the lock file.
                if expect is not None:
                    validate_download(tmp, expect, url=download_url)
                sha, size = _sha256(tmp), tmp.stat().st_size
                if expected is not None and sha != expected.lower():
                    raise ChecksumError(mismatch.format(sha=sha, size=size))
            return sha, size
        except DataFormatError as exc:
            raise FetchError(f"{exc} Nothing was saved. {_by_hand(url, target)}") from exc
        except (requests.exceptions.RequestException, _TooSlow) as exc:
            reason, retry = (str(exc), True) if isinstance(exc, _TooSlow) else (
                _describe(exc, timeout)
            )
            if not retry or attempt == retries:
                break
            time.sleep(backoff * 2**attempt)
        except OSError as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"{download_url}: could not write {target}: {exc}") from exc
        finally:
            bar.close()
    via = f" (from the mirror address {download_url})" if download_url != url else ""
    tries = f" after {attempt + 1} attempts" if attempt else ""
    raise FetchError(
        f"could not download {url}{via}{tries}: {reason}. {_by_hand(url, target)}"
    )


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FetchError(f"${name}={raw!r} is not a number") from None
    if not (value >= 0 and value < float("inf")):
        raise FetchError(f"${name}={raw!r} must be a finite number >= 0")
    return value


def _settings(
    mirror: str | None, timeout: float | None, retries: int | None, backoff: float | None
) -> tuple[str | None, float, int, float]:
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
    out = (
        mirror,
        DEFAULT_TIMEOUT if timeout is None else float(timeout),
        DEFAULT_RETRIES if retries is None else int(retries),
        DEFAULT_BACKOFF if backoff is None else float(backoff),
    )
    if not out[1] > 0 or out[2] < 0 or out[3] < 0:
        raise FetchError(
            f"timeout must be > 0 and retries, backoff >= 0 (got {out[1]}, {out[2]}, {out[3]})"
        )
    return out


def _limits(deadline: float | None, min_rate: float | None) -> tuple[float, float]:
    deadline = _env_float(ENV_DEADLINE, DEFAULT_DEADLINE) if deadline is None else deadline
    min_rate = _env_float(ENV_MIN_RATE, DEFAULT_MIN_RATE) if min_rate is None else min_rate
    if not deadline > 0 or not min_rate >= 0:
        raise FetchError(f"deadline must be > 0 and min_rate >= 0 (got {deadline}, {min_rate})")
    return float(deadline), float(min_rate)


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in {"http", "https"}:
        raise FetchError(
            f"{url}: unsupported address (scheme {scheme or 'missing'!r}); qpvgeo downloads "
            "http:// and https:// addresses only. Nothing was tried."
        )


