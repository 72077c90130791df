"""Headless Chromium for the map's browser tests and ``benchmarks/map_scale.py``.

Debian's ``chromium`` driven by Playwright (no browser download), with the flags that keep
it quiet offline.  :func:`open_page` records what a page requests and every console error,
page error and dialog, so a test can assert there were none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
]
#: URL schemes of the page itself; anything else is a network request.
LOCAL = ("file:", "data:", "blob:")
#: The map's script sets this when it has drawn the first view.
READY = "window.prospector && window.prospector.ready === true"

#: ``pytestmark`` of a module that drives the browser.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]


def launch(playwright: Any) -> Any:
    """Start headless Chromium with *playwright* (``sync_playwright()``'s object)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def new_context(browser: Any, *, offline: bool = True) -> Any:
    """A 1400×900 browser context; *offline* blocks every request but the page's own."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if offline:
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(LOCAL) else route.abort()
            ),
        )
    return context


@dataclass
class PageLog:
    """What a page did: URLs requested, console errors and warnings, page errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str, *, offline: bool = True, timeout_ms: int = 60_000) -> Any:
    """Open *url* in a new context and wait for the map; the page's :class:`PageLog` is ``page.log``.

    Dialogs are recorded and dismissed.
    """
    page = new_context(browser, offline=offline).new_page()
    log = PageLog()
    page.on("request", lambda r: log.requests.append(r.url))
    page.on(
        "console",
        lambda m: log.errors.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
    page.log = log
    page.goto(url)
    page.wait_for_function(READY, timeout=timeout_ms)
    return page


def open_run_map(browser: Any, result: Any, path: Any, *, detail_limit: int = 50) -> Any:
    """Write the map of a ranking run (*result*: a ``RankResult``) to *path* and open it.

    The map is built as ``prospector rank`` builds it: the run's manifest as header info,
    its scoring for live re-weighting.
    """
    import json

    from prospector.ranking import map_info
    from prospector.ranking.outputs import map_scoring
    from prospector.render import build_map, write_map

    manifest = json.loads(json.dumps(result.manifest()))
    fmap = build_map(
        result.parcels,
        deposits=result.deposits,
        info=map_info(manifest),
        scoring=map_scoring(result),
        detail_limit=detail_limit,
    )
    return open_page(browser, write_map(fmap, path).as_uri())
