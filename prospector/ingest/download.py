"""Download files from official sources into a local, checksummed cache.

:func:`fetch_file` wraps :func:`pooch.retrieve` (cache layout, atomic move into
place, SHA-256 verification) and adds what Prospector needs on top of it:

* a downloader that resumes an interrupted download from ``<name>.part`` with an
  HTTP ``Range`` request;
* retries with exponential back-off for dropped connections, timeouts and
  server errors (HTTP 5xx, 408, 429).  ``pooch.retrieve`` never retries, and the
  ``retry_if_failed`` option of :func:`pooch.create` retries every
  ``RequestException`` *and* every checksum mismatch (including HTTP 404s) with
  a fixed, linear sleep, so Prospector runs its own loop instead;
* errors that are :class:`~prospector.errors.FetchError` and say what to do.

Nothing touches the network at import time.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import unquote, urlsplit

import pooch
import requests

from prospector.errors import ConfigError, FetchError, OutputWriteError
from prospector.ingest._http import describe_failure, is_retryable_status, retry_after_s

__all__ = ["CACHE_ENV_VAR", "default_cache_dir", "fetch_file"]

#: Environment variable that overrides the default cache directory.
CACHE_ENV_VAR: Final = "PROSPECTOR_CACHE"

_CHUNK_BYTES: Final = 64 * 1024
_USER_AGENT: Final = "prospector-fetch (python-requests)"
_NOT_RETRYABLE_REQUEST_ERRORS: Final = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.TooManyRedirects,
)
_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")

_logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the directory where downloads are cached.

    Returns
    -------
    pathlib.Path
        ``$PROSPECTOR_CACHE`` when that environment variable is set and not
        empty, otherwise the operating system's user cache directory for
        ``prospector`` (for example ``~/.cache/prospector`` on Linux), as given
        by :func:`pooch.os_cache`.  The directory is not created.
    """
    override = os.environ.get(CACHE_ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(pooch.os_cache("prospector"))


def fetch_file(
    url: str,
    *,
    cache_dir: str | os.PathLike[str] | None,
    sha256: str | None = None,
    filename: str | None = None,
    timeout_s: float = 30.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    progress: bool | Callable[[int, int | None], None] = False,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` address of the file.
    cache_dir : str, os.PathLike or None
        Cache directory; created if missing.  ``None`` means
        :func:`default_cache_dir`.
    sha256 : str, optional
        Expected SHA-256 of the file, as 64 hex digits (optionally prefixed
        ``"sha256:"``).  A cached file is reused only if it matches; a download
        that does not match is deleted and :class:`FetchError` is raised.
        Without it, any cached file of the same name is reused as is.
    filename : str, optional
        Name of the file inside ``cache_dir``.  Defaults to the last part of the
        URL path prefixed with a short hash of the whole URL, so that different
        URLs never collide.
    timeout_s : float, default 30.0
        Seconds to wait for the connection and between received bytes.
    retries : int, default 3
        How many times to retry after a dropped connection, a timeout or an
        HTTP 5xx/408/429 reply (so at most ``retries + 1`` attempts).
    backoff_s : float, default 0.5
        Sleep before the first retry; doubled before each further retry.
    progress : bool or callable, default False
        ``True`` shows a progress bar (needs the optional ``tqdm`` package and is
        silently skipped without it); a callable is called as
        ``progress(bytes_received, bytes_expected_or_None)`` as data arrives.

    Returns
    -------
    pathlib.Path
        Absolute path of the cached file.

    Raises
    ------
    FetchError
        The download failed after all attempts, the server answered with a
        client error (4xx), or the checksum did not match.
    ConfigError
        An argument is invalid (URL scheme, checksum format, file name, ...).

    Notes
    -----
    Bytes are first written to ``<filename>.part`` in ``cache_dir``.  When a
    transfer breaks, the next attempt (or the next call) asks the server only
    for the missing bytes (``Range: bytes=N-``); if the server ignores the
    range and sends the whole file, the partial file is overwritten.  The file
    appears under its final name only once complete and verified.
    """
    _check_url(url)
    known_hash = _normalise_sha256(sha256)
    name = _cache_name(url, filename)
    if not timeout_s > 0:
        raise ConfigError(f"timeout_s must be > 0 seconds, got {timeout_s!r}.")
    if retries < 0:
        raise ConfigError(f"retries must be >= 0, got {retries!r}.")
    if backoff_s < 0:
        raise ConfigError(f"backoff_s must be >= 0, got {backoff_s!r}.")

    root = (
        Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    ).resolve()
    final_path = root / name
    part_path = root / f"{name}.part"
    downloader = _ResumableDownloader(part_path, timeout_s=timeout_s, progress=progress)
    attempts = retries + 1
    last_error: BaseException | None = None

    for attempt in range(1, attempts + 1):
        wait_s = 0.0
        try:
            with _quiet_pooch():
                local = pooch.retrieve(
                    url,
                    known_hash=f"sha256:{known_hash}" if known_hash else None,
                    fname=name,
                    path=root,
                    downloader=downloader,
                )
            return Path(local)
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if not is_retryable_status(status):
                raise FetchError(_client_error_message(url, exc)) from exc
            wait_s = retry_after_s(exc.response) if exc.response is not None else 0.0
            last_error = exc
        except _NOT_RETRYABLE_REQUEST_ERRORS as exc:
            raise FetchError(
                f"Cannot download {url}: {exc}. Fix: check the URL (scheme, host, "
                "redirects) in the layer catalogue or on the command line."
            ) from exc
        except requests.exceptions.RequestException as exc:
            last_error = exc
        except ValueError as exc:
            # pooch.retrieve raises ValueError when the checksum does not match.
            received = downloader.sha256
            if known_hash is None or received is None or received == known_hash:
                raise FetchError(f"Download of {url} failed: {exc}") from exc
            final_path.unlink(missing_ok=True)
            raise FetchError(_checksum_message(url, known_hash, received)) from exc

        if attempt < attempts:
            delay = max(backoff_s * 2 ** (attempt - 1), wait_s)  # Retry-After is a minimum
            _logger.info(
                "Download of %s failed (%s); retry %d of %d in %.2f s.",
                url,
                describe_failure(last_error, url=url, timeout_s=timeout_s).reason,
                attempt,
                retries,
                delay,
            )
            time.sleep(delay)

    kept = (
        f" The {part_path.stat().st_size} bytes received so far are kept in "
        f"{part_path} and the next call resumes from there."
        if part_path.is_file()
        else ""
    )
    failure = describe_failure(last_error, url=url, timeout_s=timeout_s)
    raise FetchError(
        f"Download of {url} failed after {attempts} attempt(s); last error: "
        f"{failure.reason}.{kept} {failure.fix} Or download the file by hand and save it "
        f"as {final_path}."
    ) from last_error


@contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's INFO messages (they suggest pooch-specific arguments).

    Prospector logs its own messages through the ``prospector.ingest.download`` logger.
    """
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


class _ResumableDownloader:
    """Pooch downloader that resumes ``part_path`` with HTTP ``Range`` requests.

    Implements pooch's downloader protocol
    ``downloader(url, output_file, pooch, check_only=False)``.  The bytes are
    accumulated in ``part_path`` (which survives failures so that the next
    attempt can resume) and moved to ``output_file`` once complete.

    Parameters
    ----------
    part_path : pathlib.Path
        Where partial bytes are kept between attempts.
    timeout_s : float
        Connect and read timeout in seconds.
    progress : bool
        Show a ``tqdm`` progress bar if ``tqdm`` can be imported.

    Attributes
    ----------
    sha256 : str or None
        Hex SHA-256 of the last complete download, for error messages.
    """

    def __init__(
        self,
        part_path: Path,
        *,
        timeout_s: float,
        progress: bool | Callable[[int, int | None], None],
    ) -> None:
        self.part_path = part_path
        self.timeout_s = timeout_s
        self.progress = progress
        self.sha256: str | None = None

    def __call__(
        self,
        url: str,
        output_file: str | IO[bytes],
        pooch: pooch.Pooch | None,
        check_only: bool = False,
    ) -> bool | None:
        """Download ``url`` into ``output_file`` (see class docstring)."""
        with requests.Session() as session:
            session.headers["User-Agent"] = _USER_AGENT
            if check_only:
                with session.head(url, timeout=self.timeout_s, allow_redirects=True) as response:
                    return response.status_code == 200
            _logger.info("Downloading %s to %s", url, self.part_path.with_suffix(""))
            self._download_part(session, url)
        self._deliver(output_file)
        return None

    def _download_part(self, session: requests.Session, url: str) -> None:
        """Complete ``self.part_path`` from ``url``, resuming when possible."""
        self.sha256 = None
        for _ in range(2):  # second round only after discarding a bad partial
            offset = self.part_path.stat().st_size if self.part_path.is_file() else 0
            # Byte ranges refer to the encoded body: ask for no content coding.
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            with session.get(url, headers=headers, stream=True, timeout=self.timeout_s) as response:
                if offset and (
                    response.status_code == 416
                    or (response.status_code == 206 and _content_range_start(response) != offset)
                ):
                    # Stale or unusable partial file: start again from zero.
                    _logger.info("Discarding unusable partial download %s", self.part_path)
                    self.part_path.unlink(missing_ok=True)
                    continue
                response.raise_for_status()
                resume = bool(offset) and response.status_code == 206
                if offset and not resume:
                    _logger.info("Server ignored the Range request; restarting %s", url)
                self._stream(response, offset if resume else 0)
            return
        raise requests.exceptions.ConnectionError(  # pragma: no cover - defensive
            f"server rejected the resume request twice for {url}"
        )

    def _stream(self, response: requests.Response, offset: int) -> None:
        """Write the body of ``response`` to the partial file after ``offset``."""
        hasher = _file_sha256(self.part_path) if offset else hashlib.sha256()
        length = response.headers.get("Content-Length", "")
        total = offset + int(length) if length.isdigit() else None
        report = self.progress if callable(self.progress) else None
        bar = _progress_bar(total, offset, self.part_path.stem) if self.progress is True else None
        received = offset
        try:
            with open(self.part_path, "ab" if offset else "wb") as handle:
                for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                    handle.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    if report is not None:
                        report(received, total)
        except requests.exceptions.RequestException:  # the network (an OSError too)
            if received == 0:
                self.part_path.unlink(missing_ok=True)
            raise
        except OSError as exc:  # writing failed: the disk, not the network
            self.part_path.unlink(missing_ok=True)
            raise _cache_write_error(exc, self.part_path) from exc
        except BaseException:
            if received == 0:  # nothing worth resuming from
                self.part_path.unlink(missing_ok=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        if total is not None and received != total:
            raise requests.exceptions.ChunkedEncodingError(
                f"connection closed after {received} of {total} bytes"
            )
        self.sha256 = hasher.hexdigest()

    def _deliver(self, output_file: str | IO[bytes]) -> None:
        """Move the complete partial file to pooch's ``output_file``."""
        if isinstance(output_file, str | os.PathLike):
            os.replace(self.part_path, output_file)
            return
        with open(self.part_path, "rb") as source:
            shutil.copyfileobj(source, output_file, _CHUNK_BYTES)
        self.part_path.unlink()


def _cache_write_error(exc: OSError, part_path: Path) -> OutputWriteError:
    """Build the clear error for a download that could not be written into the cache."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    what = "the disk is full (or the file grew beyond the size this system allows)"
    if not full:
        what = os.strerror(exc.errno) if exc.errno else str(exc)
    return OutputWriteError(
        f"cannot write the download to {part_path}: {what} ({exc.strerror or exc}). The "
        "partial download was removed. Free some space, or choose another cache folder "
        f"(--cache, or ${CACHE_ENV_VAR})."
    )


def _check_url(url: str) -> None:
    """Raise :class:`ConfigError` unless ``url`` is an absolute HTTP(S) URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"Cannot download {url!r}: expected an absolute http:// or https:// URL. "
            "Fix: correct the URL (other schemes such as ftp:// are not supported)."
        )


def _normalise_sha256(sha256: str | None) -> str | None:
    """Return ``sha256`` as 64 lower-case hex digits, or ``None``."""
    if sha256 is None:
        return None
    value = sha256.strip().lower()
    value = value.removeprefix("sha256:")
    if not _SHA256_RE.match(value):
        raise ConfigError(
            f"Invalid sha256 {sha256!r}: expected 64 hexadecimal digits, optionally "
            "prefixed 'sha256:'. Fix: copy the value printed by `sha256sum FILE`."
        )
    return value


def _cache_name(url: str, filename: str | None) -> str:
    """Return the file name used in the cache for ``url``."""
    if filename is not None:
        if filename in ("", ".", "..") or "/" in filename or "\\" in filename or "\x00" in filename:
            raise ConfigError(
                f"Invalid cache filename {filename!r}: expected a plain file name "
                "without directories. Fix: pass only the base name, e.g. 'sma.zip'."
            )
        return filename
    base = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip("._") or "download"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{digest}-{base}"


def _file_sha256(path: Path) -> hashlib._Hash:
    """Return a SHA-256 hasher fed with the current contents of ``path``."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            hasher.update(block)
    return hasher


def _content_range_start(response: requests.Response) -> int | None:
    """Return the first byte position of a ``Content-Range`` header, if any."""
    match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _progress_bar(total: int | None, initial: int, description: str) -> Any:
    """Return a ``tqdm`` progress bar, or ``None`` when tqdm is not installed."""
    try:
        tqdm_auto = importlib.import_module("tqdm.auto")
    except ImportError:
        _logger.debug("tqdm is not installed; no progress bar")
        return None
    return tqdm_auto.tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        leave=True,
    )


def _client_error_message(url: str, exc: requests.exceptions.HTTPError) -> str:
    """Return the message for a non-retryable HTTP error."""
    failure = describe_failure(exc, url=url, timeout_s=0.0)
    return (
        f"Download of {url} failed: {failure.reason}. Not retried because client errors "
        f"do not go away by themselves. {failure.fix}"
    )


def _checksum_message(url: str, expected: str, received: str) -> str:
    """Return the message for a checksum mismatch."""
    return (
        f"Checksum mismatch for {url}: expected sha256 {expected}, received sha256 "
        f"{received}. The downloaded file was deleted and nothing was cached. Fix: "
        "if the publisher released a new version of the file, check it and update "
        "the expected sha256 (e.g. in the layer catalogue); otherwise the transfer "
        "was corrupted or tampered with - retry later or use another mirror."
    )
