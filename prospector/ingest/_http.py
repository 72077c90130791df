"""What went wrong with an HTTP request, in words a user can act on.

Shared by the file downloader (:mod:`prospector.ingest.download`) and the ArcGIS REST
client (:mod:`prospector.ingest.arcgis`).  A failure is sorted into what the user can
tell apart and fix differently: the host name does not resolve (offline, DNS, a typo),
nothing listens at the address (connection refused), no answer in time, the connection
dropped mid-transfer, or the server answered with an HTTP error.  The fixes name only
settings that exist: ``--timeout`` / ``--retries`` of ``prospector layers fetch``, which
are ``timeout_s=`` / ``retries=`` in Python.
"""

from __future__ import annotations

import datetime
import email.utils
import socket
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

import requests

__all__ = [
    "MAX_RETRY_AFTER_S",
    "Failure",
    "describe_failure",
    "is_retryable_status",
    "retry_after_s",
]

_RETRYABLE_CLIENT_STATUS: Final = frozenset({408, 425, 429})
#: Longest wait a server's ``Retry-After`` header may impose (seconds).
MAX_RETRY_AFTER_S: Final = 120.0

FailureKind = Literal["dns", "refused", "timeout", "dropped", "http", "other"]


@dataclass(frozen=True)
class Failure:
    """One failed request: its kind, what happened and what to do."""

    kind: FailureKind
    reason: str
    """What happened, e.g. ``HTTP 503 Service Unavailable`` or ``cannot resolve host x``."""
    fix: str
    """What to do, starting with ``Fix:``."""


def retry_after_s(response: requests.Response) -> float:
    """Return the seconds a ``Retry-After`` header asks to wait (0 when absent or unreadable).

    Both forms of RFC 9110 are read: delay seconds and an HTTP date.  The wait is
    capped at :data:`MAX_RETRY_AFTER_S`.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 0.0
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    delta = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER_S)


def is_retryable_status(status: int | None) -> bool:
    """Return whether an HTTP status may succeed when simply retried (5xx, 408, 425, 429)."""
    return status is not None and (status >= 500 or status in _RETRYABLE_CLIENT_STATUS)


def describe_failure(exc: BaseException | None, *, url: str, timeout_s: float) -> Failure:
    """Sort a failed request (*exc*, raised by :mod:`requests`) into a :class:`Failure`.

    Parameters
    ----------
    exc
        The exception the request raised (the last one, after retries).
    url
        The address asked for (for the host name in messages).
    timeout_s
        The timeout that was in force.
    """
    parts = urlsplit(url)
    host = parts.hostname or url
    if exc is None:
        return Failure("other", "unknown error", _FIX_RETRY)
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        response = exc.response
        return http_failure(response.status_code, response.reason)
    chain = list(_chain(exc))
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        type(e).__name__ == "NameResolutionError" for e in chain
    ):
        return Failure(
            "dns",
            f"cannot resolve the host name {host!r} (no network connection, a DNS problem or "
            "a wrong host name)",
            "Fix: check that this machine is online and its proxy settings (HTTPS_PROXY); if "
            f"it is, check the host name {host!r} in the URL (the catalogue entry's "
            "[download] url).",
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return Failure(
            "refused",
            f"{host} refused the connection on port {port} (nothing is listening there)",
            "Fix: check the host and port in the URL; if they are right, the service is down: "
            "retry later.",
        )
    if any(_is_timeout(e) for e in chain):
        return Failure(
            "timeout",
            f"timed out (no answer within timeout_s={timeout_s:g} s)",
            "Fix: retry later, or wait longer for each answer (`--timeout SECONDS` of "
            "`prospector layers fetch`, timeout_s= in Python).",
        )
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or any(
        isinstance(e, ConnectionResetError) for e in chain
    ):
        return Failure(
            "dropped",
            "the connection dropped before the whole reply arrived",
            "Fix: retry (more attempts: `--retries N` of `prospector layers fetch`, "
            "retries= in Python); if it keeps happening, check the network or proxy.",
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Failure("other", f"connection failed ({exc})", _FIX_RETRY)
    return Failure("other", f"{type(exc).__name__}: {exc}", _FIX_RETRY)


def http_failure(status: int, reason: str | None) -> Failure:
    """Return the :class:`Failure` of an HTTP error status."""
    text = f"HTTP {status} {reason or ''}".rstrip()
    if is_retryable_status(status):
        return Failure(
            "http",
            text,
            "Fix: the server is failing or overloaded: retry later, or with more attempts "
            "(`--retries N` of `prospector layers fetch`, retries= in Python).",
        )
    return Failure(
        "http",
        text,
        "Fix: check the URL (the publisher may have moved or renamed the data; update the "
        "catalogue entry's [download] url) and whether the server needs authentication.",
    )


_FIX_RETRY: Final = (
    "Fix: check the network connection and proxy settings, then retry later or with more "
    "attempts (`--retries N` of `prospector layers fetch`, retries= in Python)."
)


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and every exception it wraps (``__cause__``/``__context__``/urllib3's reason)."""
    out: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in out):
            continue
        out.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return out


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError | socket.timeout):
        return True
    name = type(exc).__name__.lower()
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: judge by name and text.
    return ("timeout" in name and "newconnection" not in name) or "timed out" in str(exc).lower()
