"""(Re)build ``prospector/render/static`` from npm packages.

The offline map never loads anything from the network: every third-party
JavaScript and CSS file it uses is copied here from a pinned npm package,
together with the package's licence.  Run from the repository root::

    python tools/vendor_assets.py

It needs ``npm`` (only ``npm pack``, which downloads the package tarball from the
registry) and rewrites the vendored files plus the version table in
``prospector/render/static/README.md``.  Our own files (``prospector-map.*``)
are left alone.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "prospector" / "render" / "static"

#: npm package -> (version, licence, {file in package: file in static/})
PACKAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "leaflet": (
        "1.9.4",
        "BSD-2-Clause",
        {
            "package/dist/leaflet.js": "leaflet.js",
            "package/dist/leaflet.css": "leaflet.css",
            "package/LICENSE": "LICENSE-leaflet.txt",
        },
    ),
    "leaflet.markercluster": (
        "1.5.3",
        "MIT",
        {
            "package/dist/leaflet.markercluster.js": "leaflet.markercluster.js",
            "package/dist/MarkerCluster.css": "MarkerCluster.css",
            "package/dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
            "package/MIT-LICENCE.txt": "LICENSE-leaflet.markercluster.txt",
        },
    ),
}

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif"}


def _inline_css_images(css: str, base: Path) -> str:
    """Replace ``url(images/x.png)`` in *css* by data URIs so the CSS stands alone."""

    def repl(match: re.Match[str]) -> str:
        ref = match.group(1).strip("'\"")
        path = base / ref
        if ref.startswith("data:") or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'url("data:{_MIME[path.suffix]};base64,{data}")'

    return re.sub(r"url\(([^)]+)\)", repl, css)


def _vendor(name: str, version: str, files: dict[str, str], work: Path) -> None:
    subprocess.run(
        ["npm", "pack", "--silent", f"{name}@{version}"], cwd=work, check=True, capture_output=True
    )
    tgz = next(work.glob(f"{name}-{version}.tgz"))
    root = work / name
    with tarfile.open(tgz) as tar:
        tar.extractall(root, filter="data")
    for src, dest in files.items():
        path = root / src
        if dest.endswith(".css"):
            text = _inline_css_images(path.read_text(encoding="utf-8"), path.parent)
            (STATIC / dest).write_text(text, encoding="utf-8")
        elif dest.endswith(".js"):
            # Drop the source-map comment: the map files are not vendored, and the
            # browser must not try to fetch them.
            text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", path.read_text(encoding="utf-8"))
            (STATIC / dest).write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, STATIC / dest)
    print(f"vendored {name} {version}")


def _write_readme() -> None:
    rows = "\n".join(
        f"| `{name}` | {version} | npm | {licence} | "
        + ", ".join(f"`{d}`" for d in files.values())
        + " |"
        for name, (version, licence, files) in PACKAGES.items()
    )
    (STATIC / "README.md").write_text(
        f"""# Vendored map assets

Everything the offline map (`prospects.html`) loads is in this folder, so the page makes no
network request. Third-party files are copied unmodified from the npm packages below by
`tools/vendor_assets.py`, except that the images referenced by the CSS files are inlined as
`data:` URIs (so the CSS also works when it is inlined into a single HTML file) and the
`//# sourceMappingURL` comment is removed from the JavaScript files (source maps are not vendored).

| package | version | registry | licence | files |
| --- | --- | --- | --- | --- |
{rows}
| Prospector's map code | - | - | BSD-3-Clause | `prospector-map.js`, `prospector-map.css` |

Licence texts are the `LICENSE-*.txt` files beside them. To update, change the versions in
`tools/vendor_assets.py`, run `python tools/vendor_assets.py` and re-run the browser tests
(`pytest -m browser tests/test_map_browser.py`).
""",
        encoding="utf-8",
    )


def main() -> int:
    """Download, copy and document every vendored asset."""
    STATIC.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, _licence, files) in PACKAGES.items():
            _vendor(name, version, files, Path(tmp))
    _write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
